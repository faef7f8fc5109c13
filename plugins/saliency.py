"""Saliency (Simonyan et al., 2014): the gradient of the score w.r.t. each token embedding.

The score of a token is the L2 norm of its gradient by default (unsigned): the raw gradient has no
sign relative to the input, and its sum over the hidden size is ~0 in models that normalise the
embeddings first (BERT). For signed scores use input_x_gradient, or pass reduction="sum".
"""

from interpreto_core.plugin import AttributionRecipe, hookimpl


@hookimpl
def interpreto_register_attribution(register):
    register(
        AttributionRecipe(gradient_method="plain", aggregator="weighted_mean", defaults={"reduction": "norm"}),
        name="saliency",
        summary="Saliency: gradient of the score w.r.t. the embeddings (1 forward+backward).",
        reference="Simonyan et al., Deep Inside Convolutional Networks, ICLR workshop 2014",
    )

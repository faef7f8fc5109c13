"""Saliency (Simonyan et al., 2014): the gradient of the score w.r.t. each token embedding."""

from interpreto_core import AttributionRecipe, hookimpl


@hookimpl
def interpreto_register_attribution(register):
    register(
        AttributionRecipe(gradient_method="plain", aggregator="weighted_mean"),
        name="saliency",
        summary="Saliency: gradient of the score w.r.t. the embeddings (1 forward+backward).",
        reference="Simonyan et al., Deep Inside Convolutional Networks, ICLR workshop 2014",
    )

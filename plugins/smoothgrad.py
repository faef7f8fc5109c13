"""SmoothGrad (Smilkov et al., 2017): gradients averaged over noisy copies of the input.

Like saliency, the token score is the L2 norm of the averaged gradient by default.
"""

from interpreto_core.plugin import AttributionRecipe, hookimpl


@hookimpl
def interpreto_register_attribution(register):
    register(
        AttributionRecipe(gradient_method="noise", aggregator="weighted_mean", defaults={"reduction": "norm"}),
        name="smoothgrad",
        summary="SmoothGrad: mean gradient over n_samples noisy inputs.",
        reference="Smilkov et al., SmoothGrad: removing noise by adding noise, arXiv:1706.03825, 2017",
    )

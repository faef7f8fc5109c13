"""SmoothGrad (Smilkov et al., 2017): gradients averaged over noisy copies of the input."""

from interpreto_core import AttributionRecipe, hookimpl


@hookimpl
def interpreto_register_attribution(register):
    register(
        AttributionRecipe(gradient_method="noise", aggregator="weighted_mean"),
        name="smoothgrad",
        summary="SmoothGrad: mean gradient over n_samples noisy inputs.",
        reference="Smilkov et al., SmoothGrad: removing noise by adding noise, arXiv:1706.03825, 2017",
    )

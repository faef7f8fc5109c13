"""VarGrad (Adebayo et al., 2018): variance of gradients over noisy copies of the input."""

from interpreto_core.plugin import AttributionRecipe, hookimpl


@hookimpl
def interpreto_register_attribution(register):
    register(
        AttributionRecipe(gradient_method="noise", aggregator="variance"),
        name="vargrad",
        summary="VarGrad: variance of the gradient over n_samples noisy inputs (>= 0).",
        reference="Adebayo et al., Local Explanation Methods for Deep Neural Networks Lack Sensitivity to "
        "Parameter Values, ICLR workshop 2018",
    )

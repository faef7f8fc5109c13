"""SquareGrad (Hooker et al., 2019): mean squared gradient over noisy copies of the input."""

from interpreto_core.plugin import AttributionRecipe, hookimpl


@hookimpl
def interpreto_register_attribution(register):
    register(
        AttributionRecipe(gradient_method="noise", aggregator="square_mean"),
        name="squaregrad",
        summary="SquareGrad: mean squared gradient over n_samples noisy inputs (>= 0).",
        reference="Hooker et al., A Benchmark for Interpretability Methods in Deep Neural Networks, NeurIPS 2019",
    )

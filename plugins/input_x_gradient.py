"""Input x Gradient (Shrikumar et al., 2016): gradient times the embedding, summed over the hidden size."""

from interpreto_core.plugin import AttributionRecipe, hookimpl


@hookimpl
def interpreto_register_attribution(register):
    register(
        AttributionRecipe(gradient_method="plain", aggregator="weighted_mean", defaults={"multiply_by_inputs": True}),
        name="input_x_gradient",
        summary="Input x Gradient: embedding times its gradient (1 forward+backward).",
        reference="Shrikumar et al., Not Just a Black Box, arXiv:1605.01713, 2016",
    )

"""Layer attribution (captum's Layer* family, inseq's ``layer_*``): gradient methods at a split point.

Any gradient method takes ``layer=`` (a block index, ``-1`` the last, or a module path of
``model.named_modules()``: the split points of the concepts); these recipes set it by default
(``layer=0``: the first block's output) under the names users know from captum and inseq.

- ``layer_integrated_gradients``: LIG_j = (h_j(x) - h_j(b)) * integral_0^1 dF(h(b) + a (h(x) - h(b))) / dh_j da,
  h the layer's output, b the baseline input (Sundararajan et al. 2017; captum
  ``LayerIntegratedGradients``). Completeness at the layer: sum_j LIG_j = F(x) - F(b).
- ``layer_gradient_x_activation``: h_j(x) * dF/dh_j(x) (captum ``LayerGradientXActivation``).

Scores per element: the attributions of the layer's units summed over the hidden dimension
(``reduction=``) and over the element's tokens; ``layer_units=True`` keeps the ``(T, L, H)``
attributions in ``extras["layer_attributions"]``. The engine side is ``interpreto_core._layers``.
"""

from interpreto_core.plugin import AttributionRecipe, hookimpl


@hookimpl
def interpreto_register_attribution(register):
    register(
        AttributionRecipe(gradient_method="straight_line", aggregator="weighted_mean", defaults={"layer": 0}),
        name="layer_integrated_gradients",
        summary="Integrated Gradients at a layer's output (layer=: block index or module path; default 0), as captum's "
                "LayerIntegratedGradients (n_steps forward+backward rows, plus 2 rows for the layer's endpoints).",
        reference="Sundararajan et al., Axiomatic Attribution for Deep Networks, ICML 2017 (captum "
                  "LayerIntegratedGradients)",
    )
    register(
        AttributionRecipe(gradient_method="plain", aggregator="weighted_mean",
                          defaults={"layer": 0, "multiply_by_inputs": True}),
        name="layer_gradient_x_activation",
        summary="Gradient x activation at a layer's output (layer=: block index or module path; default 0), as "
                "captum's LayerGradientXActivation (1 forward+backward row, plus 2 rows for the layer's endpoints).",
        reference="Shrikumar et al., Not Just a Black Box, arXiv:1605.01713, 2016 (captum LayerGradientXActivation)",
    )

"""GradientSHAP (Lundberg & Lee, 2017; as in captum): expected gradients with noisy inputs.

For k = 1..n_samples: a_k ~ U(0, 1), x_k = x + eps_k (eps_k ~ N(0, sigma^2), sigma relative to
the input range), point b + a_k (x_k - b), multiplier x_k - b. The mean of gradient x
multiplier approximates SHAP values; without noise, its expectation satisfies completeness.
"""

from __future__ import annotations

from interpreto_core.plugin import AttributionRecipe, GradientPlan, hookimpl
from interpreto_plugins._checks import count, number


class BaselineDistribution:
    """Random points between the baseline and noisy copies of the input."""

    def __init__(self, n_samples: int = 20, noise_level: float = 0.0) -> None:
        self.n_samples = count("baseline_distribution", "n_samples", n_samples)
        self.noise_level = number("baseline_distribution", "noise_level", noise_level)

    def plan(self, inputs, baseline, *, generator) -> GradientPlan:
        import torch

        sigma = self.noise_level * float(inputs.max() - inputs.min())
        noise = torch.randn((self.n_samples, *inputs.shape), generator=generator).to(inputs.device, inputs.dtype)
        alphas = torch.rand((self.n_samples, 1, 1), generator=generator).to(inputs.device, inputs.dtype)
        noisy = inputs[None] + sigma * noise
        diff = noisy - baseline[None]
        return GradientPlan(
            points=baseline[None] + alphas * diff,
            weights=torch.full((self.n_samples,), 1.0 / self.n_samples),
            multipliers=diff,
        )


@hookimpl
def interpreto_register_gradient_method(register):
    register(BaselineDistribution, name="baseline_distribution", summary="Random points on noisy baseline paths.")


@hookimpl
def interpreto_register_attribution(register):
    register(
        AttributionRecipe(gradient_method="baseline_distribution", aggregator="weighted_mean"),
        name="gradient_shap",
        summary="GradientSHAP: expected gradient x (input - baseline) at random path points.",
        reference="Lundberg & Lee, A Unified Approach to Interpreting Model Predictions, NeurIPS 2017",
    )

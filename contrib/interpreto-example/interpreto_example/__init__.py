"""An example third-party plugin.

It registers one part of its own, a ``bernoulli`` perturbator (each element kept independently
with probability ``keep_probability``), and one attribution method, ``bernoulli_lime``, that mixes
it with the built-in ``lime_regression`` aggregator of another plugin.
"""

from __future__ import annotations

import numpy as np

from interpreto_core.plugin import AttributionRecipe, PerturbationPlan, hookimpl


class BernoulliMasks:
    """The original input, then ``n_samples - 1`` masks keeping each element with probability p."""

    def __init__(self, n_samples: int = 100, keep_probability: float = 0.5) -> None:
        if not 0.0 < keep_probability < 1.0:
            raise ValueError(f"keep_probability must be in (0, 1), got {keep_probability}")
        self.n_samples, self.keep_probability = n_samples, keep_probability

    def plan(self, n_elements: int, *, rng: np.random.Generator) -> PerturbationPlan:
        masks = (rng.random((self.n_samples, n_elements)) < self.keep_probability).astype(np.float64)
        masks[0] = 1.0
        return PerturbationPlan(masks=masks)


@hookimpl
def interpreto_register_perturbator(register):
    register(BernoulliMasks, name="bernoulli", summary="Each element kept independently with probability p.")


@hookimpl
def interpreto_register_attribution(register):
    register(
        AttributionRecipe(perturbator="bernoulli", aggregator="lime_regression"),
        name="bernoulli_lime",
        summary="Bernoulli masks + LIME's weighted ridge regression (mixes two plugins).",
    )

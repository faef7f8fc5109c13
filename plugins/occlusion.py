"""Occlusion (Zeiler & Fergus, 2014): the score drop when one element is masked.

score_e = f(x) - f(x with element e replaced by the baseline)
"""

from __future__ import annotations

import numpy as np

from interpreto_core.plugin import AttributionRecipe, PerturbationPlan, hookimpl


class OcclusionMasks:
    """The full input, then one mask per element with that element removed."""

    def plan(self, n_elements: int, *, rng: np.random.Generator) -> PerturbationPlan:
        masks = np.vstack([np.ones((1, n_elements)), 1.0 - np.eye(n_elements)])
        return PerturbationPlan(masks=masks)


class Difference:
    """f(full input) - f(input without element e), for the masks of ``OcclusionMasks``."""

    input = "perturbation"

    def aggregate(self, plan: PerturbationPlan, outputs: np.ndarray) -> np.ndarray:
        return (outputs[0][None, :] - outputs[1:]).T


@hookimpl
def interpreto_register_perturbator(register):
    register(OcclusionMasks, name="occlusion", summary="Full input plus one mask per element removed.")


@hookimpl
def interpreto_register_aggregator(register):
    register(Difference, name="difference", summary="Score of the full input minus the score with element e removed.")


@hookimpl
def interpreto_register_attribution(register):
    register(
        AttributionRecipe(perturbator="occlusion", aggregator="difference"),
        name="occlusion",
        summary="Occlusion: score drop when each element is masked (exact, n_elements + 1 forwards).",
        reference="Zeiler & Fergus, Visualizing and Understanding Convolutional Networks, ECCV 2014",
    )

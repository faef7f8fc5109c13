"""Insertion (Petsiuk et al., 2018, RISE): area under the target score as elements are inserted.

Start from the input with every element replaced by the baseline, insert elements in decreasing
attribution order and read the target score p_k after k insertions:

    insertion = integral_0^1 p(k / n) d(k / n)   (trapezoid rule)

A faithful attribution brings the score back quickly: higher is better.
"""

from __future__ import annotations

import numpy as np

from interpreto_core import hookimpl
from interpreto_core.metrics import CurveMetric, area, check_n_steps, curve_steps


class Insertion(CurveMetric):
    """Area under the insertion curve (higher is better).

    Parameters
    ----------
    n_steps:
        Points on the curve besides the start: ``None`` (default) inserts one element at a time;
        an integer spreads that many steps evenly (long texts).
    n_random, seed, baseline, mode, batch_size, progress:
        See :class:`interpreto_core.metrics.CurveMetric`.
    """

    name = "insertion"
    higher_is_better = True

    def __init__(
        self,
        *,
        n_steps: int | None = None,
        n_random: int = 1,
        seed: int = 0,
        baseline: str = "auto",
        mode: str = "softmax",
        batch_size: int = 64,
        progress: bool | None = None,
    ) -> None:
        check_n_steps(n_steps)
        super().__init__(n_random=n_random, seed=seed, baseline=baseline, mode=mode, batch_size=batch_size,
                         progress=progress)
        self.n_steps = n_steps

    @property
    def parameters(self) -> dict:
        return super().parameters | {"n_steps": self.n_steps}

    def masks_for(self, order: np.ndarray, visible: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        ks = curve_steps(len(order), self.n_steps)
        masks = np.tile(np.where(visible, 0.0, 1.0), (len(ks), 1))
        for r, k in enumerate(ks):
            masks[r, order[:k]] = 1.0
        return masks, ks / len(order)

    def reduce(self, x: np.ndarray, curve: np.ndarray, full: float) -> float:
        return area(x, curve)


@hookimpl
def interpreto_register_metric(register):
    register(
        Insertion,
        name="insertion",
        summary="Area under the target score as elements are inserted in attribution order (higher is better).",
        reference="Petsiuk et al., RISE: Randomized Input Sampling for Explanation of Black-box Models, BMVC 2018",
    )

"""Sufficiency (DeYoung et al., 2020, ERASER), as an AOPC over top-k% inputs.

For each fraction b in B = {1, 5, 10, 20, 50 %}, keep only the k_b = ceil(b n) top-scored
elements (replace the others by the baseline) and measure the drop of the target score:

    sufficiency = 1/|B| sum_b [ p(x) - p(top k_b elements of x only) ]

The top elements alone should keep the prediction: lower is better.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from interpreto_core import hookimpl
from interpreto_core.metrics import CurveMetric, check_fractions, top_k_counts

ERASER_FRACTIONS = (0.01, 0.05, 0.1, 0.2, 0.5)


class Sufficiency(CurveMetric):
    """ERASER sufficiency, AOPC over top-k% kept inputs (lower is better).

    Parameters
    ----------
    fractions:
        The top-k fractions averaged over (ERASER's 1, 5, 10, 20, 50 % by default).
    n_random, seed, baseline, mode, batch_size, progress:
        See :class:`interpreto_core.metrics.CurveMetric`.
    """

    name = "sufficiency"
    higher_is_better = False

    def __init__(
        self,
        *,
        fractions: Sequence[float] = ERASER_FRACTIONS,
        n_random: int = 1,
        seed: int = 0,
        baseline: str = "auto",
        mode: str = "softmax",
        batch_size: int = 64,
        progress: bool | None = None,
    ) -> None:
        self.fractions = check_fractions(fractions)
        super().__init__(n_random=n_random, seed=seed, baseline=baseline, mode=mode, batch_size=batch_size,
                         progress=progress)

    @property
    def parameters(self) -> dict:
        return super().parameters | {"fractions": list(self.fractions)}

    def masks_for(self, order: np.ndarray, visible: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        ks = top_k_counts(len(order), self.fractions)
        masks = np.tile(np.where(visible, 0.0, 1.0), (len(ks), 1))
        for r, k in enumerate(ks):
            masks[r, order[:k]] = 1.0
        return masks, np.array(self.fractions)

    def reduce(self, x: np.ndarray, curve: np.ndarray, full: float) -> float:
        return float(np.mean(full - curve))


@hookimpl
def interpreto_register_metric(register):
    register(
        Sufficiency,
        name="sufficiency",
        summary="ERASER: mean score drop when only the top 1/5/10/20/50 % elements are kept (lower is better).",
        reference="DeYoung et al., ERASER: A Benchmark to Evaluate Rationalized NLP Models, ACL 2020",
    )

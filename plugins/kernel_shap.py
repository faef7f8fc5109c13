"""KernelSHAP (Lundberg & Lee, 2017): Shapley values as a weighted linear regression.

Coalitions z are weighted by the Shapley kernel  pi(z) = (M - 1) / (C(M, |z|) |z| (M - |z|)),
and the regression is constrained by efficiency:  sum_i phi_i = f(x) - f(empty).
With ``n_samples >= 2**M`` every coalition is enumerated and the result is the exact Shapley
value; otherwise coalitions are drawn from the kernel distribution (sizes with probability
proportional to (M - 1) / (|z| (M - |z|)), paired with their complements) and weighted equally.
"""

from __future__ import annotations

import itertools
import math

import numpy as np

from interpreto_core import AttributionRecipe, InputError, PerturbationPlan, hookimpl


def shapley_kernel(n_elements: int, size: np.ndarray) -> np.ndarray:
    m = n_elements
    return (m - 1) / (np.array([math.comb(m, int(s)) for s in size]) * size * (m - size))


class ShapleyCoalitions:
    """Full input, empty input, then coalitions (enumerated, or sampled from the Shapley kernel)."""

    def __init__(self, n_samples: int = 200) -> None:
        if not isinstance(n_samples, int) or n_samples < 2:
            raise InputError(f"kernel_shap needs n_samples >= 2, got {n_samples!r}")
        self.n_samples = n_samples

    def plan(self, n_elements: int, *, rng: np.random.Generator) -> PerturbationPlan:
        m = n_elements
        ends = np.vstack([np.ones(m), np.zeros(m)])
        if m == 1 or 2**m <= self.n_samples:
            coalitions = np.array([c for c in itertools.product((0.0, 1.0), repeat=m) if 0 < sum(c) < m])
            coalitions = coalitions.reshape(-1, m)
            weights = shapley_kernel(m, coalitions.sum(axis=1)) if len(coalitions) else np.zeros(0)
            return PerturbationPlan(masks=np.vstack([ends, coalitions]), info={"weights": weights, "exact": True})
        if self.n_samples < m + 2:
            raise InputError(
                f"kernel_shap needs n_samples >= n_elements + 2 = {m + 2} for {m} elements (got {self.n_samples}); "
                "raise n_samples or use a coarser granularity"
            )
        n_pairs = (self.n_samples - 2) // 2
        sizes = np.arange(1, m)
        p = (m - 1) / (sizes * (m - sizes))
        drawn = rng.choice(sizes, size=n_pairs, p=p / p.sum())
        half = np.zeros((n_pairs, m))
        for row, s in enumerate(drawn):
            half[row, rng.choice(m, size=s, replace=False)] = 1.0
        rows = [half, 1.0 - half]
        if (self.n_samples - 2) % 2:
            extra = np.zeros((1, m))
            extra[0, rng.choice(m, size=rng.choice(sizes, p=p / p.sum()), replace=False)] = 1.0
            rows.append(extra)
        coalitions = np.vstack(rows)
        return PerturbationPlan(
            masks=np.vstack([ends, coalitions]), info={"weights": np.ones(len(coalitions)), "exact": False}
        )


class ShapleyRegression:
    """Weighted least squares under the efficiency constraint (rows 0 and 1: full and empty input)."""

    input = "perturbation"

    def aggregate(self, plan: PerturbationPlan, outputs: np.ndarray) -> np.ndarray:
        masks = plan.masks[2:].astype(np.float64)
        f_full, f_empty = outputs[0], outputs[1]
        delta = f_full - f_empty  # (T,)
        m = plan.masks.shape[1]
        if m == 1:
            return delta[:, None]
        w = np.asarray(plan.info["weights"], dtype=np.float64)
        y = outputs[2:] - f_empty[None, :] - masks[:, -1:] * delta[None, :]  # (N, T)
        x = masks[:, :-1] - masks[:, -1:]  # (N, M-1)
        sw = np.sqrt(w)[:, None]
        phi_head = np.linalg.lstsq(x * sw, y * sw, rcond=None)[0]  # (M-1, T)
        phi_last = delta[None, :] - phi_head.sum(axis=0, keepdims=True)
        return np.vstack([phi_head, phi_last]).T


@hookimpl
def interpreto_register_perturbator(register):
    register(ShapleyCoalitions, name="kernel_shap", summary="Coalitions from the Shapley kernel (exact below 2**M).")


@hookimpl
def interpreto_register_aggregator(register):
    register(
        ShapleyRegression, name="shapley_regression", summary="Kernel-weighted least squares with efficiency."
    )


@hookimpl
def interpreto_register_attribution(register):
    register(
        AttributionRecipe(perturbator="kernel_shap", aggregator="shapley_regression"),
        name="kernel_shap",
        summary="KernelSHAP: Shapley values by kernel-weighted regression; scores sum to f(x) - f(empty).",
        reference="Lundberg & Lee, A Unified Approach to Interpreting Model Predictions, NeurIPS 2017",
    )

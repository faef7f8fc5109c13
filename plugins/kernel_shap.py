"""KernelSHAP (Lundberg & Lee, 2017): Shapley values as a weighted linear regression.

Coalitions z are weighted by the Shapley kernel  pi(z) = (M - 1) / (C(M, |z|) |z| (M - |z|)),
and the regression is constrained by efficiency:  sum_i phi_i = f(x) - f(empty).
With ``n_samples >= 2**M`` every coalition is enumerated and the result is the exact Shapley
value; otherwise whole coalition sizes are enumerated while the budget allows and the remaining
sizes are sampled from the kernel distribution (probability proportional to
(M - 1) / (|z| (M - |z|)), paired with their complements), as the shap library does.
"""

from __future__ import annotations

import itertools
import math

import numpy as np

from interpreto_core.plugin import AttributionRecipe, InputError, PerturbationPlan, hookimpl
from interpreto_plugins._checks import count
from interpreto_plugins._sampling import subset_masks


def shapley_kernel(n_elements: int, size: np.ndarray) -> np.ndarray:
    m = n_elements
    return (m - 1) / (np.array([math.comb(m, int(s)) for s in size]) * size * (m - size))


class ShapleyCoalitions:
    """Full input, empty input, then coalitions: whole sizes enumerated while the budget allows
    (smallest and largest sizes first, where the kernel puts most weight), the rest sampled from
    the kernel distribution over the remaining sizes (in complementary pairs), as shap does."""

    def __init__(self, n_samples: int = 200) -> None:
        self.n_samples = count("kernel_shap", "n_samples", n_samples, 2)

    def plan(self, n_elements: int, *, rng: np.random.Generator) -> PerturbationPlan:
        m = n_elements
        ends = np.vstack([np.ones(m), np.zeros(m)])
        if m == 1:
            return PerturbationPlan(masks=ends, info={"weights": np.zeros(0), "exact": True})
        if self.n_samples < m + 2 and 2**m > self.n_samples:
            raise InputError(
                f"kernel_shap needs n_samples >= n_elements + 2 = {m + 2} for {m} elements (got {self.n_samples}); "
                "raise n_samples or use a coarser granularity"
            )
        budget = self.n_samples - 2
        rows, weights = [], []
        remaining = list(range(1, m))
        for s in range(1, m // 2 + 1):
            sizes = sorted({s, m - s})
            count = sum(math.comb(m, k) for k in sizes)
            if count > budget:
                break
            for k in sizes:
                for subset in itertools.combinations(range(m), k):
                    z = np.zeros(m)
                    z[list(subset)] = 1.0
                    rows.append(z)
                    weights.append(shapley_kernel(m, np.array([k]))[0])
                remaining.remove(k)
            budget -= count
        exact = not remaining
        if remaining and budget > 0:
            sizes = np.array(remaining)
            mass = (m - 1) / (sizes * (m - sizes))  # kernel weight of all coalitions of each size
            drawn = rng.choice(sizes, size=(budget + 1) // 2, p=mass / mass.sum())
            z = subset_masks(drawn, m, rng=rng)
            sampled = np.stack([z, 1.0 - z], axis=1).reshape(-1, m)[:budget]  # each coalition and its complement
            rows += list(sampled)
            weights += [mass.sum() / len(sampled)] * len(sampled)
        masks = np.vstack([ends, *rows]) if rows else ends
        return PerturbationPlan(masks=masks, info={"weights": np.array(weights), "exact": exact})


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

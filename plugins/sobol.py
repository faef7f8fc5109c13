"""Sobol attribution (Fel et al., 2021): variance-based sensitivity of the score to each element.

Two quasi-random designs A, B in [0, 1]^M (each mask value interpolates an element between the
baseline and itself) and the M mixed designs AB_i (A with column i from B) give, per element,
the total-order index (Jansen, 1999)   ST_i = E[(f(A) - f(AB_i))^2] / (2 Var f)
and the first-order index (Saltelli et al., 2010)   S_i = E[f(B) (f(AB_i) - f(A))] / Var f.
Cost: n_samples * (M + 2) forwards.
"""

from __future__ import annotations

import numpy as np

from interpreto_core.plugin import AttributionRecipe, InputError, PerturbationPlan, hookimpl
from interpreto_plugins._checks import count

SAMPLERS = ("sobol", "halton", "latin_hypercube")


class SobolDesign:
    """Saltelli design (A, B, AB_1..AB_M) drawn with a scrambled Sobol, Halton or Latin-hypercube sampler."""

    def __init__(self, n_samples: int = 32, sampler: str = "sobol") -> None:
        if sampler not in SAMPLERS:
            raise InputError(f"unknown sampler {sampler!r}; choose one of {', '.join(SAMPLERS)}")
        self.n_samples, self.sampler = count("sobol", "n_samples", n_samples, 2), sampler

    def plan(self, n_elements: int, *, rng: np.random.Generator) -> PerturbationPlan:
        import warnings

        from scipy.stats import qmc

        m, n = n_elements, self.n_samples
        engine = {"sobol": qmc.Sobol, "halton": qmc.Halton, "latin_hypercube": qmc.LatinHypercube}[self.sampler]
        with warnings.catch_warnings():  # Sobol balance warning for n not a power of two
            warnings.simplefilter("ignore", UserWarning)
            design = engine(d=2 * m, rng=rng).random(n)
        a, b = design[:, :m], design[:, m:]
        mixed = []
        for i in range(m):
            ab = a.copy()
            ab[:, i] = b[:, i]
            mixed.append(ab)
        return PerturbationPlan(masks=np.vstack([a, b, *mixed]), info={"n": n})


class SobolIndices:
    """Total-order (Jansen) or first-order (Saltelli 2010) Sobol indices from a Saltelli design."""

    input = "perturbation"

    def __init__(self, order: str = "total") -> None:
        if order not in ("total", "first"):
            raise InputError(f"order must be 'total' or 'first', got {order!r}")
        self.order = order

    def aggregate(self, plan: PerturbationPlan, outputs: np.ndarray) -> np.ndarray:
        n = plan.info["n"]
        m = plan.masks.shape[1]
        f_a, f_b = outputs[:n], outputs[n : 2 * n]
        f_ab = outputs[2 * n :].reshape(m, n, -1)  # (M, N, T)
        var = np.var(np.concatenate([f_a, f_b]), axis=0)  # (T,)
        if self.order == "total":
            num = 0.5 * np.mean((f_a[None] - f_ab) ** 2, axis=1)  # (M, T)
        else:
            num = np.mean(f_b[None] * (f_ab - f_a[None]), axis=1)
        return np.divide(num, var, out=np.zeros_like(num), where=var > 0).T


@hookimpl
def interpreto_register_perturbator(register):
    register(SobolDesign, name="sobol", summary="Saltelli design from scipy.stats.qmc (Sobol, Halton, LHS).")


@hookimpl
def interpreto_register_aggregator(register):
    register(SobolIndices, name="sobol_indices", summary="Total-order (Jansen) or first-order (Saltelli) indices.")


@hookimpl
def interpreto_register_attribution(register):
    register(
        AttributionRecipe(perturbator="sobol", aggregator="sobol_indices"),
        name="sobol",
        summary="Sobol: variance-based total-order indices (n_samples * (n_elements + 2) forwards).",
        reference="Fel et al., Look at the Variance! Efficient Black-box Explanations with Sobol-based "
        "Sensitivity Analysis, NeurIPS 2021",
    )

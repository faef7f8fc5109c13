"""Banzhaf values by maximum sample reuse (Banzhaf 1965; Wang & Jia, "Data Banzhaf: A Robust Data
Valuation Framework for Machine Learning", AISTATS 2023).

beta_i = 2^-(E-1) sum_{S ⊆ N \\ {i}} [f(S + {i}) - f(S)]
       = E_S[f(S) | i in S] - E_S[f(S) | i not in S],   S uniform over the 2^E coalitions

(``f(S)``: the score with the elements of S kept, the others replaced by the baseline). The
maximum-sample-reuse (MSR) estimator draws coalitions uniformly (each element kept with
probability 1/2) and uses every draw for every element: beta_i = mean f over the draws that keep
i minus mean f over those that drop it. Draws come in complementary pairs (S and N \\ S), so every
element has exactly as many draws with as without it. When 2^E <= n_samples every coalition is
enumerated and the value is exact.

Why it is here (none of captum, inseq, shap or interpreto has it): among the semivalues (Shapley,
Banzhaf, Beta-Shapley) Banzhaf's ranking is the most robust to noise in the scores it reads (the
largest "safety margin", Wang & Jia 2023) — the situation of attributions on fp16 / quantised
models, sampled outputs, or near-tied classes — and MSR reuses every forward pass for all
elements, where permutation sampling pays E passes per order. Unlike Shapley values the scores
do not sum to f(x) - f(empty).
"""

from __future__ import annotations

import numpy as np

from interpreto_core.plugin import AttributionRecipe, InputError, PerturbationPlan, hookimpl
from interpreto_plugins._checks import count

#: exact enumeration is never tried above this many elements (2**20 rows)
MAX_EXACT_ELEMENTS = 20


class UniformCoalitions:
    """``n_samples`` uniform coalitions in complementary pairs (all 2^E when that is fewer)."""

    def __init__(self, n_samples: int = 200) -> None:
        self.n_samples = count("uniform_coalitions", "n_samples", n_samples, minimum=2)  # one complementary pair

    def plan(self, n_elements: int, *, rng: np.random.Generator) -> PerturbationPlan:
        if n_elements <= MAX_EXACT_ELEMENTS and 2**n_elements <= self.n_samples:
            codes = np.arange(2**n_elements)[:, None]
            masks = (codes >> np.arange(n_elements)[None, :]) & 1
            return PerturbationPlan(masks=masks.astype(np.float32),
                                    info={"extras": {"exact": True, "n_samples": int(2**n_elements)}})
        half = self.n_samples // 2
        drawn = rng.random((half, n_elements)) < 0.5
        masks = np.concatenate([drawn, ~drawn]).astype(np.float32)
        return PerturbationPlan(masks=masks, info={"extras": {"exact": False, "n_samples": int(2 * half)}})


class BanzhafMSR:
    """beta_i = mean f over the rows keeping i - mean f over the rows dropping i (every row, every element)."""

    input = "perturbation"

    def aggregate(self, plan: PerturbationPlan, outputs: np.ndarray) -> np.ndarray:
        keep = np.asarray(plan.masks, dtype=np.float64) > 0.5  # (R, E)
        f = np.asarray(outputs, dtype=np.float64)  # (R, T)
        n_in, n_out = keep.sum(0), (~keep).sum(0)
        if (n_in == 0).any() or (n_out == 0).any():
            raise InputError("banzhaf_msr needs, for every element, rows with and rows without it: use the "
                             "uniform_coalitions perturbator (complementary pairs)")
        mean_in = (f.T @ keep) / n_in
        mean_out = (f.T @ ~keep) / n_out
        return mean_in - mean_out


@hookimpl
def interpreto_register_perturbator(register):
    register(UniformCoalitions, name="uniform_coalitions",
             summary="Uniform random coalitions in complementary pairs (every coalition when 2^E <= n_samples).")


@hookimpl
def interpreto_register_aggregator(register):
    register(BanzhafMSR, name="banzhaf_msr",
             summary="Banzhaf value by maximum sample reuse: mean score with the element minus without it.")


@hookimpl
def interpreto_register_attribution(register):
    register(
        AttributionRecipe(perturbator="uniform_coalitions", aggregator="banzhaf_msr", defaults={"n_samples": 200}),
        name="banzhaf",
        summary="Banzhaf values (MSR estimator, complementary pairs; exact by enumeration when 2^E <= n_samples): "
                "the attribution most robust to noisy scores.",
        reference="Wang & Jia, Data Banzhaf: A Robust Data Valuation Framework for Machine Learning, AISTATS 2023",
    )

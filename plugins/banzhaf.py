"""Banzhaf values by maximum sample reuse (Banzhaf 1965; Wang & Jia, "Data Banzhaf: A Robust Data
Valuation Framework for Machine Learning", AISTATS 2023).

beta_i = 2^-(E-1) sum_{S ⊆ N \\ {i}} [f(S + {i}) - f(S)]
       = E_S[f(S) | i in S] - E_S[f(S) | i not in S],   S uniform over the 2^E coalitions

(``f(S)``: the score with the elements of S kept, the others replaced by the baseline). The
coalitions are drawn uniformly (each element kept with probability 1/2) in complementary pairs (S
and N \\ S, so every element has as many draws with as without it) and every draw is used for every
element: by default beta is the least-squares fit f(S) ~ b_0 + sum_i beta_i 1[i in S] (under the
uniform distribution its coefficients are the Banzhaf values, Hammer & Holzman 1992); with
``estimator="msr"`` the maximum-sample-reuse difference of means, mean f over the draws keeping i
minus mean f over those dropping it (Wang & Jia 2023). When 2^E <= n_samples every coalition is
enumerated and the value is exact.

Why it is here (none of captum, inseq, shap or interpreto has it): among the semivalues (Shapley,
Banzhaf, Beta-Shapley) Banzhaf's ranking is the most robust to noise in the scores it reads (the
largest "safety margin", Wang & Jia 2023) — the situation of attributions on fp16 / quantised
models, sampled outputs, or near-tied classes — and every forward pass serves all elements, where
permutation sampling pays E passes per order. Unlike Shapley values the scores
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


class BanzhafValues:
    """Banzhaf values from uniform coalitions.

    ``estimator="regression"`` (default): the coefficients of the least-squares line
    f(S) ~ b_0 + sum_i beta_i 1[i in S] over the drawn coalitions — under the uniform distribution
    the indicators are independent, so the population coefficients are exactly the Banzhaf values
    (Hammer & Holzman 1992) and on all 2^E coalitions the fit is exact; on a sample the other
    elements' effects are regressed out, a lower variance than MSR's plain difference of means.
    ``estimator="msr"``: maximum sample reuse, mean f with i minus mean f without i (Wang & Jia).
    With no more rows than E + 1 the regression is not determined: MSR is used.
    """

    input = "perturbation"

    def __init__(self, estimator: str = "regression") -> None:
        if estimator not in ("regression", "msr"):
            raise InputError(f"banzhaf_values: estimator must be 'regression' or 'msr', got {estimator!r}")
        self.estimator = estimator

    def aggregate(self, plan: PerturbationPlan, outputs: np.ndarray) -> np.ndarray:
        keep = np.asarray(plan.masks, dtype=np.float64) > 0.5  # (R, E)
        f = np.asarray(outputs, dtype=np.float64)  # (R, T)
        n_in, n_out = keep.sum(0), (~keep).sum(0)
        if (n_in == 0).any() or (n_out == 0).any():
            raise InputError("banzhaf_values needs, for every element, rows with and rows without it: use the "
                             "uniform_coalitions perturbator (complementary pairs)")
        if self.estimator == "regression" and keep.shape[0] > keep.shape[1] + 1:
            design = np.hstack([np.ones((keep.shape[0], 1)), keep - 0.5])
            coef, *_ = np.linalg.lstsq(design, f, rcond=None)
            return coef[1:].T
        mean_in = (f.T @ keep) / n_in
        mean_out = (f.T @ ~keep) / n_out
        return mean_in - mean_out


@hookimpl
def interpreto_register_perturbator(register):
    register(UniformCoalitions, name="uniform_coalitions",
             summary="Uniform random coalitions in complementary pairs (every coalition when 2^E <= n_samples).")


@hookimpl
def interpreto_register_aggregator(register):
    register(BanzhafValues, name="banzhaf_values",
             summary="Banzhaf values: least-squares fit on uniform coalitions (or MSR: mean with minus without).")


@hookimpl
def interpreto_register_attribution(register):
    register(
        AttributionRecipe(perturbator="uniform_coalitions", aggregator="banzhaf_values", defaults={"n_samples": 200}),
        name="banzhaf",
        summary="Banzhaf values (least squares on uniform coalitions in complementary pairs, or estimator='msr'; "
                "exact by enumeration when 2^E <= n_samples): the attribution most robust to noisy scores.",
        reference="Wang & Jia, Data Banzhaf: A Robust Data Valuation Framework for Machine Learning, AISTATS 2023",
    )

"""Shapley value sampling (Castro et al., 2009; Štrumbelj & Kononenko, 2014): Shapley values as the
mean marginal gain of each element over random orders of the elements.

phi_i = E_pi [ f(P_i^pi + {i}) - f(P_i^pi) ],   P_i^pi: the elements before i in the order pi

(``f(S)``: the score with the elements of S kept and the others replaced by the baseline). One
order costs E evaluations (its prefixes; the empty and the full input are shared by all orders),
and its gains sum to f(x) - f(baseline), so the estimate is exactly efficient with any number of
orders. Antithetic sampling (on by default) pairs each order with its reverse, as shap's
``PermutationExplainer`` does: the two see every element once early and once late, which lowers
the variance. A row seen twice (small E) is scored once. When 2**E rows fit in the budget,
every coalition is enumerated instead and the result is the exact Shapley value
phi_i = sum_{S ⊆ N \\ {i}} |S|! (E - |S| - 1)! / E! [f(S + {i}) - f(S)].
captum's ``ShapleyValueSampling`` is the same estimator without antithetic pairs.
"""

from __future__ import annotations

import math
import os

import numpy as np

from interpreto_core.plugin import AttributionRecipe, InputError, PerturbationPlan, hookimpl
from interpreto_plugins._checks import count, flag

#: exact enumeration is never tried above this many elements (2**20 rows)
MAX_EXACT_ELEMENTS = 20


def available_memory() -> int | None:
    """Bytes of physical memory free now (Linux), None when unknown."""
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):
        return None


def check_memory(part: str, n_permutations: int, n_elements: int) -> None:
    """Refuse, before allocating, a plan whose masks cannot fit in memory (about 10 bytes an entry:
    the coalition pairs, their packed keys and the float32 masks)."""
    need = 10 * n_permutations * n_elements * n_elements
    available = available_memory()
    if available is not None and need > available:
        fit = max(int(n_permutations * available / need), 1)
        raise InputError(
            f"{part}: n_permutations={n_permutations} on {n_elements} elements needs about {need / 2**30:.1f} GiB "
            f"for its masks, but only {available / 2**30:.1f} GiB of memory is free: lower n_permutations (at most "
            f"about {fit}) or use a coarser granularity"
        )


def marginal_plan(without: np.ndarray, element: np.ndarray, weight: np.ndarray, *, extras: dict) -> PerturbationPlan:
    """A plan scoring each pair (coalition, coalition + element): ``without`` (K, E) bool rows, the
    ``element`` (K,) each pair adds and its ``weight`` (K,). Identical rows are scored once."""
    k, m = without.shape
    with_ = without.copy()
    with_[np.arange(k), element] = True
    rows = np.concatenate([without, with_])
    packed = np.ascontiguousarray(np.packbits(rows, axis=1))
    keys = packed.view(np.dtype((np.void, packed.shape[1]))).ravel()
    _, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
    order = np.argsort(first)  # unique rows in order of first appearance
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    index = rank[inverse.ravel()]
    masks = rows[first[order]].astype(np.float32)  # what the engine scores (0/1 exactly)
    info = {"without": index[:k], "with": index[k:], "element": np.asarray(element), "weight": np.asarray(weight),
            "extras": extras}
    return PerturbationPlan(masks=masks, info=info)


def order_pairs(orders: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The pairs of a set of orders (P, E): the prefix before each step, the element it adds, weight 1/P."""
    p, m = orders.shape
    position = np.argsort(orders, axis=1)  # position of each element in its order
    steps = np.arange(m)
    without = position[:, None, :] < steps[None, :, None]  # (P, E steps, E): elements placed before the step
    weight = np.full(p * m, 1.0 / p)
    return without.reshape(p * m, m), orders.reshape(-1), weight


def random_orders(n_elements: int, n_permutations: int, antithetic: bool, rng: np.random.Generator) -> np.ndarray:
    """(n_permutations, E) random orders; with ``antithetic`` every other one is the reverse of the one before."""
    n_draw = (n_permutations + 1) // 2 if antithetic else n_permutations
    drawn = rng.permuted(np.tile(np.arange(n_elements), (n_draw, 1)), axis=1)
    if not antithetic:
        return drawn
    return np.stack([drawn, drawn[:, ::-1]], axis=1).reshape(-1, n_elements)[:n_permutations]


def exact_shapley_pairs(n_elements: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every (S, i not in S) pair with its Shapley weight |S|! (E - |S| - 1)! / E!."""
    m = n_elements
    subsets = ((np.arange(2**m)[:, None] >> np.arange(m)[None, :]) & 1).astype(bool)  # (2^E, E)
    s_idx, element = np.nonzero(~subsets)
    size = subsets.sum(1)[s_idx]
    weights = np.array([math.factorial(s) * math.factorial(m - s - 1) / math.factorial(m) for s in range(m)])
    return subsets[s_idx], element, weights[size]


class PermutationSampler:
    """Random orders of the elements (antithetic pairs by default); every coalition when 2**E rows fit
    in the budget of ``n_permutations * (E - 1) + 2`` rows."""

    def __init__(self, n_permutations: int = 10, antithetic: bool = True) -> None:
        self.n_permutations = count("permutation_shap", "n_permutations", n_permutations, 1)
        self.antithetic = flag("permutation_shap", "antithetic", antithetic)

    def plan(self, n_elements: int, *, rng: np.random.Generator) -> PerturbationPlan:
        m = n_elements
        budget = self.n_permutations * (m - 1) + 2
        if m <= MAX_EXACT_ELEMENTS and 2**m <= budget:
            return marginal_plan(*exact_shapley_pairs(m), extras={"exact": True})
        check_memory("permutation_shap", self.n_permutations, m)
        orders = random_orders(m, self.n_permutations, self.antithetic, rng)
        return marginal_plan(*order_pairs(orders), extras={"exact": False})


class MarginalContributions:
    """phi_e = sum over the plan's pairs (S, e) of weight * (f(S + {e}) - f(S))."""

    input = "perturbation"

    def aggregate(self, plan: PerturbationPlan, outputs: np.ndarray) -> np.ndarray:
        info = plan.info
        m = plan.masks.shape[1]
        gains = (outputs[info["with"]] - outputs[info["without"]]) * np.asarray(info["weight"])[:, None]  # (K, T)
        element = np.asarray(info["element"])
        return np.stack([np.bincount(element, weights=gains[:, t], minlength=m) for t in range(outputs.shape[1])])


@hookimpl
def interpreto_register_perturbator(register):
    register(PermutationSampler, name="permutations",
             summary="Prefixes of random (antithetic) orders of the elements; all coalitions when 2**E fit.")


@hookimpl
def interpreto_register_aggregator(register):
    register(MarginalContributions, name="marginal_contributions",
             summary="Weighted sum of marginal gains f(S + e) - f(S) over the plan's pairs.")


@hookimpl
def interpreto_register_attribution(register):
    register(
        AttributionRecipe(perturbator="permutations", aggregator="marginal_contributions"),
        name="permutation_shap",
        summary="Shapley value sampling over antithetic random orders; exactly efficient, "
        "n_permutations * (E - 1) + 2 forwards (exact when 2**E fit).",
        reference="Štrumbelj & Kononenko, Explaining prediction models and individual predictions with feature "
        "contributions, KAIS 2014; Castro et al., Polynomial calculation of the Shapley value based on sampling, "
        "Computers & OR 2009",
    )

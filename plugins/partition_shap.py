"""Owen values (Owen, 1977): Shapley values of a game whose players come in groups (here the words
of each sentence), the quantity shap's ``PartitionExplainer`` estimates over its text hierarchy.

For element i of group B_k, among groups B_1 .. B_m (Q: a set of other groups, S: a part of B_k):

phi_i = sum_{Q ⊆ M \\ {k}} sum_{S ⊆ B_k \\ {i}} |Q|! (m - |Q| - 1)! / m!  *  |S|! (b_k - |S| - 1)! / b_k!
        * [ f(∪Q + S + {i}) - f(∪Q + S) ]

i.e. the groups play a Shapley game among themselves, and the elements of a group share its value
by a Shapley game inside it. Equivalently (Owen, 1977) phi_i is the mean marginal gain of i over
the orders in which every group's elements are consecutive: the estimator here samples such orders
(a random order of the groups, a random order inside each), antithetic pairs by default, E
evaluations an order; the gains of each order sum to f(x) - f(baseline) (exactly efficient). When
the exact sum fits in the budget it is enumerated instead. With one group per element, or a single
group, Owen values are Shapley values.

Groups: ``"sentence"`` (default) groups the elements by sentence (and by segment: the two texts of
a pair, chat messages); an integer k groups k consecutive elements. At ``granularity="word"`` the
hierarchy is sentence -> word; at ``granularity="token"`` it is sentence -> word -> token (a word's
tokens are consecutive too: the level-structure value of Winter, 1989, which is Owen's applied at each
level; sampled only, ``extras["words"]`` lists the words).
"""

from __future__ import annotations

import math

import numpy as np

from interpreto_core.plugin import AttributionRecipe, InputError, PerturbationPlan, TaskItem, hookimpl, split_elements
from interpreto_plugins._checks import count, flag
from interpreto_plugins.permutation_shap import (
    MAX_EXACT_ELEMENTS,
    check_memory,
    exact_shapley_pairs,
    marginal_plan,
    order_pairs,
)


def _shapley_weights(n: int) -> np.ndarray:
    """w[s] = s! (n - s - 1)! / n!, the weight of a coalition of s of the other n - 1 players."""
    return np.array([math.factorial(s) * math.factorial(n - s - 1) / math.factorial(n) for s in range(n)])


def sentence_groups(item: TaskItem) -> list[list[int]]:
    """The item's elements grouped by (segment, sentence); an element without a span is its own group."""
    el = item.elements
    n = len(el)
    spans = [s if s is not None else (0, 0) for s in el.spans]
    sentences = split_elements(text=item.text, tokens=list(el.texts), special=[False] * n, offsets=spans,
                               granularity="sentence")
    sentence_of = [-1 - e for e in range(n)]  # no span: a group of its own
    for s, members in enumerate(sentences.token_groups):
        for e in members:
            sentence_of[e] = s
    segments = item.segments or (0,) * n
    keys: dict[tuple[int, int], list[int]] = {}
    for e in range(n):
        keys.setdefault((segments[e], sentence_of[e]), []).append(e)
    return sorted(keys.values(), key=lambda g: g[0])


def exact_owen_pairs(groups: list[list[int]], n_elements: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every (∪Q + S, i) pair of the Owen sum with its weight."""
    m = len(groups)
    w_groups = _shapley_weights(m)
    withouts, elements, weights = [], [], []
    for k, group in enumerate(groups):
        others = [g for j, g in enumerate(groups) if j != k]
        q_bits = ((np.arange(2 ** (m - 1))[:, None] >> np.arange(m - 1)[None, :]) & 1).astype(bool)
        base = np.zeros((len(q_bits), n_elements), dtype=bool)
        for j, g in enumerate(others):
            base[:, g] |= q_bits[:, j : j + 1]
        s_without, s_element, s_weight = exact_shapley_pairs(len(group))
        inner = np.zeros((len(s_without), n_elements), dtype=bool)
        inner[:, group] = s_without
        withouts.append((base[:, None, :] | inner[None, :, :]).reshape(-1, n_elements))
        elements.append(np.tile(np.asarray(group)[s_element], len(base)))
        weights.append((w_groups[q_bits.sum(1)][:, None] * s_weight[None, :]).reshape(-1))
    return np.concatenate(withouts), np.concatenate(elements), np.concatenate(weights)


def exact_owen_rows(groups: list[list[int]]) -> int:
    """An upper bound on the rows the exact Owen sum scores."""
    m = len(groups)
    return sum(2 ** (m - 1 + len(g)) for g in groups)


def group_orders(groups: list[list[int]], n_elements: int, n_permutations: int, antithetic: bool,
                 rng: np.random.Generator, words: list[list[int]] | None = None) -> np.ndarray:
    """(n_permutations, E) orders in which each group's elements are consecutive (and, given ``words``, a
    partition finer than the groups, each word's elements too): a uniform order of the groups, of the
    words inside each, of the elements inside each word; with ``antithetic`` every other one is the reverse."""
    n_draw = (n_permutations + 1) // 2 if antithetic else n_permutations
    group_of = np.empty(n_elements, dtype=np.int64)
    for k, g in enumerate(groups):
        group_of[g] = k
    word_of = np.arange(n_elements)
    for w, members in enumerate(words or []):
        word_of[members] = w
    rank = rng.permuted(np.tile(np.arange(len(groups)), (n_draw, 1)), axis=1)  # (P, m) rank of each group
    word_key = rng.random((n_draw, n_elements))[:, word_of]  # a word's elements share a key: they stay together
    leaf_key = rng.random((n_draw, n_elements))
    drawn = np.lexsort((leaf_key, word_key, rank[:, group_of]), axis=-1)  # last key first: groups, words, leaves
    if not antithetic:
        return drawn
    return np.stack([drawn, drawn[:, ::-1]], axis=1).reshape(-1, n_elements)[:n_permutations]


def word_groups(item: TaskItem, groups: list[list[int]]) -> list[list[int]]:
    """The item's elements (tokens) grouped by word, each word inside one of ``groups``."""
    el = item.elements
    n = len(el)
    spans = [s if s is not None else (0, 0) for s in el.spans]
    words = split_elements(text=item.text, tokens=list(el.texts), special=[False] * n, offsets=spans,
                           granularity="word")
    word_of = [-1 - e for e in range(n)]
    for w, members in enumerate(words.token_groups):
        for e in members:
            word_of[e] = w
    group_of = {e: k for k, g in enumerate(groups) for e in g}
    keys: dict[tuple[int, int], list[int]] = {}
    for e in range(n):
        keys.setdefault((group_of[e], word_of[e]), []).append(e)
    return sorted(keys.values(), key=lambda w: w[0])


class OwenSampler:
    """Orders consistent with the element groups (sentences by default); the exact Owen sum when it
    fits in the budget of ``n_permutations * (E - 1) + 2`` rows."""

    def __init__(self, n_permutations: int = 10, antithetic: bool = True, groups: str | int = "sentence") -> None:
        self.n_permutations = count("partition_shap", "n_permutations", n_permutations, 1)
        self.antithetic = flag("partition_shap", "antithetic", antithetic)
        if groups != "sentence" and (isinstance(groups, bool) or not isinstance(groups, int | np.integer)
                                     or groups < 1):
            raise InputError(f"partition_shap: groups must be 'sentence' or a positive integer (elements per "
                             f"group), got {groups!r}")
        self.groups = groups

    def element_groups(self, n_elements: int, item: TaskItem | None) -> list[list[int]]:
        if self.groups != "sentence":
            k = int(self.groups)
            return [list(range(s, min(s + k, n_elements))) for s in range(0, n_elements, k)]
        if item is None or len(item.elements) != n_elements:
            return [list(range(n_elements))]  # no text to split: one group (Shapley values)
        return sentence_groups(item)

    def plan(self, n_elements: int, *, rng: np.random.Generator, item: TaskItem | None = None) -> PerturbationPlan:
        m = n_elements
        groups = self.element_groups(m, item)
        extras: dict = {"groups": [list(g) for g in groups]}
        words = None
        if (self.groups == "sentence" and item is not None and len(item.elements) == m
                and item.elements.granularity in ("token", "all_tokens")):
            words = word_groups(item, groups)  # tokens: sentence -> word -> token
            if all(len(w) == 1 for w in words):
                words = None
            else:
                extras["words"] = words
        budget = self.n_permutations * (m - 1) + 2
        if words is None and m <= MAX_EXACT_ELEMENTS and exact_owen_rows(groups) <= budget:
            return marginal_plan(*exact_owen_pairs(groups, m), extras={**extras, "exact": True})
        check_memory("partition_shap", self.n_permutations, m)
        orders = group_orders(groups, m, self.n_permutations, self.antithetic, rng, words)
        return marginal_plan(*order_pairs(orders), extras={**extras, "exact": False})


@hookimpl
def interpreto_register_perturbator(register):
    register(OwenSampler, name="group_permutations",
             summary="Prefixes of random orders that keep each sentence's elements together (Owen values).")


@hookimpl
def interpreto_register_attribution(register):
    register(
        AttributionRecipe(perturbator="group_permutations", aggregator="permutation_shap:marginal_contributions"),
        name="partition_shap",
        summary="Owen values over the sentence -> element hierarchy, by sampling group-consistent orders; "
        "exactly efficient, n_permutations * (E - 1) + 2 forwards.",
        reference="Owen, Values of games with a priori unions, 1977; Lundberg & Lee 2017 (shap PartitionExplainer)",
    )

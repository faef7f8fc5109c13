"""Shapley value sampling (permutation_shap) and Owen values (partition_shap): hand-computed games,
exactness, efficiency, and agreement with captum's ShapleyValueSampling on a tiny BERT."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch

import interpreto_core
from interpreto_core import ModelAdapter
from interpreto_plugins import partition_shap, permutation_shap
from interpreto_plugins.partition_shap import OwenSampler
from interpreto_plugins.permutation_shap import MarginalContributions, PermutationSampler

TEXT = "An unexpectedly moving, funny film."  # 7 words: 2**7 = 128 coalitions
TARGET = 1


def brute_shapley(game, m: int) -> np.ndarray:
    """phi_i = sum_S |S|!(m-|S|-1)!/m! (v(S + i) - v(S)), straight from the definition."""
    phi = np.zeros(m)
    for i in range(m):
        others = [j for j in range(m) if j != i]
        for r in range(m):
            for s in itertools.combinations(others, r):
                w = math.factorial(r) * math.factorial(m - r - 1) / math.factorial(m)
                phi[i] += w * (game(set(s) | {i}) - game(set(s)))
    return phi


def brute_owen(game, groups: list[list[int]]) -> np.ndarray:
    """The Owen (1977) formula: Shapley among the groups, then inside the element's group."""
    m_el = sum(len(g) for g in groups)
    n = len(groups)
    phi = np.zeros(m_el)
    for k, group in enumerate(groups):
        other = [j for j in range(n) if j != k]
        b = len(group)
        for q_size in range(n):
            for q in itertools.combinations(other, q_size):
                wq = math.factorial(q_size) * math.factorial(n - q_size - 1) / math.factorial(n)
                union = set().union(*(set(groups[j]) for j in q))
                for i in group:
                    rest = [j for j in group if j != i]
                    for s_size in range(b):
                        for s in itertools.combinations(rest, s_size):
                            ws = math.factorial(s_size) * math.factorial(b - s_size - 1) / math.factorial(b)
                            phi[i] += wq * ws * (game(union | set(s) | {i}) - game(union | set(s)))
    return phi


def run_game(part, game, m: int, *, seed: int = 0, **plan_kwargs) -> tuple[np.ndarray, object]:
    """Plan, score every row with ``game`` (a function of the kept set), aggregate: the engine's walk."""
    plan = part.plan(m, rng=np.random.default_rng(seed), **plan_kwargs)
    outputs = np.array([[game(set(np.flatnonzero(row > 0.5).tolist()))] for row in plan.masks])
    return MarginalContributions().aggregate(plan, outputs)[0], plan


def random_game(m: int, seed: int = 0):
    """A non-additive game: random values on every coalition."""
    values = np.random.default_rng(seed).normal(size=2**m)
    return lambda s: float(values[sum(1 << i for i in s)])


# -- permutation_shap: the game math ---------------------------------------------------------------
def test_exact_enumeration_equals_the_shapley_definition():
    game = random_game(6)
    phi, plan = run_game(PermutationSampler(n_permutations=13), game, 6)  # 13 * 5 + 2 = 67 >= 2**6 rows
    assert plan.info["extras"]["exact"] and len(plan.masks) == 64  # every coalition, each scored once
    np.testing.assert_allclose(phi, brute_shapley(game, 6), atol=1e-12)


def test_additive_game_is_exact_with_one_permutation():
    weights = np.random.default_rng(1).normal(size=12)
    phi, plan = run_game(PermutationSampler(n_permutations=1, antithetic=False), lambda s: weights[list(s)].sum(), 12)
    assert not plan.info["extras"]["exact"] and len(plan.masks) == 13  # one order: its 13 prefixes
    np.testing.assert_allclose(phi, weights, atol=1e-12)


def test_every_sample_is_exactly_efficient():
    game = random_game(9, seed=2)
    for n in (1, 2, 5):
        phi, _ = run_game(PermutationSampler(n_permutations=n), game, 9, seed=n)
        assert phi.sum() == pytest.approx(game(set(range(9))) - game(set()), abs=1e-12)


def test_antithetic_orders_come_with_their_reverse():
    orders = permutation_shap.random_orders(7, 6, True, np.random.default_rng(0))
    assert orders.shape == (6, 7)
    np.testing.assert_array_equal(orders[1::2], orders[0::2, ::-1])
    assert all(sorted(o) == list(range(7)) for o in orders)


def sampled(orders: np.ndarray, game) -> np.ndarray:
    """The sampling estimate on given orders (past the switch to exact enumeration)."""
    plan = permutation_shap.marginal_plan(*permutation_shap.order_pairs(orders), extras={})
    outputs = np.array([[game(set(np.flatnonzero(row > 0.5).tolist()))] for row in plan.masks])
    return MarginalContributions().aggregate(plan, outputs)[0]


def test_sampling_converges_to_the_shapley_value():
    # 9 elements, 2000 orders (1000 antithetic pairs). The spread of one pair's estimate on this game is at most
    # 1.3 (measured over 300 pairs), so the standard error of the mean is at most 0.04: 0.25 is 6 of them.
    game = random_game(9, seed=3)
    truth = brute_shapley(game, 9)
    rng = np.random.default_rng(3)
    phi = sampled(permutation_shap.random_orders(9, 2000, True, rng), game)
    assert np.abs(phi - truth).max() < 0.25
    one = sampled(permutation_shap.random_orders(9, 2, True, rng), game)
    assert np.linalg.norm(phi - truth) < np.linalg.norm(one - truth)  # more orders, closer


def test_bad_parameters_are_refused():
    with pytest.raises(interpreto_core.InputError, match="n_permutations"):
        PermutationSampler(n_permutations=0)
    with pytest.raises(interpreto_core.InputError, match="antithetic"):
        PermutationSampler(antithetic="yes")
    with pytest.raises(interpreto_core.InputError, match="groups"):
        OwenSampler(groups=0)


def test_a_plan_too_big_for_memory_is_refused_before_allocating(monkeypatch):
    monkeypatch.setattr(permutation_shap, "available_memory", lambda: 2**30)  # 1 GiB free
    with pytest.raises(interpreto_core.InputError, match=r"n_permutations=5000 on 200 elements .* about 2684\)"):
        PermutationSampler(n_permutations=5000).plan(200, rng=np.random.default_rng(0))  # 2 GB
    with pytest.raises(interpreto_core.InputError, match="partition_shap: n_permutations=5000"):
        OwenSampler(n_permutations=5000, groups=20).plan(200, rng=np.random.default_rng(0))
    assert len(PermutationSampler(n_permutations=20).plan(200, rng=np.random.default_rng(0)).masks) > 0


# -- partition_shap (Owen values): the game math ---------------------------------------------------
def test_owen_of_the_majority_game_by_hand():
    # v(S) = 1 when |S| >= 2, groups {0, 1} and {2}. Groups: v(A) = 1, v(B) = 0, v(AB) = 1, so A gets
    # (1/2)(1 - 0) + (1/2)(1 - 0) = 1 and B gets 0; inside A, 0 and 1 are symmetric: 1/2 each.
    # (Shapley would give 1/3 each.)
    game = lambda s: float(len(s) >= 2)  # noqa: E731
    part = OwenSampler(groups=2)
    phi, plan = run_game(part, game, 3)
    assert plan.info["extras"] == {"groups": [[0, 1], [2]], "exact": True}
    np.testing.assert_allclose(phi, [0.5, 0.5, 0.0], atol=1e-12)
    np.testing.assert_allclose(brute_shapley(game, 3), [1 / 3] * 3, atol=1e-12)


@pytest.mark.parametrize("groups", [[[0, 1, 2], [3, 4], [5]], [[0], [1, 2, 3, 4, 5]], [[0, 1], [2, 3], [4, 5]]])
def test_exact_owen_equals_the_owen_formula(groups, monkeypatch):
    game = random_game(6, seed=4)
    part = OwenSampler(n_permutations=100)
    monkeypatch.setattr(part, "element_groups", lambda m, item: groups)
    phi, plan = run_game(part, game, 6)
    assert plan.info["extras"]["exact"]
    np.testing.assert_allclose(phi, brute_owen(game, groups), atol=1e-12)


@pytest.mark.parametrize("size", [1, 6])
def test_owen_with_singleton_groups_or_one_group_is_shapley(size):
    game = random_game(6, seed=5)
    phi, plan = run_game(OwenSampler(n_permutations=100, groups=size), game, 6)
    assert plan.info["extras"]["exact"]
    np.testing.assert_allclose(phi, brute_shapley(game, 6), atol=1e-12)


def test_owen_sampling_keeps_groups_together_and_converges():
    groups = [[0, 1, 2], [3, 4, 5, 6], [7, 8]]
    orders = partition_shap.group_orders(groups, 9, 50, True, np.random.default_rng(0))
    group_of = {e: k for k, g in enumerate(groups) for e in g}
    for o in orders:  # each group's elements are consecutive
        seq = [group_of[e] for e in o]
        assert sum(a != b for a, b in itertools.pairwise(seq)) == len(groups) - 1
    np.testing.assert_array_equal(orders[1::2], orders[0::2, ::-1])
    game = random_game(9, seed=6)
    phi = sampled(partition_shap.group_orders(groups, 9, 2000, True, np.random.default_rng(6)), game)
    truth = brute_owen(game, groups)
    assert phi.sum() == pytest.approx(game(set(range(9))) - game(set()), abs=1e-12)
    # one pair's spread: at most 1.8 (measured), standard error 0.06 with 1000 pairs: 0.25 is 4 of them
    assert np.abs(phi - truth).max() < 0.25


# -- through the engine, on a tiny BERT -------------------------------------------------------------
def _explain(classifier, tokenizer, method, text=TEXT, **params):
    return interpreto_core.explain(classifier, tokenizer, text, method=method, targets=TARGET, **params)[0]


def test_exact_permutation_shap_equals_exact_kernel_shap(classifier, tokenizer):
    ours = _explain(classifier, tokenizer, "permutation_shap", n_permutations=22)  # 22 * 6 + 2 >= 128
    kernel = _explain(classifier, tokenizer, "kernel_shap", n_samples=128)
    assert ours.extras["exact"]
    np.testing.assert_allclose(ours.scores, kernel.scores, rtol=1e-5, atol=1e-5)


def test_additive_model_is_exact_with_one_permutation(linear_model, tokenizer):
    # a bag-of-embeddings linear model is additive over words: every order gives the Shapley value
    # (= occlusion's score drop)
    one = _explain(linear_model, tokenizer, "permutation_shap", n_permutations=1, antithetic=False)
    occlusion = _explain(linear_model, tokenizer, "occlusion")
    assert not one.extras["exact"]
    np.testing.assert_allclose(one.scores, occlusion.scores, rtol=1e-4, atol=1e-5)


def test_sentence_groups_from_the_item(classifier, tokenizer, monkeypatch):
    text = "Good film. Bad plot here!"
    sampled = _explain(classifier, tokenizer, "partition_shap", text=text, n_permutations=3)  # 20 rows < 48
    assert sampled.extras["groups"] == [[0, 1, 2], [3, 4, 5, 6]]  # Good film . | Bad plot here !
    assert not sampled.extras["exact"]
    sentences = _explain(classifier, tokenizer, "partition_shap", text=text, granularity="sentence")
    assert sentences.extras["groups"] == [[0], [1]]
    # exact: the Owen formula over the model's own coalition scores (recorded on their way to the aggregator)
    seen = []
    aggregate = MarginalContributions.aggregate
    monkeypatch.setattr(MarginalContributions, "aggregate",
                        lambda self, plan, out: seen.append((plan, out)) or aggregate(self, plan, out))
    exact = _explain(classifier, tokenizer, "partition_shap", text=text)  # 2**4 + 2**5 = 48 rows <= 62
    assert exact.extras["exact"]
    plan, out = seen[0]
    table = {frozenset(np.flatnonzero(row > 0.5).tolist()): float(o)
             for row, o in zip(plan.masks, out[:, 0], strict=True)}
    np.testing.assert_allclose(exact.scores[0], brute_owen(lambda s: table[frozenset(s)], [[0, 1, 2], [3, 4, 5, 6]]),
                               rtol=1e-6, atol=1e-6)
    kernel = _explain(classifier, tokenizer, "kernel_shap", text=text, n_samples=128)
    assert exact.scores.sum() == pytest.approx(kernel.scores.sum(), rel=1e-5)  # f(x) - f(baseline)
    assert sampled.scores.sum() == pytest.approx(kernel.scores.sum(), rel=1e-5)  # sampled: efficient too
    assert np.abs(exact.scores - kernel.scores).max() > 1e-3  # Owen values are not Shapley values here


def test_pair_inputs_are_grouped_by_text_and_sentence(classifier, tokenizer):
    e = interpreto_core.explain(classifier, tokenizer, ("Good film. Bad plot", "Fine!"), method="partition_shap",
                                targets=TARGET)[0]
    # "Bad plot" has no final stop: its sentence would run on into the second text without the segments
    assert e.extras["groups"] == [[0, 1, 2], [3, 4], [5, 6]]


def test_permutation_shap_matches_captum_on_the_same_orders(classifier, tokenizer, monkeypatch):
    from captum.attr import ShapleyValueSampling

    ad = ModelAdapter(classifier, tokenizer)
    enc = ad.encode(TEXT)
    ids = torch.tensor(enc.input_ids)
    x = ad.embed(ids)[None]
    words = enc.elements("word")
    m = len(words)
    feature_mask = torch.full(x.shape[:2], m, dtype=torch.long)  # specials: a group of their own ...
    for e, group in enumerate(words.token_groups):
        feature_mask[0, list(group)] = e
    baseline = ad.baseline_vector("mask").expand_as(x).clone()
    baseline[feature_mask == m] = x[feature_mask == m]  # ... whose baseline is themselves: it changes nothing

    def forward(emb):
        return classifier(inputs_embeds=emb, attention_mask=torch.ones(emb.shape[:2], dtype=torch.long)).logits

    n = 12
    torch.manual_seed(0)
    captum_orders = [torch.randperm(m + 1).tolist() for _ in range(n)]
    torch.manual_seed(0)
    attr = ShapleyValueSampling(forward).attribute(
        x, target=TARGET, baselines=baseline, feature_mask=feature_mask[..., None].expand_as(x).clone(), n_samples=n
    )[0, :, 0]
    ref = torch.stack([attr[g[0]] for g in words.token_groups])
    orders = np.array([[e for e in o if e != m] for o in captum_orders])  # the specials' place changes nothing
    monkeypatch.setattr(permutation_shap, "random_orders", lambda m_, n_, a_, rng: orders)
    ours = _explain(classifier, tokenizer, "permutation_shap", n_permutations=n, antithetic=False)
    assert not ours.extras["exact"]  # 12 * 6 + 2 < 128: sampled, on captum's orders
    torch.testing.assert_close(torch.tensor(ours.scores[0], dtype=torch.float32), ref, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("method", ["permutation_shap", "partition_shap"])
@pytest.mark.parametrize("granularity", ["token", "word", "sentence"])
def test_both_model_kinds_at_every_granularity(classifier, causal_lm, tokenizer, method, granularity):
    texts = ["A gripping story. The ending fell flat!", "Dull."]
    expl = interpreto_core.explain(classifier, tokenizer, texts, method=method, granularity=granularity,
                                   targets=[[0, 2], 1], n_permutations=4)
    assert [e.scores.shape for e in expl] == [(2, len(expl[0].elements)), (1, len(expl[1].elements))]
    assert all(np.isfinite(e.scores).all() for e in expl) and np.abs(expl[0].scores).max() > 0
    lm = interpreto_core.explain(causal_lm, tokenizer, "The cat sat. It purred", method=method,
                                 granularity=granularity, max_new_tokens=3, n_permutations=4)[0]
    assert lm.scores.shape == (3, len(lm.elements)) and np.isfinite(lm.scores).all()
    assert np.abs(lm.scores).max() > 0
    # an element after a target cannot move it: every one of its marginal gains is 0
    np.testing.assert_allclose(lm.scores[~np.asarray(lm.visible, dtype=bool)], 0.0, atol=1e-6)


def consistent_value(game, hierarchy: list[list[list[int]]]) -> np.ndarray:
    """Mean marginal gain over every order keeping each group and each word consecutive (enumerated)."""
    m = sum(len(w) for g in hierarchy for w in g)
    blocks = [{e for w in g for e in w} for g in hierarchy] + [set(w) for g in hierarchy for w in g]
    phi, count = np.zeros(m), 0
    for order in itertools.permutations(range(m)):
        position = {e: i for i, e in enumerate(order)}
        if any(max(position[e] for e in b) - min(position[e] for e in b) != len(b) - 1 for b in blocks):
            continue
        count += 1
        for i, e in enumerate(order):
            phi[e] += game(set(order[:i]) | {e}) - game(set(order[:i]))
    return phi / count


def test_three_levels_sentence_word_token():
    hierarchy = [[[0, 1], [2]], [[3, 4, 5]]]  # two sentences; words {0, 1}, {2}, {3, 4, 5}
    groups, words = [[0, 1, 2], [3, 4, 5]], [[0, 1], [2], [3, 4, 5]]
    orders = partition_shap.group_orders(groups, 6, 400, True, np.random.default_rng(0), words)
    for o in orders:
        position = {e: i for i, e in enumerate(o)}
        for block in groups + words:
            assert max(position[e] for e in block) - min(position[e] for e in block) == len(block) - 1
    assert len({tuple(o) for o in orders}) == 2 * (2 * 2) * 6  # every consistent order is drawn
    game = random_game(6, seed=7)
    truth = consistent_value(game, hierarchy)
    two_levels = brute_owen(game, groups)
    phi = sampled(orders, game)
    # one antithetic pair's spread <= 1.1 (measured over 300 pairs): standard error 0.08 with 200 pairs
    assert np.abs(phi - truth).max() < 0.25
    assert np.abs(truth - two_levels).max() > 0.4  # the word level changes the value (by 0.41): the test can tell
    # with one element a word, the consistent orders give the Owen formula (Owen's theorem; checks the helper)
    np.testing.assert_allclose(consistent_value(game, [[[0], [1], [2]], [[3], [4], [5]]]), two_levels, atol=1e-12)


def test_token_granularity_groups_tokens_by_word(classifier, tokenizer):
    text = "Zorblat films delight. Truly!"  # z ##or ##bla ##t films delight . | truly !
    e = _explain(classifier, tokenizer, "partition_shap", text=text, granularity="token", n_permutations=6)
    assert e.extras["groups"] == [[0, 1, 2, 3, 4, 5, 6], [7, 8]]
    assert e.extras["words"] == [[0, 1, 2, 3], [4], [5], [6], [7], [8]]
    assert not e.extras["exact"]
    full = _explain(classifier, tokenizer, "kernel_shap", text=text, granularity="token", n_samples=512)
    assert e.scores.sum() == pytest.approx(full.scores.sum(), rel=1e-5)  # still exactly efficient

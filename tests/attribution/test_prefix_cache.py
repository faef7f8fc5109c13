"""Masked causal-LM rows reuse the key/value cache of the prefix they share with their input:
the same scores as whole rows, fewer tokens through the model."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import interpreto_core

PROMPT = ("once upon a time there was a little cat who lived in a big house near the river and every "
          "morning it walked along the water looking for fish")
CONTINUATION = " and then it slept"


class TokenCounter:
    """Counts the tokens given to the model's forward (inputs_embeds rows x length)."""

    def __init__(self, model):
        self.tokens = 0
        self.handle = model.register_forward_pre_hook(self._count, with_kwargs=True)

    def _count(self, _module, args, kwargs):
        x = kwargs.get("inputs_embeds")
        if x is not None:
            self.tokens += x.shape[0] * x.shape[1]

    def remove(self):
        self.handle.remove()


def _explain(model, tokenizer, method, *, reuse, **params):
    ex = interpreto_core.Explainer(model, tokenizer, method=method, granularity="token", batch_size=8, **params)
    ex.task.reuses_prefix = reuse
    counter = TokenCounter(model)
    try:
        out = ex.explain([PROMPT, "the dog"], targets=[CONTINUATION, " barked"])
    finally:
        counter.remove()
    return out, counter.tokens


@pytest.mark.parametrize("model_name", ["causal_lm", "llama_lm"])
@pytest.mark.parametrize("method", ["occlusion", "kernel_shap", "lime"])
def test_prefix_cache_gives_the_same_scores_with_fewer_tokens(request, tokenizer, model_name, method):
    model = request.getfixturevalue(model_name)
    params = {} if method == "occlusion" else {"n_samples": 40}
    cached, cached_tokens = _explain(model, tokenizer, method, reuse=True, **params)
    whole, whole_tokens = _explain(model, tokenizer, method, reuse=False, **params)
    for a, b in zip(cached, whole, strict=True):
        np.testing.assert_allclose(a.scores, b.scores, rtol=1e-4, atol=1e-5)
    if method == "occlusion":  # consecutive elements share long prefixes
        assert cached_tokens < 0.8 * whole_tokens
    else:
        assert cached_tokens <= whole_tokens


def test_gradient_rows_are_never_cached(causal_lm, tokenizer):
    ex = interpreto_core.Explainer(causal_lm, tokenizer, method="saliency", granularity="token")
    assert ex.task.reuses_prefix
    e = ex.explain(PROMPT, targets=CONTINUATION)[0]
    assert np.isfinite(e.scores).all() and np.abs(e.scores).sum() > 0


def test_the_users_model_keeps_no_cache_state(causal_lm, tokenizer):
    before = {k: v.clone() for k, v in causal_lm.state_dict().items()}
    config = causal_lm.config.to_dict()
    hooks = [(dict(m._forward_hooks), dict(m._forward_pre_hooks)) for m in causal_lm.modules()]
    _explain(causal_lm, tokenizer, "occlusion", reuse=True)
    after = causal_lm.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert causal_lm.config.to_dict() == config  # untouched config (use_cache included)
    assert [(dict(m._forward_hooks), dict(m._forward_pre_hooks)) for m in causal_lm.modules()] == hooks


def _brute_force_cost(prefix, length, pass_cost):
    """The cheapest split of sorted rows into consecutive groups, by trying every split."""
    from interpreto_core._prefix import MIN_SHARED_PREFIX

    n = len(prefix)
    best = float("inf")
    for bits in range(2 ** (n - 1)):
        cuts = [0] + [i + 1 for i in range(n - 1) if bits >> i & 1] + [n]
        cost = 0
        for a, b in zip(cuts, cuts[1:], strict=False):
            k = min(prefix[a], length - 1)
            k = k if k >= MIN_SHARED_PREFIX else 0
            cost += (b - a) * (length - k) + pass_cost
        best = min(best, cost)
    return best


@pytest.mark.parametrize("seed", range(6))
def test_prefix_groups_are_the_cheapest_split(seed):
    from interpreto_core._prefix import prefix_groups

    rng = np.random.default_rng(seed)
    length = int(rng.integers(12, 60))
    prefix = sorted(rng.integers(0, length + 1, size=int(rng.integers(1, 10))).tolist())
    for pass_cost in (0, 16, 64, 1000):
        groups = prefix_groups(prefix, length, pass_cost=pass_cost)
        assert [g[0] for g in groups][0] == 0 and groups[-1][1] == len(prefix)
        assert all(a[1] == b[0] for a, b in zip(groups, groups[1:], strict=False))  # consecutive, covering
        for first, _end, k in groups:  # a group starts where its first row's shared prefix ends
            assert k <= prefix[first] and k < length
        cost = sum((end - first) * (length - k) + pass_cost for first, end, k in groups)
        assert cost == _brute_force_cost(prefix, length, pass_cost)


def test_forward_tokens_count_what_the_model_computed(causal_lm, tokenizer):
    """With the cache the engine counts the tokens the model ran (prefix once, rows from their k)."""
    ex = interpreto_core.Explainer(causal_lm, tokenizer, method="occlusion", granularity="token", batch_size=64)
    counter = TokenCounter(causal_lm)
    try:
        ex.explain(PROMPT, targets=CONTINUATION)
    finally:
        counter.remove()
    whole = ex.forward_rows * (len(tokenizer(PROMPT + CONTINUATION, add_special_tokens=False)["input_ids"]))
    assert ex.forward_tokens == counter.tokens
    assert ex.forward_tokens < 0.7 * whole  # about half: row j runs from j on

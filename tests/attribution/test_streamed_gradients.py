"""Gradient aggregators that stream (``stream(plan, n_targets)``) give what ``aggregate`` gives on
all the gradients at once; ``batch_size="auto"`` packs long rows into fewer rows per pass."""

from __future__ import annotations

import numpy as np
import pytest

import interpreto_core
from interpreto_core._engine import pack_rows
from interpreto_core._memory import row_bytes, rows_for

PROMPT = "the cat sat on the mat and then"
CONTINUATION = " it slept for a long time"
METHODS = {"integrated_gradients": {"n_steps": 6}, "smoothgrad": {"n_samples": 5}, "vargrad": {"n_samples": 5},
           "squaregrad": {"n_samples": 5}, "saliency": {}, "gradient_shap": {"n_samples": 5}}


@pytest.mark.parametrize("method", sorted(METHODS))
@pytest.mark.parametrize("model_name", ["classifier", "causal_lm"])
def test_streamed_aggregation_equals_the_whole_tensor(request, tokenizer, model_name, method):
    model = request.getfixturevalue(model_name)
    target = CONTINUATION if model_name == "causal_lm" else None
    runs = []
    for streamed in (True, False):
        ex = interpreto_core.Explainer(model, tokenizer, method=method, granularity="token", batch_size=4,
                                       **METHODS[method])
        assert callable(getattr(ex.aggregator, "stream", None))
        if not streamed:
            ex.aggregator.stream = None  # the aggregator of all S x T gradients at once
        runs.append(ex.explain([PROMPT, "a short one"], targets=[target, target] if target else None))
    for a, b in zip(*runs, strict=True):
        np.testing.assert_allclose(a.scores, b.scores, rtol=1e-4, atol=1e-6)


def test_pack_rows_caps_rows_by_length():
    # three jobs of 10, 100 and 1000 tokens, 8 rows each; at most 4 rows of 100 and 1 of 1000 per chunk
    def cap(length):
        return {10: 8, 100: 4, 1000: 1}[length]

    chunks = list(pack_rows([1000, 10, 100], [8, 8, 8], 32, cap))
    sizes = [sum(len(rs) for _, rs, _ in c) for c in chunks]
    assert sizes == [8, 4, 4] + [1] * 8
    seen = sorted((k, int(r)) for c in chunks for k, rs, _ in c for r in rs)
    assert seen == [(k, r) for k in range(3) for r in range(8)]  # every row once


def test_auto_rows_shrink_with_length_and_budget(classifier):
    assert rows_for(classifier, 8, grad=True) == 32  # tiny rows: the cap
    assert row_bytes(classifier, 200, grad=True) > row_bytes(classifier, 200, grad=False)
    small = rows_for(classifier, 400, grad=True, budget=4 * row_bytes(classifier, 400, grad=True))
    assert small == 4
    assert rows_for(classifier, 400, grad=True, budget=1) == 1


def test_auto_batch_size_splits_long_gradient_rows(classifier, tokenizer):
    text = " ".join(["word"] * 60)
    auto = interpreto_core.Explainer(classifier, tokenizer, method="integrated_gradients", n_steps=8,
                                     memory_budget=2 * row_bytes(classifier, 62, grad=True))
    fixed = interpreto_core.Explainer(classifier, tokenizer, method="integrated_gradients", n_steps=8, batch_size=32)
    a, b = auto.explain(text)[0], fixed.explain(text)[0]
    assert auto.forward_calls == 4 and fixed.forward_calls == 1  # 8 rows, 2 per pass
    np.testing.assert_allclose(a.scores, b.scores, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("bad", [0, -1, 2.5, "big", True])
def test_bad_batch_size_is_refused(classifier, tokenizer, bad):
    with pytest.raises(interpreto_core.InputError, match="batch_size must be a positive integer or 'auto'"):
        interpreto_core.Explainer(classifier, tokenizer, method="saliency", batch_size=bad)

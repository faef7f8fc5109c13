"""Rows cut at the tokens their target needs (Task.row_length): the same attributions, fewer tokens.

A causal LM's target read at position p cannot see the tokens after p, so its gradient rows stop
at p + 1 tokens (a seq2seq decoder's at the source plus decoder positions 0..p). The cut must not
change any score: it is checked here against the same explanation with uncut rows.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

import interpreto_core
from interpreto_core import InputError

PROMPT = "the cat sat on the mat and then"
CONTINUATION = " it slept for a long time"


@pytest.fixture(scope="module")
def t5(tokenizer):
    from transformers import T5Config, T5ForConditionalGeneration

    torch.manual_seed(0)
    config = T5Config(d_model=32, d_ff=64, d_kv=16, num_layers=2, num_heads=2, initializer_factor=0.5,
                      vocab_size=len(tokenizer), pad_token_id=tokenizer.pad_token_id,
                      eos_token_id=tokenizer.sep_token_id, decoder_start_token_id=tokenizer.cls_token_id)
    return T5ForConditionalGeneration(config).eval()


def _run(model, tokenizer, method, text, target, *, cut: bool, reuse_prefix: bool = True, **params):
    ex = interpreto_core.Explainer(model, tokenizer, method=method, granularity="token", **params)
    if not cut:  # the same task, its rows carrying the whole input
        ex.task.row_length = lambda item, targets: item.length
    if not reuse_prefix:  # every row run whole: forward tokens are the rows' own
        ex.task.reuses_prefix = False
    expl = ex.explain(text, targets=target)[0]
    return expl, ex


@pytest.mark.parametrize("model_name", ["causal_lm", "llama_lm", "t5"])
@pytest.mark.parametrize("method", ["integrated_gradients", "saliency", "occlusion"])
def test_cut_rows_give_the_same_scores_with_fewer_tokens(request, tokenizer, model_name, method):
    model = request.getfixturevalue(model_name)
    params = {"n_steps": 8} if method == "integrated_gradients" else {}
    cut, ex_cut = _run(model, tokenizer, method, PROMPT, CONTINUATION, cut=True, **params)
    full, ex_full = _run(model, tokenizer, method, PROMPT, CONTINUATION, cut=False, **params)
    assert len(cut.targets) >= 4
    np.testing.assert_allclose(cut.scores, full.scores, rtol=1e-4, atol=1e-6)
    if method == "occlusion":
        assert ex_cut.forward_rows == ex_full.forward_rows
    if model_name == "t5" and method == "occlusion":  # its last target reads the last decoder token: no cut
        assert ex_cut.forward_tokens == ex_full.forward_tokens
    elif method == "occlusion":
        assert ex_cut.forward_tokens < ex_full.forward_tokens
    else:  # gradients: uncut rows take the shared layout (one row per point), cut rows the cheaper one
        assert ex_cut.forward_tokens <= ex_full.forward_tokens


@pytest.mark.parametrize("layout", ["cut", "shared"])
def test_gradient_rows_carry_exactly_the_tokens_of_their_layout(causal_lm, tokenizer, monkeypatch, layout):
    from interpreto_core import _engine

    monkeypatch.setattr(_engine, "GRADIENT_LAYOUT", layout)
    n_steps = 4
    expl, ex = _run(causal_lm, tokenizer, "integrated_gradients", PROMPT, CONTINUATION, cut=True, n_steps=n_steps)
    item = expl.to_item()
    positions = [t.position for t in item.targets]
    if layout == "cut":  # a row per (point, target), cut at the target
        assert ex.forward_rows == n_steps * len(positions)
        assert ex.forward_tokens == n_steps * sum(p + 1 for p in positions)
    else:  # a row per point, every target read from it, one backward pass each
        assert ex.forward_rows == n_steps
        assert ex.forward_tokens == n_steps * (max(positions) + 1)


@pytest.mark.parametrize("model_name", ["causal_lm", "t5"])
@pytest.mark.parametrize("method", ["integrated_gradients", "vargrad"])
def test_both_gradient_layouts_give_the_same_scores(request, tokenizer, monkeypatch, model_name, method):
    from interpreto_core import _engine

    model = request.getfixturevalue(model_name)
    params = {"n_steps": 6} if method == "integrated_gradients" else {"n_samples": 4}
    out = {}
    for layout in ("cut", "shared"):
        monkeypatch.setattr(_engine, "GRADIENT_LAYOUT", layout)
        ex = interpreto_core.Explainer(model, tokenizer, method=method, granularity="token", batch_size=5, **params)
        out[layout] = ex.explain([PROMPT, "a dog"], targets=[CONTINUATION, " ran away fast"])
    for a, b in zip(out["cut"], out["shared"], strict=True):
        np.testing.assert_allclose(a.scores, b.scores, rtol=1e-4, atol=1e-6)


def test_occlusion_rows_stop_at_the_last_target(causal_lm, tokenizer):
    expl, ex = _run(causal_lm, tokenizer, "occlusion", PROMPT, CONTINUATION, cut=True, reuse_prefix=False)
    item = expl.to_item()
    # the last continuation token is a target, never an input any target can see
    assert ex.forward_tokens == ex.forward_rows * (item.length - 1)
    # with the prefix cache (the default) rows also skip the prefix they share with the input
    cached, ex_cached = _run(causal_lm, tokenizer, "occlusion", PROMPT, CONTINUATION, cut=True)
    np.testing.assert_allclose(cached.scores, expl.scores, rtol=1e-4, atol=1e-5)
    assert ex_cached.forward_tokens < ex.forward_tokens


@pytest.mark.parametrize("bad", [0, 10_000, 2.5])
def test_a_task_with_a_bad_row_length_is_refused(causal_lm, tokenizer, bad):
    ex = interpreto_core.Explainer(causal_lm, tokenizer, method="saliency", granularity="token")
    ex.task.row_length = lambda item, targets: bad
    with pytest.raises(InputError, match="row length"):
        ex.explain(PROMPT, targets=CONTINUATION)

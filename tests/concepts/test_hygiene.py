"""Activation hygiene in collect_activations: tokens with outlier norms (attention sinks / massive
activations) are detected per text, left out of the rows and recorded; rows stay aligned with their
texts, spans and units. The outliers are planted in a copy of the tiny GPT-2 fixture: a huge position
embedding (the first real token of every text, as SmolLM2's) or a huge token embedding (a sink token
wherever it occurs)."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

from interpreto_core import InputError
from interpreto_core.concepts import SplitModel

TEXTS = ["Hello world. Goodbye moon!", "The cat sat on the mat.", "A tiny, tiny test of words", "ok"]


@pytest.fixture(scope="module")
def sink_lm(causal_lm):
    """The tiny GPT-2 with a massive position-1 embedding (position 0 is the [CLS] special token)."""
    model = copy.deepcopy(causal_lm)
    with torch.no_grad():
        wpe = model.transformer.wpe.weight
        wpe[1] = 500.0 * wpe[1] / wpe[1].norm()
    return model


def _acts(model, tokenizer, texts=TEXTS, **kw):
    return SplitModel(model, tokenizer, split_points=0).collect(texts, progress=False, **kw)


def test_planted_first_token_is_left_out_and_recorded(sink_lm, tokenizer):
    every = _acts(sink_lm, tokenizer, keep_outliers=True)
    clean = _acts(sink_lm, tokenizer)
    hy = clean.hygiene
    # one token per text, the first real one, at position 1, and nothing else; "ok" has a single real
    # token, which no other token of its text can show to be an outlier: it is kept
    assert hy.by_position() == {1: 3} and set(hy.reasons) == {"outlier"}
    assert hy.text_index.tolist() == [0, 1, 2] and hy.tokens == ("Hello", "The", "A")
    assert len(clean) == len(every) - 3 == hy.rows_after and hy.rows_before == len(every)
    assert hy.norms.min() > 10 * hy.median_norm
    # the rows kept are exactly the others, with their own text, span and unit
    first = np.r_[True, every.text_index[1:] != every.text_index[:-1]] & (every.text_index != 3)
    torch.testing.assert_close(clean.values, every.values[torch.from_numpy(~first)])
    assert np.array_equal(clean.text_index, every.text_index[~first])
    assert np.array_equal(clean.spans, every.spans[~first])
    assert clean.units == tuple(u for u, f in zip(every.units, first, strict=True) if not f)
    for r in range(len(clean)):
        assert clean.context(r)[1] == clean.units[r]
    assert "left out 3 token(s), 3 of" in clean.summary() and "positions 1 (3)" in clean.summary()
    assert "left out 3 token(s)" in repr(clean) and "'Hello' (1)" in clean.summary()
    assert every.hygiene.n_excluded == 0 and "keep_outliers=True" in every.hygiene.summary()


def test_no_outlier_no_exclusion_on_the_plain_fixtures(request, tokenizer):
    for name in ("classifier", "causal_lm", "llama_lm"):
        model = request.getfixturevalue(name)
        for layer in (0, 1):
            a = SplitModel(model, tokenizer, split_points=layer).collect(TEXTS, progress=False)
            b = SplitModel(model, tokenizer, split_points=layer).collect(TEXTS, progress=False, keep_outliers=True)
            assert a.hygiene.n_excluded == 0 and len(a) == len(b), (name, layer, a.hygiene.summary())


def test_a_sink_token_is_detected_wherever_it_occurs(causal_lm, tokenizer):
    """Not a position rule: the token '.' made massive is left out at each of its positions."""
    model = copy.deepcopy(causal_lm)
    dot = tokenizer.convert_tokens_to_ids(".")
    with torch.no_grad():
        model.transformer.wte.weight[dot] *= 400.0 / model.transformer.wte.weight[dot].norm()
    acts = _acts(model, tokenizer)
    hy = acts.hygiene
    assert set(hy.tokens) == {"."} and hy.n_excluded == sum(t.count(".") for t in TEXTS)
    assert "." not in acts.units


def test_word_and_sample_rows_pool_only_kept_tokens(sink_lm, tokenizer):
    tok = _acts(sink_lm, tokenizer, keep_outliers=True)
    hy = _acts(sink_lm, tokenizer).hygiene
    out = {(int(i), int(p)) for i, p in zip(hy.text_index, hy.positions, strict=True)}
    word = _acts(sink_lm, tokenizer, granularity="word")
    # "Hello", "The" and "A" are single tokens: their word rows are gone
    assert word.hygiene.rows_before - len(word) == 3 and word.units[0] == "world"
    sample = _acts(sink_lm, tokenizer, granularity="sample")
    for i in range(len(TEXTS)):
        rows = tok.text_index == i
        first = np.flatnonzero(rows)[0] if (i, 1) in out else -1
        kept = torch.from_numpy(rows & (np.arange(len(tok)) != first))
        torch.testing.assert_close(sample.values[i], tok.values[kept].mean(0))
    assert len(out) == 3
    last = _acts(sink_lm, tokenizer, granularity="sentence", reduce="last")
    assert len(last) == _acts(sink_lm, tokenizer, granularity="sentence", keep_outliers=True).hygiene.rows_before


def test_exclude_positions_and_callable(causal_lm, tokenizer):
    every = _acts(causal_lm, tokenizer, keep_outliers=True)
    no_first = _acts(causal_lm, tokenizer, keep_outliers=True, exclude_positions=(1,))
    assert no_first.hygiene.by_position() == {1: 4} and set(no_first.hygiene.reasons) == {"position"}
    assert len(no_first) == len(every) - 4

    def last_token(tokens):
        return [len(tokens) - 1]

    no_last = _acts(causal_lm, tokenizer, keep_outliers=True, exclude_positions=last_token)
    assert no_last.hygiene.tokens == ("!", ".", "words", "ok") or sorted(no_last.hygiene.tokens) == sorted(
        ["!", ".", "words", "ok"])
    assert "positions last_token" in no_last.hygiene.rule
    assert len(_acts(causal_lm, tokenizer, keep_outliers=True, exclude_positions=(-1,))) == len(every) - 4


def test_one_position_granularities_keep_their_position(sink_lm, tokenizer):
    acts = _acts(sink_lm, tokenizer, granularity="last_token")
    assert len(acts) == len(TEXTS) and acts.hygiene.factor is None and "no outlier rule" in acts.hygiene.rule
    with pytest.raises(InputError, match="left no"):
        _acts(sink_lm, tokenizer, texts=["ok"], exclude_positions=(1,))


def test_standardize_and_memmap(sink_lm, tokenizer, tmp_path):
    plain = _acts(sink_lm, tokenizer)
    std = _acts(sink_lm, tokenizer, standardize=True, ram_budget=0, memmap_dir=tmp_path)
    assert std.path is not None and std.path.startswith(str(tmp_path)) and len(list(tmp_path.iterdir())) == 1
    torch.testing.assert_close(std.values.mean(0), torch.zeros(std.hidden_size), atol=1e-5, rtol=0)
    torch.testing.assert_close(std.values.std(0, correction=0), torch.ones(std.hidden_size), atol=1e-4, rtol=0)
    torch.testing.assert_close(std.values * std.hygiene.std + std.hygiene.mean, plain.values, atol=1e-4, rtol=1e-4)
    assert np.array_equal(std.text_index, plain.text_index) and "standardised" in std.summary()


def test_bad_hygiene_options(causal_lm, tokenizer):
    with pytest.raises(InputError, match="outlier_factor"):
        _acts(causal_lm, tokenizer, outlier_factor=1)
    with pytest.raises(InputError, match="exclude_positions"):
        _acts(causal_lm, tokenizer, exclude_positions=0)
    with pytest.raises(InputError, match="integer token positions"):
        _acts(causal_lm, tokenizer, exclude_positions=("a",))

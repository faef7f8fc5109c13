"""Split points and activation collection on the tiny BERT, GPT-2 and Llama fixtures."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from interpreto_core import InputError
from interpreto_core.concepts import SplitModel, collect_activations

TEXTS = ["Hello world. Goodbye moon!", "The cat sat on the mat.", "A tiny, tiny test of words"]


def _reference(model, tokenizer, text, layer, causal):
    enc = tokenizer(text, return_tensors="pt")
    ids = enc["input_ids"]
    if causal:  # the adapter drops the trailing [SEP] of a prompt
        ids = ids[:, :-1]
    with torch.no_grad():
        out = model(input_ids=ids, output_hidden_states=True)
    return out.hidden_states[layer + 1][0], ids[0]


@pytest.mark.parametrize("name", ["classifier", "causal_lm", "llama_lm"])
def test_token_activations_match_hidden_states(request, tokenizer, name):
    model = request.getfixturevalue(name)
    causal = name != "classifier"
    split = SplitModel(model, tokenizer, split_points=0)
    acts = split.collect(TEXTS, granularity="token", batch_size=2, progress=False)  # padding in play
    for i, text in enumerate(TEXTS):
        ref, ids = _reference(model, tokenizer, text, 0, causal)
        special = torch.tensor([t in tokenizer.all_special_ids for t in ids.tolist()])
        got = acts.values[acts.text_index == i]
        # Llama's last layer output is pre-norm, hidden_states[1] is the block output: same thing at layer 0
        torch.testing.assert_close(got, ref[~special], atol=1e-5, rtol=1e-4)


def test_granularities_pool_tokens(classifier, tokenizer):
    split = SplitModel(classifier, tokenizer, split_points=1)
    tok = split.collect(TEXTS, granularity="token", progress=False)
    word = split.collect(TEXTS, granularity="word", progress=False)
    assert word.units[:6] == ("Hello", "world", ".", "Goodbye", "moon", "!")
    # every word row is the mean of the token rows whose span lies inside it
    for r in range(len(word)):
        i, (s, e) = word.text_index[r], word.spans[r]
        inside = (tok.text_index == i) & (tok.spans[:, 0] >= s) & (tok.spans[:, 1] <= e)
        torch.testing.assert_close(word.values[r], tok.values[inside].mean(0))
    sent = split.collect(TEXTS, granularity="sentence", progress=False)
    assert sent.units[:2] == ("Hello world.", "Goodbye moon!")
    sample = split.collect(TEXTS, granularity="sample", progress=False)
    for i in range(len(TEXTS)):
        torch.testing.assert_close(sample.values[i], tok.values[tok.text_index == i].mean(0))
    first = split.collect(TEXTS, granularity="first_token", progress=False)
    enc = tokenizer(TEXTS[0], return_tensors="pt")
    with torch.no_grad():
        ref = classifier(**enc, output_hidden_states=True).hidden_states[2][0, 0]
    torch.testing.assert_close(first.values[0], ref, atol=1e-5, rtol=1e-4)
    last = split.collect(TEXTS, granularity="word", reduce="last", progress=False)
    assert last.values.shape == word.values.shape
    mx = split.collect(TEXTS, granularity="sample", reduce="max", progress=False)
    torch.testing.assert_close(mx.values[0], tok.values[tok.text_index == 0].max(0).values)


def test_memmap_float16_and_several_points(classifier, tokenizer, tmp_path):
    # "bert.encoder.layer.0.output" is BertOutput, a submodule nnsight renames E_output
    split = SplitModel(classifier, tokenizer, split_points=[1, "bert.encoder.layer.0.output"])
    assert split.split_points == ("bert.encoder.layer.0.output", "bert.encoder.layer.1")
    acts = collect_activations(split, TEXTS, granularity="word", dtype=torch.float16, ram_budget=0,
                               memmap_dir=tmp_path, progress=False)
    ram = collect_activations(split, TEXTS, granularity="word", progress=False)
    for point, a in acts.items():
        assert a.values.dtype == torch.float16 and a.path is not None and a.path.startswith(str(tmp_path))
        torch.testing.assert_close(a.values.float(), ram[point].values, atol=2e-2, rtol=1e-2)
    left, unit, right = ram["bert.encoder.layer.1"].context(3, chars=5)
    assert (left, unit, right) == ("…rld. ", "Goodbye", " moon…")


def test_user_model_untouched(causal_lm, tokenizer):
    before = {k: v.clone() for k, v in causal_lm.state_dict().items()}
    forward = causal_lm.forward
    split = SplitModel(causal_lm, tokenizer, split_points=-1)
    split.collect(TEXTS, progress=False)
    assert causal_lm.forward == forward
    assert all("forward" not in vars(m) for m in causal_lm.modules())
    assert all(torch.equal(before[k], v) for k, v in causal_lm.state_dict().items())
    # the copy shares weights: no memory duplicated
    assert next(split._copy.parameters()) is next(causal_lm.parameters())


def test_bad_inputs(classifier, tokenizer):
    with pytest.raises(InputError, match="out of range"):
        SplitModel(classifier, tokenizer, split_points=7)
    with pytest.raises(InputError, match="no module"):
        SplitModel(classifier, tokenizer, split_points="bert.encoder.layer.9")
    split = SplitModel(classifier, tokenizer, split_points=0)
    with pytest.raises(InputError, match="granularity"):
        split.collect(TEXTS, granularity="paragraph")
    with pytest.raises(InputError, match="not a split point"):
        split.collect(TEXTS, split_point=1)
    assert np.all(split.collect(TEXTS[:1], granularity="sample", progress=False).spans[0] == [0, len(TEXTS[0])])

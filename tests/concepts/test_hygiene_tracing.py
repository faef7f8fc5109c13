"""Concept importance and ConceptModel apply the activation hygiene the learner was fitted under.

A forward hook multiplies one position of the token embeddings by 1e4 (a massive activation, as on
the attention-sink token of Llama-family models); the split point is block 0 (the residual stream
carries it; block 1 mixes positions, so every position's codes reach the next-token score).
Position 1 is the first real token (SmolLM2: no BOS), position 0 the [CLS] that is a BOS here.
"""

from __future__ import annotations

import copy
import json

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file

from interpreto_core import InputError
from interpreto_core.concepts import ConceptModel, SplitModel, concept_importance, load_learner, make_learner

TEXTS = ["Hello world. Goodbye moon!", "The cat sat on the mat.", "A b c d e f g", "Stocks fell sharply today.",
         "Rain is expected tomorrow in Paris.", "The team won the cup final again."]


def _massive(model, position):
    """A copy of ``model`` whose token embeddings are scaled by 1e4 at ``position`` (the test's own hook),
    and its block 0."""
    hooked = copy.deepcopy(model)
    blocks = hooked.transformer.h if hasattr(hooked, "transformer") else hooked.model.layers

    def hook(module, inputs, output):
        h = (output[0] if isinstance(output, tuple) else output).clone()
        h[:, position] = h[:, position] * 1e4
        return (h, *output[1:]) if isinstance(output, tuple) else h

    hooked.get_input_embeddings().register_forward_hook(hook)
    return hooked, blocks[0]


def _by_hand(model, block, ids, learner, *, drop, standardize, add_error):
    """grad x activation over the kept positions only, by a hook on a test-owned forward (one text)."""
    store = {}
    mean = learner.hygiene.mean if standardize else torch.zeros(learner.hidden_size)
    std = learner.hygiene.std if standardize else torch.ones(learner.hidden_size)

    def hook(module, inputs, output):
        h = (output[0] if isinstance(output, tuple) else output).detach()
        kept = [p for p in range(h.shape[1]) if p not in drop]
        x = h[0, kept]
        z = learner.encode((x - mean) / std).detach().requires_grad_(True)
        recon = learner.decode(z) * std + mean
        if add_error:
            recon = recon + (x - recon).detach()
        new = h.clone()
        new[0, kept] = recon
        store["z"] = z
        return (new, *output[1:]) if isinstance(output, tuple) else new

    handle = block.register_forward_hook(hook)
    try:
        logits = model(input_ids=torch.tensor([ids])).logits
    finally:
        handle.remove()
    score = logits[0, -1].log_softmax(-1).max()
    (grad,) = torch.autograd.grad(score, store["z"])
    return (grad * store["z"]).sum(0).detach().double().numpy(), float(score.detach())


@pytest.mark.parametrize("model_name", ["causal_lm", "llama_lm"])
@pytest.mark.parametrize("position", [1, 0])
@pytest.mark.parametrize("standardize", [False, True])
def test_importance_leaves_the_massive_position_out(request, tokenizer, model_name, position, standardize):
    model, block = _massive(request.getfixturevalue(model_name), position)
    split = SplitModel(model, tokenizer, split_points=0)
    acts = split.collect(TEXTS, progress=False, standardize=standardize)
    # position 1 is a row, left out by the collection; position 0 ([CLS]) is no row: only scoring judges it
    assert acts.hygiene.n_excluded == (len(TEXTS) if position == 1 else 0)
    pca = make_learner("pca", n_concepts=6).fit(acts)
    assert pca.hygiene.factor == 10.0 and pca.hygiene.standardized is standardize
    for add_error in (True, False):
        imp = concept_importance(split, pca, TEXTS, batch_size=4, progress=False, add_error=add_error)
        assert imp.excluded == ((position,),) * len(TEXTS)
        ids = [split.adapter.encode(t).input_ids for t in TEXTS]
        ref = [_by_hand(model, block, i, pca, drop={position}, standardize=standardize, add_error=add_error)
               for i in ids]
        np.testing.assert_allclose(imp.per_text, np.stack([r[0] for r in ref]), rtol=1e-4, atol=1e-4)
        np.testing.assert_allclose(imp.scores, [r[1] for r in ref], rtol=1e-5, atol=1e-5)
        raw = concept_importance(split, pca, TEXTS, batch_size=4, progress=False, hygiene=False,
                                 add_error=add_error)
        assert raw.excluded == ((),) * len(TEXTS) and raw.hygiene is None
        # the sink row's codes pollute the raw importances
        assert np.abs(raw.per_text - imp.per_text).max() > 10 * np.abs(imp.per_text).max() * 1e-3


@pytest.mark.parametrize("standardize", [False, True])
def test_an_exact_learner_reproduces_the_model(causal_lm, tokenizer, standardize):
    model, _ = _massive(causal_lm, 1)
    split = SplitModel(model, tokenizer, split_points=0)
    texts = TEXTS * 2
    acts = split.collect(texts, progress=False, standardize=standardize)
    full = make_learner("pca", n_concepts=acts.hidden_size).fit(acts)  # every component: exact
    imp = concept_importance(split, full, texts, progress=False, add_error=False)  # runs on the reconstruction
    ids = [split.adapter.encode(t).input_ids for t in texts]
    with torch.no_grad():
        own = [float(model(input_ids=torch.tensor([i])).logits[0, -1].log_softmax(-1).max()) for i in ids]
    np.testing.assert_allclose(imp.scores, own, rtol=1e-5, atol=1e-5)
    assert all(e == (1,) for e in imp.excluded)


def test_concept_model_standardises_and_pools_the_kept_positions(llama_lm, tokenizer):
    model, block = _massive(llama_lm, 1)
    split = SplitModel(model, tokenizer, split_points=0)
    acts = split.collect(TEXTS, progress=False, standardize=True)
    pca = make_learner("pca", n_concepts=5).fit(acts)
    cm, raw = ConceptModel(split, pca), ConceptModel(split, pca, hygiene=False)
    enc = split.adapter.encode(TEXTS[1])
    ids = torch.tensor([enc.input_ids])
    with torch.no_grad():
        h = model(input_ids=ids, output_hidden_states=True).hidden_states[1][0]  # block 0's output
        got = cm(input_ids=ids, attention_mask=torch.ones_like(ids)).logits[0]
        got_raw = raw(input_ids=ids, attention_mask=torch.ones_like(ids)).logits[0]
    kept = [p for p in range(len(enc.input_ids)) if p != 1]
    expected = pca.encode((h[kept] - pca.hygiene.mean) / pca.hygiene.std).mean(0)
    torch.testing.assert_close(got, expected, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(got_raw, pca.encode(h).mean(0), atol=1e-4, rtol=1e-4)
    assert (got - got_raw).abs().max() > 1.0


def test_hygiene_is_saved_and_old_files_still_load(causal_lm, tokenizer, tmp_path):
    model, _ = _massive(causal_lm, 1)
    split = SplitModel(model, tokenizer, split_points=0)
    acts = split.collect(TEXTS, progress=False, standardize=True)
    pca = make_learner("pca", n_concepts=4).fit(acts)
    folder = pca.save(tmp_path / "new")
    loaded = load_learner(folder)
    assert loaded.hygiene.to_config() == pca.hygiene.to_config()
    torch.testing.assert_close(loaded.hygiene.std, pca.hygiene.std)
    before = concept_importance(split, pca, TEXTS, progress=False)
    np.testing.assert_allclose(concept_importance(split, loaded, TEXTS, progress=False).per_text, before.per_text,
                               rtol=1e-6, atol=1e-8)
    # a learner saved before hygiene was recorded: no 'hygiene' key, no statistics in the weights
    old = tmp_path / "old"
    old.mkdir()
    config = json.loads((folder / "config.json").read_text())
    del config["hygiene"]
    (old / "config.json").write_text(json.dumps(config))
    weights = {k: v for k, v in load_file(str(folder / "weights.safetensors")).items() if not k.startswith("_hygiene")}
    save_file(weights, str(old / "weights.safetensors"))
    legacy = load_learner(old)
    assert legacy.hygiene is None and "not fitted" not in repr(legacy)
    np.testing.assert_allclose(concept_importance(split, legacy, TEXTS, progress=False).per_text,
                               concept_importance(split, pca, TEXTS, progress=False, hygiene=False).per_text,
                               rtol=1e-6, atol=1e-8)
    # an explicit override gives the legacy learner its hygiene back
    np.testing.assert_allclose(concept_importance(split, legacy, TEXTS, progress=False, hygiene=acts).per_text,
                               before.per_text, rtol=1e-6, atol=1e-8)
    # tampered: standardised without statistics, a bad factor
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "weights.safetensors").write_bytes((old / "weights.safetensors").read_bytes())
    (bad / "config.json").write_text(json.dumps(config | {"hygiene": pca.hygiene.to_config()}))
    with pytest.raises(InputError, match=r"bad.*weights.safetensors.*no hygiene mean / std") as err:
        load_learner(bad)
    assert "\n" not in str(err.value)
    (bad / "config.json").write_text(json.dumps(config | {"hygiene": pca.hygiene.to_config() | {
        "standardized": False, "factor": "ten"}}))
    with pytest.raises(InputError, match="factor"):
        load_learner(bad)


def test_callable_positions_and_bare_tensors(causal_lm, tokenizer, tmp_path):
    split = SplitModel(causal_lm, tokenizer, split_points=0)

    def first_real(tokens):
        return [1]

    acts = split.collect(TEXTS, progress=False, exclude_positions=first_real)
    pca = make_learner("pca", n_concepts=4).fit(acts)
    imp = concept_importance(split, pca, TEXTS, progress=False)
    assert all(1 in e for e in imp.excluded)
    loaded = load_learner(pca.save(tmp_path / "callable"))  # the callable is not saved: only its name
    assert loaded.hygiene.exclude_description == "first_real" and loaded.hygiene.exclude_positions is None
    with pytest.raises(InputError, match="callable"):
        concept_importance(split, loaded, TEXTS, progress=False)
    np.testing.assert_allclose(concept_importance(split, loaded, TEXTS, progress=False, hygiene=acts).per_text,
                               imp.per_text, rtol=1e-6, atol=1e-8)
    with pytest.raises(InputError, match="callable"):
        ConceptModel(split, pca)
    tensor_fit = make_learner("pca", n_concepts=4).fit(acts.values)
    assert tensor_fit.hygiene is None
    with pytest.raises(InputError, match="hygiene"):
        concept_importance(split, pca, TEXTS, progress=False, hygiene="yes")

"""Concept importance (against a hook-based reference) and input -> concept traceability."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from interpreto_core import InputError
from interpreto_core.concepts import SplitModel, concept_adapter, concept_importance, explain_concept, make_learner

TEXTS = ["Hello world. Goodbye moon!", "The cat sat.", "A b c d e f g"]


def _reference(model, tokenizer, layer_module, text, target, *, causal):
    """grad x activation at a block output, by a temporary hook on a *test-owned* forward."""
    enc = tokenizer(text, return_tensors="pt")
    ids = enc["input_ids"][:, :-1] if causal else enc["input_ids"]
    store = {}

    def hook(module, inputs, output):
        h = output.detach().requires_grad_(True)
        store["h"] = h
        return h

    handle = layer_module.register_forward_hook(hook)
    try:
        logits = model(input_ids=ids).logits
    finally:
        handle.remove()
    score = logits[0, target] if not causal else logits[0, -1].log_softmax(-1)[target]
    (grad,) = torch.autograd.grad(score, store["h"])
    return (grad * store["h"]).sum(1)[0].detach().double().numpy()


def test_importance_of_neurons_matches_reference(classifier, tokenizer):
    split = SplitModel(classifier, tokenizer, split_points=0)
    neurons = make_learner("neurons").fit(split.collect(TEXTS, progress=False))
    imp = concept_importance(split, neurons, TEXTS, targets=1, batch_size=2, progress=False)  # padding in play
    ref = np.stack([_reference(classifier, tokenizer, classifier.bert.encoder.layer[0], t, 1, causal=False)
                    for t in TEXTS])
    np.testing.assert_allclose(imp.per_text, ref, atol=1e-4)
    np.testing.assert_allclose(imp.mean, ref.mean(0), atol=1e-4)
    assert imp.labels == ("LABEL_1",) * 3 and imp.method == "gradient_x_activation"


def test_importance_on_a_causal_lm(causal_lm, tokenizer):
    split = SplitModel(causal_lm, tokenizer, split_points=0)
    neurons = make_learner("neurons").fit(split.collect(TEXTS, progress=False))
    target = tokenizer.convert_tokens_to_ids("the")
    imp = concept_importance(split, neurons, TEXTS, targets=target, progress=False)
    ref = np.stack([_reference(causal_lm, tokenizer, causal_lm.transformer.h[0], t, target, causal=True)
                    for t in TEXTS])
    np.testing.assert_allclose(imp.per_text, ref, atol=1e-4)


def test_importance_with_a_lossy_learner_keeps_the_output(classifier, tokenizer):
    # the reconstruction error is added back: importances of a 2-concept PCA are finite and the
    # predicted class is the model's own
    split = SplitModel(classifier, tokenizer, split_points=1)
    pca = make_learner("pca", n_concepts=2).fit(split.collect(TEXTS, progress=False))
    imp = concept_importance(split, pca, TEXTS, progress=False)
    enc = tokenizer(TEXTS, return_tensors="pt", padding=True)
    with torch.no_grad():
        predicted = classifier(**enc).logits.argmax(-1).tolist()
    assert list(imp.targets) == predicted and imp.per_text.shape == (3, 2) and np.isfinite(imp.per_text).all()
    assert len(imp.top(2)) == 2
    with pytest.raises(InputError, match="targets"):
        concept_importance(split, pca, TEXTS, targets=[0, 1])


def test_concept_as_attribution_target(classifier, tokenizer):
    split = SplitModel(classifier, tokenizer, split_points=0)
    acts = split.collect(TEXTS, progress=False)
    pca = make_learner("pca", n_concepts=3).fit(acts)
    # the adapter's "logits" are the mean concept codes over the text's tokens
    adapter = concept_adapter(split, pca, concepts=[2, 0])
    enc = tokenizer(TEXTS[0], return_tensors="pt")
    with torch.no_grad():
        hidden = classifier(**enc, output_hidden_states=True).hidden_states[1][0]
        expected = pca.encode(hidden).mean(0)[[2, 0]]
        got = adapter.model(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"]).logits[0]
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-4)
    ex = explain_concept(split, pca, TEXTS[:2], concepts=[0, 2], method="integrated_gradients",
                         completeness_delta=True)
    assert [t.label for t in ex[0].targets] == ["concept 0", "concept 2"]
    assert ex[0].elements == ("Hello", "world", ".", "Goodbye", "moon", "!")
    assert np.abs(ex[0].extras["completeness_delta"]).max() < 0.05  # IG completeness on the concept score
    occ = explain_concept(split, pca, TEXTS[0], concepts=1, method="occlusion")
    assert occ[0].scores.shape == (1, 6)
    with pytest.raises(InputError, match="out of range"):
        concept_adapter(split, pca, concepts=[3])

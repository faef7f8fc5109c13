"""Interpreters: top-k inputs as whole words, vocabulary projection, LM labels (tiny LM)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from interpreto_core import InputError
from interpreto_core.concepts import Activations, SplitModel, interpret_concepts, make_learner

TEXTS = ["The footballer scored twice.", "Stocks fell on Monday.", "A footballer and a striker."]


def _acts(values, units, spans, text_index, texts, granularity="word"):
    return Activations(values=torch.tensor(values, dtype=torch.float32), text_index=np.array(text_index),
                       spans=np.array(spans), units=tuple(units), texts=tuple(texts), granularity=granularity,
                       split_point="x")


def test_topk_inputs_reads_whole_words_with_context():
    # token rows: "foot" and "##baller" fragments of "footballer"; neurons learner: concept c = unit c
    texts = ("The footballer scored.", "Stocks fell.")
    acts = _acts(
        [[0.1, 0.0], [5.0, 0.0], [0.2, 0.0], [0.0, 3.0], [0.0, 0.5]],
        ["The", "foot", "scored", "Stocks", "fell"],
        [(0, 3), (4, 8), (15, 21), (0, 6), (7, 11)],
        [0, 0, 0, 1, 1], texts, granularity="token",
    )
    neurons = make_learner("neurons").fit(acts.values)
    found = interpret_concepts(neurons, activations=acts, k=2, n_examples=1, context_chars=4)
    assert found[0].words[0] == ("footballer", 5.0)
    assert found[0].examples[0] == ("The ", "footballer", " sco…", 5.0)
    assert [w for w, _ in found[1].words] == ["stocks", "fell"]
    mean = interpret_concepts(neurons, activations=acts, concepts=[0], aggregate="mean", k=5)
    assert mean[0].concept == 0 and mean[0].words[0][0] == "footballer"
    with pytest.raises(InputError, match="out of range"):
        interpret_concepts(neurons, activations=acts, concepts=[5])
    with pytest.raises(InputError, match="Activations"):
        interpret_concepts(neurons, activations=acts.values)


def test_topk_inputs_on_a_split_model(classifier, tokenizer):
    split = SplitModel(classifier, tokenizer, split_points=1)
    acts = split.collect(TEXTS, granularity="token", progress=False)
    pca = make_learner("pca", n_concepts=3).fit(acts)
    found = interpret_concepts(pca, activations=acts, k=3)
    words = {w for f in found for w, _ in f.words}
    # every reported unit is a whole word of the texts, never a "##" fragment
    vocab = {w.strip(".").lower() for t in TEXTS for w in t.split()}
    assert words <= vocab | {"."} and not any(w.startswith("##") for w in words)


def test_vocabulary_projection_matches_unembedding(causal_lm, tokenizer, classifier):
    split = SplitModel(causal_lm, tokenizer, split_points=-1)
    acts = split.collect(TEXTS, progress=False)
    pca = make_learner("pca", n_concepts=2).fit(acts)
    found = interpret_concepts(pca, method="vocabulary_projection", split=split, k=3)
    d = pca.dictionary[0] * causal_lm.transformer.ln_f.weight.detach()
    top = (causal_lm.lm_head.weight.detach() @ d).topk(3).indices
    assert [w for w, _ in found[0].words] == [tokenizer.decode([int(i)]) for i in top]
    bert = SplitModel(classifier, tokenizer, split_points=-1)
    with pytest.raises(InputError, match="classifier"):
        interpret_concepts(pca, method="vocabulary_projection", split=bert)


def test_lm_labels_with_a_given_local_lm(causal_lm, tokenizer, classifier):
    split = SplitModel(classifier, tokenizer, split_points=1)
    acts = split.collect(TEXTS, granularity="word", progress=False)
    pca = make_learner("pca", n_concepts=2).fit(acts)
    found = interpret_concepts(pca, method="lm_labels", activations=acts, concepts=[0], model=causal_lm,
                               tokenizer=tokenizer, max_new_tokens=3, chat=False)
    assert len(found) == 1 and isinstance(found[0].label, str)
    assert found[0].words[0][0] in found[0].extras["prompt"]
    with pytest.raises(InputError, match="both model"):
        interpret_concepts(pca, method="lm_labels", activations=acts, model=causal_lm)

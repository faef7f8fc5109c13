"""Sequence classification of text pairs (NLI, cross-encoders), and contrastive class targets."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import interpreto_core
from interpreto_core import InputError

PAIR = ("A man is playing a guitar on stage.", "Someone makes music")


def _logits(model, tokenizer, ids, types):
    with torch.no_grad():
        return model(input_ids=torch.tensor([ids]), token_type_ids=torch.tensor([types])).logits[0]


def test_pair_elements_come_from_both_texts_with_their_segment(classifier, tokenizer):
    expl = interpreto_core.explain(classifier, tokenizer, PAIR, method="occlusion")[0]
    assert expl.task == "sequence_classification" and expl.input == list(PAIR)
    words_a = ["A", "man", "is", "playing", "a", "guitar", "on", "stage", "."]
    words_b = ["Someone", "makes", "music"]
    assert list(expl.elements) == words_a + words_b
    assert expl.segments == (0,) * len(words_a) + (1,) * len(words_b)
    assert expl.segment_names == ("text_a", "text_b")
    for e, span in enumerate(expl.spans):
        assert expl.text[span[0]: span[1]] == expl.elements[e]


def test_pair_occlusion_equals_a_hand_computation_with_token_types(classifier, tokenizer):
    enc = tokenizer(*PAIR)
    ids, types = enc["input_ids"], enc["token_type_ids"]
    full = _logits(classifier, tokenizer, ids, types)
    target = int(full.argmax())
    expl = interpreto_core.explain(classifier, tokenizer, PAIR, method="occlusion")[0]
    assert expl.targets[0].index == target  # the predicted class, computed with the pair's token types
    for e, group in enumerate(expl.token_groups):
        masked = list(ids)
        for t in group:
            masked[t] = tokenizer.mask_token_id
        expected = full[target] - _logits(classifier, tokenizer, masked, types)[target]
        assert expl.scores[0, e] == pytest.approx(float(expected), abs=1e-5)


def test_pair_integrated_gradients_is_complete_and_round_trips(classifier, tokenizer):
    expl = interpreto_core.explain(classifier, tokenizer, [PAIR, ["a cat", "a dog"]], method="integrated_gradients",
                                   n_steps=64, completeness_delta=True)
    for e in expl:
        delta = np.array(e.extras["completeness_delta"])
        change = e.scores.sum(1) - delta
        assert np.abs(delta).max() <= 1e-2 * np.abs(change).max()
        assert interpreto_core.Explanation.from_json(e.to_json()) == e
    results = interpreto_core.evaluate(classifier, tokenizer, expl, metrics=["deletion", "comprehensiveness"])
    assert all(np.isfinite(r.values).all() for r in results.values())


def test_contrast_is_the_difference_of_two_occlusions(classifier, tokenizer):
    text = "an unexpectedly moving film"
    both = interpreto_core.explain(classifier, tokenizer, text, method="occlusion", targets=2, contrast=0)[0]
    assert both.score == "contrast" and both.targets[0].foil == 0
    a = interpreto_core.explain(classifier, tokenizer, text, method="occlusion", targets=2, score="logit")[0]
    b = interpreto_core.explain(classifier, tokenizer, text, method="occlusion", targets=0, score="logit")[0]
    np.testing.assert_allclose(both.scores, a.scores - b.scores, atol=1e-6)
    # label names work for targets and foils alike
    named = interpreto_core.explain(classifier, tokenizer, text, method="occlusion", targets="LABEL_2",
                                    contrast="LABEL_0")[0]
    np.testing.assert_allclose(named.scores, both.scores)


def test_pair_errors_name_the_task(classifier, tokenizer, causal_lm):
    with pytest.raises(InputError, match="task 'sequence_classification': both texts of a pair must be non-empty"):
        interpreto_core.explain(classifier, tokenizer, ("a", " "), method="occlusion")
    with pytest.raises(InputError, match=r"task 'causal_lm': got list .*\(an input of this task is a prompt string"):
        interpreto_core.explain(causal_lm, tokenizer, [list(PAIR)], method="occlusion", targets=" x")
    with pytest.raises(InputError, match="contrast has 2 classes for 1 targets"):
        interpreto_core.explain(classifier, tokenizer, "fine", method="occlusion", targets=[[1]], contrast=[[0, 2]])
    with pytest.raises(InputError, match="score 'contrast' compares the target with a foil"):
        interpreto_core.explain(classifier, tokenizer, "fine", method="occlusion", score="contrast")


def test_a_contrast_for_some_inputs_only_is_refused(classifier, tokenizer):
    with pytest.raises(InputError, match=r"input\(s\) \[1\] have no contrast"):
        interpreto_core.explain(classifier, tokenizer, ["good", "bad"], method="occlusion", targets=1,
                                contrast=[2, None])

"""Token classification: targets are (element, label) pairs read at the element's first token."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import interpreto_core
from interpreto_core import InputError

TEXT = "Anna Zurbriggen visited Zermatt."


def _logits(model, tokenizer, text):
    with torch.no_grad():
        return model(**tokenizer(text, return_tensors="pt")).logits[0]


def test_default_targets_are_every_elements_predicted_label(token_classifier, tokenizer):
    expl = interpreto_core.explain(token_classifier, tokenizer, TEXT, method="occlusion")[0]
    logits = _logits(token_classifier, tokenizer, TEXT)
    labels = token_classifier.config.id2label
    assert expl.task == "token_classification" and expl.score == "logit"
    assert len(expl.targets) == len(expl.elements) == 5 and expl.scores.shape == (5, 5)
    assert any(len(g) > 1 for g in expl.token_groups)  # a word of several sub-tokens: read at its first
    for e, (target, group) in enumerate(zip(expl.targets, expl.token_groups, strict=True)):
        assert target.position == min(group) and target.info == {"element": e}
        assert target.index == int(logits[target.position].argmax())
        assert target.label == f"{expl.elements[e]}: {labels[target.index]}"


def test_given_targets_by_id_and_by_name(token_classifier, tokenizer):
    expl = interpreto_core.explain(token_classifier, tokenizer, TEXT, method="saliency",
                                   targets=[[(0, "B-PER"), (3, 3), (1, None)]])[0]
    logits = _logits(token_classifier, tokenizer, TEXT)
    assert [t.index for t in expl.targets[:2]] == [1, 3]
    assert [t.label for t in expl.targets[:2]] == ["Anna: B-PER", "Zermatt: B-LOC"]
    assert expl.targets[2].index == int(logits[expl.targets[2].position].argmax())  # None: the predicted label
    assert [t.info["element"] for t in expl.targets] == [0, 3, 1] and expl.scores.shape == (3, 5)
    one = interpreto_core.explain(token_classifier, tokenizer, TEXT, method="saliency", targets=[(0, "B-PER")])[0]
    np.testing.assert_allclose(one.scores[0], expl.scores[0], rtol=1e-5, atol=1e-7)  # a pair alone, same row


def test_contrast_is_the_difference_of_the_two_labels(token_classifier, tokenizer):
    targets = [[(0, "B-PER"), (3, "B-LOC")]]
    run = lambda **kw: interpreto_core.explain(token_classifier, tokenizer, TEXT, method="occlusion", **kw)[0]  # noqa: E731
    contrast = run(targets=targets, contrast="O")
    assert contrast.score == "contrast" and [t.foil for t in contrast.targets] == [0, 0]
    assert contrast.targets[0].foil_label == "Anna: O"
    target = run(targets=targets)
    foil = run(targets=[[(0, "O"), (3, 0)]])
    np.testing.assert_allclose(contrast.scores, target.scores - foil.scores, atol=1e-5)
    per_target = run(targets=targets, contrast=[["O", "I-LOC"]])
    assert [t.foil for t in per_target.targets] == [0, 4]


@pytest.mark.parametrize("granularity", ["token", "word", "sentence", "all_tokens"])
def test_granularities(token_classifier, tokenizer, granularity):
    expl = interpreto_core.explain(token_classifier, tokenizer, "Anna sang. Bob left!", method="occlusion",
                                   granularity=granularity)[0]
    n = {"token": 6, "word": 6, "sentence": 2, "all_tokens": 8}[granularity]
    assert len(expl.elements) == n and expl.scores.shape == (n, n)
    assert [t.position for t in expl.targets] == [min(g) for g in expl.token_groups]


def test_bad_targets_name_the_task(token_classifier, tokenizer):
    run = lambda **kw: interpreto_core.explain(token_classifier, tokenizer, TEXT, method="occlusion", **kw)  # noqa: E731
    with pytest.raises(InputError, match=r"task 'token_classification': target element 5 is out of range: the input "
                                         r"has 5 elements \(0\.\.4\)"):
        run(targets=[(5, "O")])
    with pytest.raises(InputError, match=r"task 'token_classification': target label 'B-ORG' is not a label of the "
                                         r"model; labels: O, B-PER, I-PER, B-LOC, I-LOC"):
        run(targets=[(0, "B-ORG")])
    with pytest.raises(InputError, match="target label 7 is out of range: the model has 5 labels"):
        run(targets=[(0, 7)])
    with pytest.raises(InputError, match=r"a target is an \(element_index, label\) pair"):
        run(targets="B-PER")
    with pytest.raises(InputError, match="contrast label 'X' is not a label"):
        run(targets=[(0, 1)], contrast="X")
    with pytest.raises(InputError, match="contrast has 3 labels for 1 targets"):
        run(targets=[(0, 1)], contrast=[[0, 0, 0]])
    with pytest.raises(InputError, match=r"task 'token_classification': got tuple"):
        interpreto_core.explain(token_classifier, tokenizer, ("a text", "a pair"), method="occlusion")

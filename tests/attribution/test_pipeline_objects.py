"""A ``transformers`` pipeline in place of model + tokenizer: its model and tokenizer are used, its task picks ours."""

from __future__ import annotations

import pytest

from interpreto_core import Explainer, Explanations, InputError, explain
from interpreto_core._attribution import PIPELINE_TASKS, _from_pipeline, _is_pipeline

TEXTS = ["a charming and often affecting journey.", "a dull film"]


@pytest.fixture(scope="module")
def cls_pipe(classifier, tokenizer):
    from transformers import pipeline

    return pipeline("text-classification", model=classifier, tokenizer=tokenizer)


@pytest.fixture(scope="module")
def lm_pipe(causal_lm, tokenizer):
    import copy

    from transformers import pipeline

    # transformers' text-generation pipeline sets padding_side="left" on the tokenizer it is given:
    # give it a copy, never the session's shared tokenizer
    return pipeline("text-generation", model=causal_lm, tokenizer=copy.deepcopy(tokenizer))


def test_classification_pipeline_equals_model_and_tokenizer(cls_pipe, classifier, tokenizer):
    expected = explain(classifier, tokenizer, TEXTS, method="occlusion")
    got = explain(cls_pipe, TEXTS, method="occlusion")
    assert isinstance(got, Explanations)
    assert got == expected
    assert explain(cls_pipe, None, TEXTS, method="occlusion") == expected
    assert [e.task for e in got] == ["sequence_classification"] * 2


def test_gradient_method_through_a_pipeline(cls_pipe, classifier, tokenizer):
    expected = explain(classifier, tokenizer, TEXTS[0], method="saliency")
    assert explain(cls_pipe, TEXTS[0], method="saliency") == expected


def test_generation_pipeline_picks_causal_lm(lm_pipe, causal_lm, tokenizer):
    assert tokenizer.padding_side == "right"  # the shared tokenizer was not touched
    expected = explain(causal_lm, lm_pipe.tokenizer, "the capital of france is", method="occlusion", max_new_tokens=2)
    got = explain(lm_pipe, "the capital of france is", method="occlusion", max_new_tokens=2)
    assert got == expected
    assert got[0].task == "causal_lm"


def test_explainer_takes_a_pipeline(cls_pipe, classifier, tokenizer):
    explainer = Explainer(cls_pipe, method="occlusion")
    assert explainer.task.name == "sequence_classification"
    assert explainer.adapter.model is classifier
    assert explainer.explain(TEXTS) == Explainer(classifier, tokenizer, method="occlusion").explain(TEXTS)


def test_the_pipeline_task_picks_ours_unless_task_is_given(cls_pipe, classifier, tokenizer):
    assert _is_pipeline(cls_pipe) and not _is_pipeline(classifier) and not _is_pipeline(tokenizer)
    assert _from_pipeline(cls_pipe, None, None) == (classifier, tokenizer, "sequence_classification")
    assert _from_pipeline(cls_pipe, None, "token_classification")[2] == "token_classification"
    # a task given explicitly wins, and is checked against the model as usual
    with pytest.raises(InputError, match="task 'causal_lm' was asked"):
        explain(cls_pipe, TEXTS[0], method="occlusion", task="causal_lm")


@pytest.mark.parametrize(("hf", "ours"), [
    ("text-classification", "sequence_classification"), ("sentiment-analysis", "sequence_classification"),
    ("text-generation", "causal_lm"), ("text2text-generation", "seq2seq"), ("summarization", "seq2seq"),
    ("translation_en_to_fr", "seq2seq"), ("token-classification", "token_classification"),
    ("ner", "token_classification"), ("question-answering", "question_answering"), ("fill-mask", "masked_lm"),
    ("image-classification", None),
])
def test_task_map(cls_pipe, hf, ours, monkeypatch):
    monkeypatch.setattr(cls_pipe, "task", hf)
    assert _from_pipeline(cls_pipe, None, None)[2] == ours
    assert set(PIPELINE_TASKS.values()) <= {"sequence_classification", "causal_lm", "seq2seq",
                                             "token_classification", "question_answering", "masked_lm"}


def test_a_pipeline_without_tokenizer_is_refused(cls_pipe, monkeypatch):
    monkeypatch.setattr(cls_pipe, "tokenizer", None)
    with pytest.raises(InputError, match="no tokenizer"):
        explain(cls_pipe, "a film", method="occlusion")

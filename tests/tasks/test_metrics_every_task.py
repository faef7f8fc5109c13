"""evaluate() with all five metrics on every built-in task's explanations (one engine for all)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import interpreto_core

METRICS = ["insertion", "deletion", "comprehensiveness", "sufficiency", "sensitivity"]


@pytest.fixture(scope="module")
def t5(tokenizer):
    from transformers import T5Config, T5ForConditionalGeneration

    torch.manual_seed(0)
    return T5ForConditionalGeneration(T5Config(
        vocab_size=len(tokenizer), d_model=32, d_ff=64, d_kv=16, num_layers=2, num_heads=2,
        pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.sep_token_id,
        decoder_start_token_id=tokenizer.cls_token_id)).eval()


CASES = {
    "sequence_classification": ("classifier", [("a man plays a guitar", "someone makes music"), "a fine film"], None),
    "causal_lm": ("causal_lm", ["the capital of france is"], " paris is"),
    "seq2seq": ("t5", ["the cat sat on the mat."], "a small dog"),
    "token_classification": ("token_classifier", ["Ada Lovelace wrote code"], None),
    "question_answering": ("qa_model", [("who wrote code?", "Ada Lovelace wrote the first program.")], None),
    "masked_lm": ("masked_lm", ["Paris is the [MASK] of France."], None),
}


@pytest.mark.parametrize("task", sorted(CASES))
def test_all_five_metrics_run_on_every_task(task, tokenizer, request):
    fixture, inputs, targets = CASES[task]
    model = request.getfixturevalue(fixture)
    expls = interpreto_core.explain(model, tokenizer, inputs, method="occlusion", targets=targets)
    assert {e.task for e in expls} == {task}
    results = {name: interpreto_core.evaluate(model, tokenizer, expls, metrics=[name],
                                              **({"n_samples": 2} if name == "sensitivity" else {}))[name]
               for name in METRICS}
    for name, result in results.items():
        assert len(result.values) == len(expls), name
        assert np.isfinite(result.values).all() and np.isfinite(result.random_values).all(), name
    # the faithfulness curves read probabilities (the task's metric_score, recorded): areas lie in [0, 1]
    assert results["deletion"].parameters["mode"] == "probability"
    for name in ("insertion", "deletion"):
        assert ((results[name].values >= -1e-9) & (results[name].values <= 1 + 1e-9)).all()

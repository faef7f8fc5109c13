"""The embedded real models (slow the first time: fine-tuning / conversion). Run with INTERPRETO_REAL_MODELS=1."""

from __future__ import annotations

import os

import pytest

pytestmark = [
    pytest.mark.real_model,
    pytest.mark.skipif(os.environ.get("INTERPRETO_REAL_MODELS") != "1", reason="set INTERPRETO_REAL_MODELS=1"),
]


def test_sentiment_classifier():
    import torch

    from interpreto_core.zoo import SENTIMENT_RECIPE, cache_root, read_metadata, sentiment_classifier

    model, tok = sentiment_classifier()
    assert model.config.id2label == {0: "negative", 1: "positive"}
    meta = read_metadata(cache_root() / SENTIMENT_RECIPE["name"])
    assert meta["dev_accuracy"] > 0.82
    enc = tok(["a wonderful, moving film .", "a dull , lifeless mess ."], return_tensors="pt", padding=True)
    with torch.no_grad():
        assert model(**enc).logits.argmax(-1).tolist() == [1, 0]


def test_causal_lm():
    import torch

    from interpreto_core.zoo import causal_lm

    model, tok = causal_lm()
    ids = tok("The capital of France is", return_tensors="pt").input_ids
    with torch.no_grad():
        top = model(ids).logits[0, -1].argmax()
    assert tok.decode(top).strip() == "Paris"

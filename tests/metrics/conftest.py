"""Explanations shared by the metric tests (tiny models from tests/conftest.py)."""

from __future__ import annotations

import pytest

TEXTS = ["a charming and often affecting journey.", "unflinchingly bleak and desperate", "not good, not bad at all!"]


@pytest.fixture(scope="session")
def occlusion_expls(classifier, tokenizer):
    from interpreto_core import explain

    return explain(classifier, tokenizer, TEXTS, method="occlusion")


@pytest.fixture(scope="session")
def lm_expls(causal_lm, tokenizer):
    from interpreto_core import explain

    return explain(causal_lm, tokenizer, ["the capital of france is", "hello there"], method="occlusion",
                   max_new_tokens=3)

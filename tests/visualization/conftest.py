"""Explanations with hostile text, shared by the visualisation tests."""

from __future__ import annotations

import pytest

HOSTILE = ("<script>document.title='pwned';document.body.setAttribute('data-pwned','1')</script> bleak \" "
           "onmouseover=x &amp; desperate")
HOSTILE_IMG = "great <img src=x onerror=\"document.title='pwned'\"> film"


@pytest.fixture(scope="session")
def cls_expls(classifier, tokenizer):
    from interpreto_core import explain

    return explain(classifier, tokenizer, ["a charming and often affecting journey.", HOSTILE, HOSTILE_IMG],
                   method="occlusion")


@pytest.fixture(scope="session")
def lm_expl(causal_lm, tokenizer):
    from interpreto_core import explain

    return explain(causal_lm, tokenizer, ["the capital of <b>france</b> is"], method="occlusion", max_new_tokens=3)[0]

"""Causal LMs on chat messages: only the explained roles' words are elements; template tokens stay fixed."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

import interpreto_core
from interpreto_core import InputError

TEMPLATE = (
    "{% for m in messages %}<|{{ m['role'] }}|> {{ m['content'] }} [SEP] {% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>{% endif %}"
)
CHAT = [
    {"role": "system", "content": "You are a helpful and very concise assistant."},
    {"role": "user", "content": "What is the capital of France?"},
]


@pytest.fixture(scope="module")
def chat_tokenizer(tokenizer):
    tok = copy.deepcopy(tokenizer)  # never the shared tokenizer: a test must not mutate it either
    tok.chat_template = TEMPLATE
    return tok


def test_only_user_words_are_elements(causal_lm, chat_tokenizer):
    expl = interpreto_core.explain(causal_lm, chat_tokenizer, CHAT, method="occlusion", targets=" paris")[0]
    prompt = [e for e, g in zip(expl.elements, expl.generated, strict=True) if not g]
    assert prompt == ["What", "is", "the", "capital", "of", "France", "?"]
    assert expl.input == CHAT and expl.text.startswith("<|system|> You are a helpful")
    assert set(expl.segments[: len(prompt)]) == {1}  # message 1 (the user's)
    user = expl.text.index(CHAT[1]["content"])
    for span in expl.spans[: len(prompt)]:
        assert user <= span[0] and span[1] <= user + len(CHAT[1]["content"])


def test_template_and_system_tokens_are_never_masked(causal_lm, chat_tokenizer):
    """Occlusion of a user word changes only that word's tokens: equal to a hand computation."""
    expl = interpreto_core.explain(causal_lm, chat_tokenizer, CHAT, method="occlusion", targets=" paris")[0]
    ids = list(expl.token_ids)
    target = expl.targets[0]

    def logp(seq):
        with torch.no_grad():
            return causal_lm(input_ids=torch.tensor([seq])).logits[0, target.position].log_softmax(-1)[target.index]

    full = logp(ids)
    n_prompt = sum(not g for g in expl.generated)
    for e in range(n_prompt):
        masked = list(ids)
        for t in expl.token_groups[e]:
            masked[t] = chat_tokenizer.mask_token_id
        assert expl.scores[0, e] == pytest.approx(float(full - logp(masked)), abs=1e-5)
    covered = {t for g in expl.token_groups for t in g}
    rendered = chat_tokenizer.apply_chat_template(CHAT, add_generation_prompt=True, tokenize=False)
    system_tokens = chat_tokenizer(rendered, add_special_tokens=False)["input_ids"][:12]
    assert not covered & set(range(len(system_tokens)))


def test_roles_choose_the_explained_messages(causal_lm, chat_tokenizer):
    expl = interpreto_core.explain(causal_lm, chat_tokenizer, CHAT, method="occlusion", targets=" paris",
                                   roles=("system", "user"))[0]
    prompt = [e for e, g in zip(expl.elements, expl.generated, strict=True) if not g]
    assert prompt[:3] == ["You", "are", "a"] and prompt[-1] == "?"
    assert set(expl.segments[: len(prompt)]) == {0, 1}


def test_chat_gradients_are_complete(causal_lm, chat_tokenizer):
    expl = interpreto_core.explain(causal_lm, chat_tokenizer, CHAT, method="integrated_gradients",
                                   targets=" paris is", n_steps=64, completeness_delta=True)[0]
    delta = np.array(expl.extras["completeness_delta"])
    change = expl.scores.sum(1) - delta
    assert np.abs(delta).max() <= 1e-2 * np.abs(change).max()
    results = interpreto_core.evaluate(causal_lm, chat_tokenizer, [expl], metrics=["deletion"])
    assert np.isfinite(results["deletion"].values).all()


def test_chat_errors(causal_lm, chat_tokenizer, tokenizer):
    with pytest.raises(InputError, match="no message has a role in roles"):
        interpreto_core.explain(causal_lm, chat_tokenizer, CHAT[:1], method="occlusion", targets=" x")
    with pytest.raises(InputError, match="the tokenizer has no chat template"):
        interpreto_core.explain(causal_lm, tokenizer, CHAT, method="occlusion", targets=" x")
    with pytest.raises(InputError, match="string 'role' and 'content'"):
        interpreto_core.explain(causal_lm, chat_tokenizer, [{"role": "user"}], method="occlusion", targets=" x")


def test_lm_contrast_is_the_difference_of_two_occlusions(causal_lm, tokenizer):
    prompt = "the capital of france is"
    both = interpreto_core.explain(causal_lm, tokenizer, prompt, method="occlusion", targets=" paris",
                                   contrast=" lyon")[0]
    a = interpreto_core.explain(causal_lm, tokenizer, prompt, method="occlusion", targets=" paris", score="logit")[0]
    b = interpreto_core.explain(causal_lm, tokenizer, prompt, method="occlusion", targets=" lyon", score="logit")[0]
    np.testing.assert_allclose(both.scores, a.scores - b.scores, atol=1e-5)
    assert both.targets[0].foil_label == "lyon"
    with pytest.raises(InputError, match="same number of tokens"):
        interpreto_core.explain(causal_lm, tokenizer, prompt, method="occlusion", targets=" paris",
                                contrast=" new york")

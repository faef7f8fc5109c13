"""User text is never turned into control tokens, and unknown words stay elements."""

from __future__ import annotations

import interpreto_core


def test_literal_control_tokens_and_unknown_words_are_elements(classifier, tokenizer):
    text = "I love 🍕 and [SEP] here"
    expl = interpreto_core.explain(classifier, tokenizer, text, method="occlusion")[0]
    assert list(expl.elements) == ["I", "love", "🍕", "and", "[", "SEP", "]", "here"]
    ids = list(expl.token_ids)
    assert ids.count(tokenizer.sep_token_id) == 1 and ids[-1] == tokenizer.sep_token_id  # only the added one
    assert tokenizer.unk_token_id in ids  # the emoji: an element, occluded like any word
    assert expl.scores[0, 2] != 0.0


def test_a_pair_and_a_continuation_keep_literal_control_tokens_as_text(classifier, causal_lm, tokenizer):
    pair = interpreto_core.explain(classifier, tokenizer, ("a [SEP] b", "c [CLS] d"), method="occlusion")[0]
    assert pair.token_ids.count(tokenizer.sep_token_id) == 2 and pair.token_ids.count(tokenizer.cls_token_id) == 1
    lm = interpreto_core.explain(causal_lm, tokenizer, "say", method="occlusion", targets=" [SEP]")[0]
    assert [t.label for t in lm.targets] == ["[", "sep", "]"]

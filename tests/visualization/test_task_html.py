"""HTML views of every task's explanations: pair segments, contrast labels, seq2seq matrix, all escaped."""

from __future__ import annotations

import html

import interpreto_core


def test_pair_html_shows_each_segment(classifier, tokenizer):
    pair = ("<b>bold</b> premise here.", "a hypothesis & more")
    page = interpreto_core.explain(classifier, tokenizer, pair, method="occlusion", targets=1, contrast=0)[0].to_html()
    assert "<b>text_a</b>" in page and "<b>text_b</b>" in page
    assert "<b>bold</b> premise" not in page and html.escape("<") in page
    assert "rather than LABEL_0 (#0)" in page and "task: sequence classification" in page
    assert page.index("<b>text_a</b>") < page.index("premise") < page.index("<b>text_b</b>") < page.index("hypothesis")


def test_seq2seq_html_is_a_target_by_element_matrix(tokenizer):
    import torch
    from transformers import BartConfig, BartForConditionalGeneration

    torch.manual_seed(0)
    model = BartForConditionalGeneration(BartConfig(
        vocab_size=len(tokenizer), d_model=32, encoder_layers=1, decoder_layers=1, encoder_attention_heads=2,
        decoder_attention_heads=2, encoder_ffn_dim=64, decoder_ffn_dim=64, max_position_embeddings=64,
        pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.sep_token_id, bos_token_id=tokenizer.cls_token_id,
        decoder_start_token_id=tokenizer.cls_token_id)).eval()
    expl = interpreto_core.explain(model, tokenizer, "the <cat> sat", method="occlusion", targets="a dog")[0]
    page = expl.to_html()
    assert "<b>source</b>" in page and "<b>target</b>" in page and "target \\ element" in page
    assert "&lt;cat&gt;" in page and "<cat>" not in page
    assert page.count('class="itp-na"') == 1  # the target token "a" cannot influence itself ("dog" row: 0 hatched)

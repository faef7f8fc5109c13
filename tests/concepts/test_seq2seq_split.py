"""Concept split points on the encoder and decoder layers of an encoder-decoder model (T5)."""

from __future__ import annotations

import torch

from interpreto_core.concepts import SplitModel, collect_activations


def test_encoder_and_decoder_split_points_match_forward_hooks(tokenizer):
    from transformers import T5Config, T5ForConditionalGeneration

    torch.manual_seed(0)
    model = T5ForConditionalGeneration(T5Config(
        vocab_size=len(tokenizer), d_model=32, d_ff=64, d_kv=16, num_layers=2, num_heads=2,
        pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.sep_token_id,
        decoder_start_token_id=tokenizer.cls_token_id)).eval()
    texts = ["the cat sat on the mat.", "hello world"]
    split = SplitModel(model, tokenizer, split_points=["encoder.block.1", "decoder.block.1"])
    acts = collect_activations(split, texts, granularity="token")
    seen: dict[str, list[torch.Tensor]] = {"encoder.block.1": [], "decoder.block.1": []}
    hooks = [dict(model.named_modules())[p].register_forward_hook(
        lambda _m, _i, out, p=p: seen[p].append(out[0] if isinstance(out, tuple) else out)) for p in seen]
    try:
        for text in texts:
            ids = torch.tensor([tokenizer(text)["input_ids"]])
            decoder = torch.cat([torch.tensor([[tokenizer.cls_token_id]]), ids[:, :-1]], dim=1)
            with torch.no_grad():
                model(input_ids=ids, decoder_input_ids=decoder)
    finally:
        for h in hooks:
            h.remove()
    for point, outs in seen.items():
        # token granularity drops the special tokens ([CLS], [SEP]) of each text
        expected = torch.cat([o[0, 1:-1] for o in outs])
        torch.testing.assert_close(acts[point].values, expected, rtol=1e-5, atol=1e-6)

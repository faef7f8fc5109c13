"""Tiny random token-level BERT heads (token classification, QA, masked LM), built from configs in
milliseconds with the MiniLM tokenizer (the session ``tokenizer`` fixture of tests/conftest.py)."""

from __future__ import annotations

import pytest

NER_LABELS = {0: "O", 1: "B-PER", 2: "I-PER", 3: "B-LOC", 4: "I-LOC"}


def _config(tokenizer, **kwargs):
    from transformers import BertConfig

    return BertConfig(vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                      intermediate_size=64, max_position_embeddings=64, initializer_range=0.4, **kwargs)


@pytest.fixture(scope="session")
def token_classifier(tokenizer):
    import torch
    from transformers import BertForTokenClassification

    torch.manual_seed(0)
    config = _config(tokenizer, num_labels=len(NER_LABELS), id2label=NER_LABELS,
                     label2id={v: k for k, v in NER_LABELS.items()})
    return BertForTokenClassification(config).eval()


@pytest.fixture(scope="session")
def qa_model(tokenizer):
    import torch
    from transformers import BertForQuestionAnswering

    torch.manual_seed(0)
    return BertForQuestionAnswering(_config(tokenizer, num_labels=2)).eval()


@pytest.fixture(scope="session")
def masked_lm(tokenizer):
    import torch
    from transformers import BertForMaskedLM

    torch.manual_seed(0)
    return BertForMaskedLM(_config(tokenizer)).eval()

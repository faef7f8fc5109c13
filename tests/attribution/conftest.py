"""A linear 'bag of embeddings' classifier: every attribution method has a known exact answer on it."""

from __future__ import annotations

import pytest
import torch


class LinearBagForSequenceClassification(torch.nn.Module):
    """logits[c] = sum_t mask_t * (e_t . v_c) + bias_c: linear in every token embedding."""

    def __init__(self, vocab_size: int, hidden: int = 8, n_classes: int = 2):
        super().__init__()
        g = torch.Generator().manual_seed(0)
        self.embeddings = torch.nn.Embedding(vocab_size, hidden)
        with torch.no_grad():
            self.embeddings.weight.copy_(torch.randn(vocab_size, hidden, generator=g))
        self.head = torch.nn.Linear(hidden, n_classes)
        with torch.no_grad():
            self.head.weight.copy_(torch.randn(n_classes, hidden, generator=g))
        self.config = type("Config", (), {"num_labels": n_classes, "id2label": {0: "neg", 1: "pos"},
                                          "max_position_embeddings": 64})()

    def get_input_embeddings(self):
        return self.embeddings

    def forward(self, input_ids=None, inputs_embeds=None, attention_mask=None):
        if inputs_embeds is None:
            inputs_embeds = self.embeddings(input_ids)
        if attention_mask is not None:
            inputs_embeds = inputs_embeds * attention_mask[..., None]
        logits = self.head(inputs_embeds.sum(1))
        return type("Out", (), {"logits": logits})()


@pytest.fixture(scope="session")
def linear_model(tokenizer):
    return LinearBagForSequenceClassification(len(tokenizer)).eval()

"""Gradient rows too long for the memory budget run on a checkpointed copy of the model: the same
attributions, the user's model untouched."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import interpreto_core
from interpreto_core._checkpoint import _block_lists, checkpointed_copy
from interpreto_core._memory import row_bytes

TEXT = "the cat sat on the mat and then it slept for a long time near the warm fire"


@pytest.mark.parametrize("model_name", ["classifier", "causal_lm", "llama_lm"])
@pytest.mark.parametrize("method", ["integrated_gradients", "smoothgrad"])
def test_checkpointed_rows_give_the_same_attributions(request, tokenizer, model_name, method):
    model = request.getfixturevalue(model_name)
    target = " and more" if model_name != "classifier" else None
    params = {"n_steps": 6} if method == "integrated_gradients" else {"n_samples": 4}
    tiny = interpreto_core.Explainer(model, tokenizer, method=method, memory_budget=1, **params)  # forces it
    plain = interpreto_core.Explainer(model, tokenizer, method=method, **params)
    a, b = tiny.explain(TEXT, targets=target)[0], plain.explain(TEXT, targets=target)[0]
    assert a.extras.get("gradient_checkpointing") is True and "gradient_checkpointing" not in b.extras
    np.testing.assert_allclose(a.scores, b.scores, rtol=1e-4, atol=1e-6)
    assert tiny.forward_rows == plain.forward_rows and tiny.forward_calls > plain.forward_calls  # 1 row per pass


def test_the_copy_shares_weights_and_leaves_the_model_alone(causal_lm):
    forwards = [b.forward for stack in _block_lists(causal_lm) for b in stack]
    twin = checkpointed_copy(causal_lm)
    assert all(p is q for p, q in zip(twin.parameters(), causal_lm.parameters(), strict=True))
    assert [b.forward for stack in _block_lists(causal_lm) for b in stack] == forwards
    assert len(_block_lists(twin)) == 1 and len(_block_lists(twin)[0]) == causal_lm.config.n_layer


def test_no_checkpointing_within_the_budget(classifier, tokenizer):
    ex = interpreto_core.Explainer(classifier, tokenizer, method="saliency",
                                   memory_budget=2 * row_bytes(classifier, 64, grad=True))
    assert "gradient_checkpointing" not in ex.explain(TEXT)[0].extras
    fixed = interpreto_core.Explainer(classifier, tokenizer, method="saliency", batch_size=4, memory_budget=1)
    assert "gradient_checkpointing" not in fixed.explain(TEXT)[0].extras  # a fixed batch size is the user's call
    assert torch.is_grad_enabled()

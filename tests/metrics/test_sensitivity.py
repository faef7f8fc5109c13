"""Max-sensitivity: zero without perturbation for a deterministic method, positive with it."""

from __future__ import annotations

import numpy as np
import pytest

from interpreto_core import explain
from interpreto_core.metrics import evaluate


def test_zero_radius_gives_zero_sensitivity(classifier, tokenizer, occlusion_expls):
    res = evaluate(classifier, tokenizer, occlusion_expls, metrics=["sensitivity"], radius=0.0, n_samples=1)
    np.testing.assert_allclose(res["sensitivity"].values, 0.0, atol=1e-6)


def test_sensitivity_grows_with_radius(classifier, tokenizer):
    expls = explain(classifier, tokenizer, ["a charming and often affecting journey."], method="saliency")
    small = evaluate(classifier, tokenizer, expls, metrics=["sensitivity"], radius=0.01, n_samples=3)["sensitivity"]
    large = evaluate(classifier, tokenizer, expls, metrics=["sensitivity"], radius=0.5, n_samples=3)["sensitivity"]
    assert 0 < small.values[0] < large.values[0]
    # random attributions differ by about sqrt(2) of their norm
    assert 1.0 < small.random_values[0] < 3.0
    assert small.higher_is_better is False


def test_stochastic_method_is_rerun_with_its_seed(classifier, tokenizer):
    expls = explain(classifier, tokenizer, ["unflinchingly bleak and desperate"], method="lime", n_samples=20)
    res = evaluate(classifier, tokenizer, expls, metrics=["sensitivity"], radius=0.0, n_samples=1)
    assert res["sensitivity"].values[0] == pytest.approx(0.0, abs=1e-6)


def test_causal_lm(causal_lm, tokenizer, lm_expls):
    res = evaluate(causal_lm, tokenizer, lm_expls, metrics=["sensitivity"], radius=0.0, n_samples=1)
    np.testing.assert_allclose(res["sensitivity"].values, 0.0, atol=1e-6)

"""Properties from the papers: exact Shapley values, LIME on a linear model, IG completeness, ..."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch

import interpreto_core
from interpreto_core import ModelAdapter

TEXT = "the plot is thin but the acting is superb"  # 9 words


def _masked_scores(model, tokenizer, text, masks, target, granularity="word"):
    """f(mask) for each element mask, computed independently of the library's engine (one batch)."""
    ad = ModelAdapter(model, tokenizer)
    enc = ad.encode(text)
    el = enc.elements(granularity)
    x = ad.embed(torch.tensor(enc.input_ids))
    b = ad.baseline_vector("auto")
    keep = torch.ones((len(masks), len(enc.input_ids)))
    for e, group in enumerate(el.token_groups):
        keep[:, list(group)] = torch.tensor([float(m[e]) for m in masks])[:, None]
    emb = keep[..., None] * x + (1 - keep[..., None]) * b
    with torch.no_grad():
        return model(inputs_embeds=emb).logits[:, target].double().numpy()


def _exact_shapley(model, tokenizer, text, target):
    n = len(ModelAdapter(model, tokenizer).encode(text).elements("word"))
    coalitions = list(itertools.product((0, 1), repeat=n))
    value = dict(zip(coalitions, _masked_scores(model, tokenizer, text, coalitions, target), strict=True))
    phi = np.zeros(n)
    for s in coalitions:
        for i in range(n):
            if s[i]:
                continue
            with_i = s[:i] + (1,) + s[i + 1 :]
            k = sum(s)
            phi[i] += math.factorial(k) * math.factorial(n - k - 1) / math.factorial(n) * (value[with_i] - value[s])
    return phi, value[(1,) * n] - value[(0,) * n]


def test_kernel_shap_is_exact_with_enough_samples(classifier, tokenizer):
    text = "the plot is thin but superb"  # 6 words: 64 coalitions
    phi, delta = _exact_shapley(classifier, tokenizer, text, target=1)
    ours = interpreto_core.explain(classifier, tokenizer, text, method="kernel_shap", targets=1, n_samples=64)[0]
    np.testing.assert_allclose(ours.scores[0], phi, rtol=1e-4, atol=1e-5)


def test_kernel_shap_sampled_is_close_to_exact_and_efficient(classifier, tokenizer):
    text = "the plot is thin but the acting superb"  # 8 words: 256 coalitions, budget 200 < 256
    phi, delta = _exact_shapley(classifier, tokenizer, text, target=1)
    ours = interpreto_core.explain(
        classifier, tokenizer, text, method="kernel_shap", targets=1, n_samples=200, seed=3
    )[0].scores[0]
    assert ours.sum() == pytest.approx(delta, abs=1e-5)  # efficiency holds exactly
    assert np.corrcoef(ours, phi)[0, 1] > 0.95
    assert np.abs(ours - phi).max() < 0.15 * np.abs(phi).max()


def test_kernel_shap_budget_too_small_is_a_clear_error(classifier, tokenizer):
    text = " ".join(["word"] * 12)
    with pytest.raises(interpreto_core.InputError, match=r"n_samples >= n_elements \+ 2 = 14"):
        interpreto_core.explain(classifier, tokenizer, text, method="kernel_shap", n_samples=10)


def test_lime_regression_matches_scikit_learn_ridge():
    from sklearn.linear_model import Ridge

    from interpreto_plugins.lime import weighted_ridge

    rng = np.random.default_rng(0)
    x, y, w = rng.random((50, 6)), rng.normal(size=(50, 2)), rng.random(50)
    ref = Ridge(alpha=0.7).fit(x, y, sample_weight=w).coef_.T
    np.testing.assert_allclose(weighted_ridge(x, y, w, 0.7), ref, rtol=1e-8, atol=1e-10)


def test_lime_recovers_the_coefficients_of_a_linear_model(linear_model, tokenizer):
    # On a linear model f(mask) = c + sum_e mask_e * coef_e exactly, so LIME's regression is exact.
    coef = interpreto_core.explain(linear_model, tokenizer, TEXT, method="occlusion", targets=1)[0].scores[0]
    lime = interpreto_core.explain(
        linear_model, tokenizer, TEXT, method="lime", targets=1, n_samples=300, alpha=1e-9
    )[0].scores[0]
    np.testing.assert_allclose(lime, coef, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(
    "method", ["occlusion", "kernel_shap", "integrated_gradients", "gradient_shap"]
)
def test_methods_agree_on_a_linear_model(linear_model, tokenizer, method):
    """For f linear in the embeddings, element e's contribution is (x_e - b_e) . v: every method finds it."""
    params = {"baseline": "mask"}
    if method == "gradient_shap":
        params["n_samples"] = 8
    if method == "kernel_shap":
        params["n_samples"] = 50
    ref = interpreto_core.explain(linear_model, tokenizer, TEXT, method="occlusion", targets=1, baseline="mask")
    ours = interpreto_core.explain(linear_model, tokenizer, TEXT, method=method, targets=1, **params)
    np.testing.assert_allclose(ours[0].scores, ref[0].scores, rtol=1e-4, atol=1e-4)


def test_integrated_gradients_completeness(classifier, tokenizer):
    expl = interpreto_core.explain(
        classifier, tokenizer, [TEXT, "bad"], method="integrated_gradients", targets=[[0, 1, 2], 2],
        n_steps=64, completeness_delta=True, baseline="mask",
    )
    scores = _masked_scores(classifier, tokenizer, TEXT, [np.ones(9), np.zeros(9)], target=1)
    assert expl[0].scores[1].sum() == pytest.approx(scores[0] - scores[1], rel=2e-3)
    for e in expl:
        assert np.abs(e.extras["completeness_delta"]).max() < 2e-3


def test_integrated_gradients_completeness_on_a_causal_lm(causal_lm, tokenizer):
    expl = interpreto_core.explain(
        causal_lm, tokenizer, "the cat sat", method="integrated_gradients", targets=" on the mat",
        n_steps=64, completeness_delta=True, granularity="token",
    )[0]
    assert np.abs(expl.extras["completeness_delta"]).max() < 2e-3


def test_smoothgrad_without_noise_is_saliency(classifier, tokenizer):
    sal = interpreto_core.explain(classifier, tokenizer, TEXT, method="saliency", targets=1)[0]
    smooth = interpreto_core.explain(
        classifier, tokenizer, TEXT, method="smoothgrad", targets=1, noise_level=0.0, n_samples=3
    )[0]
    assert sal.parameters["reduction"] == smooth.parameters["reduction"] == "norm"
    assert sal.scores.min() > 1e-3
    np.testing.assert_allclose(smooth.scores, sal.scores, rtol=1e-5, atol=1e-7)


def test_saliency_sum_reduction_vanishes_after_layernorm(classifier, tokenizer):
    """Why saliency defaults to the norm: BERT normalises embeddings first, and a LayerNorm's
    gradient is orthogonal to the all-ones direction, so the summed raw gradient is ~0."""
    summed = interpreto_core.explain(classifier, tokenizer, TEXT, method="saliency", reduction="sum")[0]
    normed = interpreto_core.explain(classifier, tokenizer, TEXT, method="saliency")[0]
    assert np.abs(summed.scores).max() < 1e-4 * normed.scores.max()


@pytest.mark.parametrize("method", ["vargrad", "squaregrad"])
def test_variance_and_square_methods_are_nonnegative(classifier, tokenizer, method):
    expl = interpreto_core.explain(classifier, tokenizer, TEXT, method=method, n_samples=6)[0]
    assert (expl.scores >= 0).all() and expl.scores.max() > 0
    vargrad_zero = interpreto_core.explain(classifier, tokenizer, TEXT, method="vargrad", noise_level=0.0)[0]
    np.testing.assert_allclose(vargrad_zero.scores, 0, atol=1e-10)


@pytest.mark.parametrize("method", ["saliency", "input_x_gradient", "integrated_gradients", "smoothgrad"])
def test_word_scores_are_sums_of_token_scores(classifier, tokenizer, method):
    text = TEXT + " unbelievably"
    token = interpreto_core.explain(classifier, tokenizer, text, method=method, granularity="token")[0]
    word = interpreto_core.explain(classifier, tokenizer, text, method=method, granularity="word")[0]
    ad = ModelAdapter(classifier, tokenizer)
    enc = ad.encode(text)
    words = enc.elements("word")
    tok_index = {group[0]: i for i, group in enumerate(enc.elements("token").token_groups)}
    expected = [sum(token.scores[0][tok_index[t]] for t in g) for g in words.token_groups]
    assert len(words.token_groups[-1]) > 1
    np.testing.assert_allclose(word.scores[0], expected, rtol=1e-5, atol=1e-7)


def test_sobol_indices_on_an_additive_model(linear_model, tokenizer):
    """f = c + sum_e m_e a_e with independent uniform m_e: S_e = ST_e = a_e^2 / sum a^2."""
    a = interpreto_core.explain(linear_model, tokenizer, TEXT, method="occlusion", targets=1)[0].scores[0]
    expected = a**2 / (a**2).sum()
    for order in ("total", "first"):
        s = interpreto_core.explain(
            linear_model, tokenizer, TEXT, method="sobol", targets=1, n_samples=1024, order=order
        )[0].scores[0]
        np.testing.assert_allclose(s, expected, atol=0.05)

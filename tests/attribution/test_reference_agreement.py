"""Agreement with captum (Saliency, Input x Gradient, IG, Occlusion / FeatureAblation) on a tiny BERT."""

from __future__ import annotations

import pytest
import torch

import interpreto_core
from interpreto_core import ModelAdapter

TEXT = "An unexpectedly moving, funny film."
TARGET = 1


@pytest.fixture(scope="module")
def setup(classifier, tokenizer):
    ad = ModelAdapter(classifier, tokenizer)
    enc = ad.encode(TEXT)
    ids = torch.tensor(enc.input_ids)
    x = ad.embed(ids)[None]

    def forward(emb):
        return classifier(inputs_embeds=emb, attention_mask=torch.ones(emb.shape[:2], dtype=torch.long)).logits

    return ad, enc, x, forward


def _ours(classifier, tokenizer, method, granularity="token", **params):
    return interpreto_core.explain(
        classifier, tokenizer, TEXT, method=method, targets=TARGET, granularity=granularity, **params
    )[0].scores[0]


def test_saliency_matches_captum(setup, classifier, tokenizer):
    from captum.attr import Saliency

    _, _, x, forward = setup
    ref = Saliency(forward).attribute(x, target=TARGET, abs=False)[0].sum(-1)[1:-1]
    ours = _ours(classifier, tokenizer, "saliency", reduction="sum")
    torch.testing.assert_close(torch.tensor(ours, dtype=torch.float32), ref, rtol=1e-4, atol=1e-6)
    grads = Saliency(forward).attribute(x, target=TARGET, abs=False)[0][1:-1]
    normed = _ours(classifier, tokenizer, "saliency")  # default reduction: the L2 norm
    torch.testing.assert_close(torch.tensor(normed, dtype=torch.float32), grads.norm(dim=-1), rtol=1e-4, atol=1e-6)


def test_input_x_gradient_matches_captum(setup, classifier, tokenizer):
    from captum.attr import InputXGradient

    _, _, x, forward = setup
    ref = InputXGradient(forward).attribute(x, target=TARGET)[0].sum(-1)[1:-1]
    ours = _ours(classifier, tokenizer, "input_x_gradient")
    torch.testing.assert_close(torch.tensor(ours, dtype=torch.float32), ref, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize(
    ("method", "captum_method", "baseline"),
    [
        ("gauss_legendre", "gausslegendre", "zero"),
        ("riemann_trapezoid", "riemann_trapezoid", "mask"),
        ("riemann_middle", "riemann_middle", "pad"),
        ("riemann_left", "riemann_left", "zero"),
        ("riemann_right", "riemann_right", "zero"),
    ],
)
def test_integrated_gradients_matches_captum(setup, classifier, tokenizer, method, captum_method, baseline):
    from captum.attr import IntegratedGradients

    ad, enc, x, forward = setup
    b = ad.baseline_vector(baseline).expand_as(x).clone()
    b[0, 0], b[0, -1] = x[0, 0], x[0, -1]  # special tokens stay: our convention, given to captum too
    ref = IntegratedGradients(forward).attribute(
        x, baselines=b, target=TARGET, n_steps=16, method=captum_method
    )[0].sum(-1)[1:-1]
    if method == "riemann_trapezoid":
        # captum's trapezoid weights use a step of 1/n instead of 1/(n-1): they sum to (n-1)/n, not 1
        # (captum 0.9: [0.125, 0.25, 0.25, 0.125] for n=4). Ours is the textbook rule; rescale captum's.
        ref = ref * 16 / 15
    ours = _ours(classifier, tokenizer, "integrated_gradients", n_steps=16, quadrature=method, baseline=baseline)
    torch.testing.assert_close(torch.tensor(ours, dtype=torch.float32), ref, rtol=1e-3, atol=1e-5)


def test_occlusion_matches_captum_at_token_level(setup, classifier, tokenizer):
    from captum.attr import Occlusion

    ad, _, x, forward = setup
    hidden = x.shape[-1]
    mask_emb = ad.baseline_vector("mask")
    ref = Occlusion(forward).attribute(
        x, sliding_window_shapes=(1, hidden), strides=(1, hidden), target=TARGET,
        baselines=mask_emb.expand_as(x).clone(),
    )[0, 1:-1, 0]
    ours = _ours(classifier, tokenizer, "occlusion")
    torch.testing.assert_close(torch.tensor(ours, dtype=torch.float32), ref, rtol=1e-4, atol=1e-5)


def test_word_occlusion_matches_captum_feature_ablation(setup, classifier, tokenizer):
    from captum.attr import FeatureAblation

    ad, enc, x, forward = setup
    words = enc.elements("word")
    feature_mask = torch.full(x.shape[:2], len(words), dtype=torch.long)  # specials: own, ignored group
    for e, group in enumerate(words.token_groups):
        feature_mask[0, list(group)] = e
    # captum ablates the extra group too; with the special tokens' own embedding it changes nothing
    attr = FeatureAblation(forward).attribute(
        x, target=TARGET, baselines=ad.baseline_vector("mask").expand_as(x).clone(),
        feature_mask=feature_mask[..., None].expand_as(x),
    )[0, :, 0]
    ref = torch.stack([attr[g[0]] for g in words.token_groups])
    ours = _ours(classifier, tokenizer, "occlusion", granularity="word")
    torch.testing.assert_close(torch.tensor(ours, dtype=torch.float32), ref, rtol=1e-4, atol=1e-5)

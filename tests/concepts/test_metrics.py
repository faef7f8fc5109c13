"""Concept metrics against their formulas on hand-made matrices."""

from __future__ import annotations

import math

import pytest
import torch

from interpreto_core import InputError, get_registry
from interpreto_core.concepts import concept_metrics, make_learner


def metric(name, **params):
    return get_registry().get("concept_metric", name).obj(**params)


X = torch.tensor([[1.0, 2.0], [3.0, 4.0], [5.0, 0.0]])
XH = torch.tensor([[1.0, 1.0], [3.0, 4.0], [4.0, 0.0]])
Z = torch.tensor([[0.0, 1.0, 0.0], [0.0, 2.0, 0.0], [0.5, 0.0, 0.0]])


def test_mse_is_a_true_mean():
    # squared errors 0,1,0,0,1,0 over 6 entries
    assert metric("concept_mse").compute(X, reconstruction=XH) == pytest.approx(2 / 6)


def test_r2():
    by_hand = 1 - 2 / ((1 - 3) ** 2 + 0 + (5 - 3) ** 2 + (2 - 2) ** 2 + (4 - 2) ** 2 + (0 - 2) ** 2)
    assert metric("concept_r2").compute(X, reconstruction=XH) == pytest.approx(by_hand)
    assert metric("concept_r2").compute(X, reconstruction=X) == pytest.approx(1.0)
    mean = X.mean(0).expand_as(X)
    assert metric("concept_r2").compute(X, reconstruction=mean) == pytest.approx(0.0)


def test_frechet_distance_of_diagonal_gaussians():
    # X: points with mean (0,0), cov diag(a); X_hat: shifted by (1, 2) and scaled by (2, 1)
    x = torch.tensor([[1.0, 1.0], [-1.0, -1.0], [1.0, -1.0], [-1.0, 1.0]])
    xh = x * torch.tensor([2.0, 1.0]) + torch.tensor([1.0, 2.0])
    s = 4 / 3  # unbiased variance of (+-1) x 4
    expected = 1 + 4 + (math.sqrt(s) - math.sqrt(4 * s)) ** 2 + 0
    assert metric("concept_fid").compute(x, reconstruction=xh) == pytest.approx(expected, rel=1e-6)
    assert metric("concept_fid").compute(x, reconstruction=x) == pytest.approx(0.0, abs=1e-9)


def test_sparsity_sparsity_ratio_dead_ratio():
    assert metric("concept_sparsity").compute(codes=Z) == pytest.approx(6 / 9)
    assert metric("concept_sparsity", threshold=0.6).compute(codes=Z) == pytest.approx(7 / 9)
    # active concepts per row: 1, 1, 1 -> 1; active neurons per row: 2, 2, 1 -> 5/3
    assert metric("concept_sparsity_ratio").compute(X, codes=Z) == pytest.approx(1 / (5 / 3))
    assert metric("concept_dead_ratio").compute(codes=Z) == pytest.approx(1 / 3)
    assert metric("concept_dead_ratio", threshold=0.5).compute(codes=Z) == pytest.approx(2 / 3)


def test_stability_hungarian_matching():
    from interpreto_plugins.concepts.metric_stability import matched_cosine

    d1 = torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    perm = d1[[2, 0, 1]] * torch.tensor([[2.0], [-1.0], [3.0]])  # permuted, rescaled, one sign flip
    assert matched_cosine(d1, perm) == pytest.approx(1.0)
    assert matched_cosine(d1, perm, absolute=False) == pytest.approx(1 / 3)
    # greedy would pair row 0 with the 0.9-cosine atom; the optimal matching does better overall
    a = torch.tensor([[1.0, 0.0], [0.6, 0.8]])
    b = torch.tensor([[0.8, 0.6], [0.0, 1.0]])
    cos = torch.nn.functional.normalize(a, dim=1) @ torch.nn.functional.normalize(b, dim=1).T
    best = max(cos[0, 0] + cos[1, 1], cos[0, 1] + cos[1, 0]).item() / 2
    assert matched_cosine(a, b) == pytest.approx(best)


def test_metrics_with_a_learner():
    g = torch.Generator().manual_seed(0)
    a = torch.randn(100, 3, generator=g) @ torch.randn(3, 8, generator=g)
    pca = make_learner("pca", n_concepts=3).fit(a)
    scores = concept_metrics(pca, a, metrics=("concept_mse", "concept_r2", "concept_sparsity", "concept_dead_ratio",
                                              "concept_fid", "concept_stability"))
    assert scores["concept_mse"] == pytest.approx(0.0, abs=1e-8)
    assert scores["concept_r2"] == pytest.approx(1.0)
    assert scores["concept_sparsity"] == 0.0 and scores["concept_dead_ratio"] == 0.0
    assert scores["concept_fid"] == pytest.approx(0.0, abs=1e-4)
    assert scores["concept_stability"] == pytest.approx(1.0, abs=1e-5)  # PCA is unique up to sign


def test_metric_errors():
    with pytest.raises(InputError, match="needs activations and a fitted learner"):
        metric("concept_mse").compute(X)
    with pytest.raises(InputError, match="shape"):
        metric("concept_mse").compute(X, reconstruction=torch.zeros(2, 2))
    with pytest.raises(InputError, match="undefined"):
        metric("concept_r2").compute(torch.ones(3, 2), reconstruction=torch.ones(3, 2))

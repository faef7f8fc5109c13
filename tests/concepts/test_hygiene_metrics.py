"""Concept metrics score the reconstruction against what the learner models (learner.modelled):
NMF with signed="relu" reconstructs max(X, 0), and is scored against it, and the scores say so."""

from __future__ import annotations

import pytest
import torch

from interpreto_core.concepts import SplitModel, concept_metrics, load_learner, make_learner
from interpreto_core.testing import builtin_registry


@pytest.fixture(scope="module")
def signed():
    g = torch.Generator().manual_seed(0)
    z = torch.rand(300, 4, generator=g)
    return z @ torch.randn(4, 10, generator=g) + 0.05 * torch.randn(300, 10, generator=g)


def _r2(target, x_hat):
    return float(1 - (target - x_hat).pow(2).sum() / (target - target.mean(0)).pow(2).sum())


def test_relu_nmf_is_scored_against_relu_activations(signed, tmp_path):
    nmf = make_learner("nmf", n_concepts=4, signed="relu", max_iter=100).fit(signed, progress=False)
    x_hat = nmf.reconstruct(signed).double()
    relu = signed.clamp_min(0).double()
    torch.testing.assert_close(nmf.modelled(signed), signed.clamp_min(0))
    scores = concept_metrics(nmf, signed, metrics=("concept_r2", "concept_mse", "concept_sparsity"))
    assert scores["concept_r2"] == pytest.approx(_r2(relu, x_hat), rel=1e-6)
    assert scores["concept_mse"] == pytest.approx(float((relu - x_hat).pow(2).mean()), rel=1e-6)
    # against the signed activations the same model reads much worse: what the demo's report showed
    assert _r2(signed.double(), x_hat) < scores["concept_r2"] - 0.2
    assert scores.against == "ReLU(activations)"
    assert scores.label("concept_r2") == "concept_r2 (vs ReLU(activations))"
    assert scores.label("concept_sparsity") == "concept_sparsity"  # codes only: no transform involved
    metric = builtin_registry().get("concept_metric", "concept_r2").obj()
    assert metric.compute(signed, learner=nmf) == pytest.approx(scores["concept_r2"], rel=1e-6)
    # the transform is part of the saved learner
    nmf.save(tmp_path / "nmf")
    assert concept_metrics(load_learner(tmp_path / "nmf"), signed).against == "ReLU(activations)"


def test_shift_nmf_models_the_activations_above_the_fit_minimum(signed):
    nmf = make_learner("nmf", n_concepts=4, signed="shift", max_iter=100).fit(signed, progress=False)
    torch.testing.assert_close(nmf.modelled(signed), signed)  # every fit row is above the fit minimum
    below = signed[:3] - 100.0
    torch.testing.assert_close(nmf.modelled(below), nmf.offset.expand(3, -1))
    assert concept_metrics(nmf, signed).against == "max(activations, fit minimum)"


def test_identity_learners_and_stability_use_the_activations(signed):
    pca = make_learner("pca", n_concepts=4).fit(signed, progress=False)
    scores = concept_metrics(pca, signed)
    assert scores.against == "activations" and scores.labels == {}
    assert torch.equal(pca.modelled(signed), signed)
    x_hat = pca.reconstruct(signed).double()
    assert scores["concept_r2"] == pytest.approx(_r2(signed.double(), x_hat), rel=1e-6)
    nmf = make_learner("nmf", n_concepts=3, signed="relu", max_iter=50).fit(signed, progress=False)
    stab = concept_metrics(nmf, signed, metrics=("concept_stability",))
    assert 0 < stab["concept_stability"] <= 1 and "concept_stability" not in stab.labels


def test_standardised_activations_are_named(causal_lm, tokenizer):
    acts = SplitModel(causal_lm, tokenizer, split_points=0).collect(
        ["Hello world. Goodbye moon!", "The cat sat on the mat."], progress=False, standardize=True)
    learner = make_learner("pca", n_concepts=3).fit(acts, progress=False)
    scores = concept_metrics(learner, acts)
    assert scores.against == "standardised activations"
    assert scores.label("concept_r2") == "concept_r2 (vs standardised activations)"


def test_pipeline_report_says_what_was_scored_and_left_out(causal_lm, tokenizer, tmp_path):
    """The [[concepts]] step's report: the metric labels name the transform, the hygiene line what was left out."""
    import copy

    from interpreto_core.concepts.pipeline import run_concept_step

    model = copy.deepcopy(causal_lm)
    with torch.no_grad():  # a massive first real token (position 1, after [CLS]), as SmolLM2's
        wpe = model.transformer.wpe.weight
        wpe[1] = 500.0 * wpe[1] / wpe[1].norm()
    texts = ["Hello world. Goodbye moon!", "The cat sat on the mat.", "A tiny, tiny test of words"]
    step = {"split": 0, "learner": "nmf", "params": {"n_concepts": 3, "signed": "relu", "max_iter": 30},
            "view": False}
    html, summary = run_concept_step(step, model=model, tokenizer=tokenizer, texts=texts, out_dir=tmp_path)
    assert summary["scored_against"] == "ReLU(activations)"
    assert "concept_r2 (vs ReLU(activations))" in html and "concept_sparsity<" in html
    assert summary["hygiene"]["excluded_tokens"] == 3 and "left out 3 token(s)" in html
    assert "&#x27;Hello&#x27; (1)" in html and "'Hello'" not in html  # escaped

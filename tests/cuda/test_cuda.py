"""On a CUDA GPU: the same results as on the CPU, and the user's model left where it is.

Skipped where CUDA is missing (CI has no GPU). On a GPU machine: ``pytest tests/cuda``.
Random draws (LIME masks, SmoothGrad noise, ...) come from CPU generators seeded per text, so a
GPU run must reproduce the CPU run up to floating-point rounding.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

import interpreto_core
from interpreto_core import InputError

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")

METHODS = [
    "occlusion", "lime", "kernel_shap", "sobol", "saliency", "input_x_gradient", "integrated_gradients",
    "smoothgrad", "vargrad", "squaregrad", "gradient_shap",
]
BUDGET = {"lime": {"n_samples": 32}, "kernel_shap": {"n_samples": 32}, "sobol": {"n_samples": 8},
          "integrated_gradients": {"n_steps": 16}, "smoothgrad": {"n_samples": 8}, "vargrad": {"n_samples": 8},
          "squaregrad": {"n_samples": 8}, "gradient_shap": {"n_samples": 8}}
TEXTS = ["A gripping story. The ending fell flat!", "Dull.", "not bad at all, honestly quite good"]


@pytest.fixture(scope="module", autouse=True)
def _exact_matmuls():
    """TF32 would round products to 10 mantissa bits; compare IEEE float32 with the CPU."""
    previous = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    yield
    torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = previous


def _on_gpu(model):
    return copy.deepcopy(model).to("cuda")


def _close(gpu, cpu):
    scale = max(float(np.abs(cpu).max()), 1e-6)
    np.testing.assert_allclose(gpu, cpu, rtol=0, atol=2e-4 * scale)


@pytest.mark.parametrize("method", METHODS)
def test_classifier_gpu_equals_cpu(classifier, tokenizer, method):
    kw = dict(method=method, granularity="word", targets=[[0, 2], 1, 0], **BUDGET.get(method, {}))
    cpu = interpreto_core.explain(classifier, tokenizer, TEXTS, **kw)
    gpu_model = _on_gpu(classifier)
    gpu = interpreto_core.explain(gpu_model, tokenizer, TEXTS, **kw)
    for g, c in zip(gpu, cpu, strict=True):
        assert g.elements == c.elements
        _close(g.scores, c.scores)
    assert next(gpu_model.parameters()).device.type == "cuda"  # never moved back
    assert all(p.grad is None for p in gpu_model.parameters())


@pytest.mark.parametrize("method", METHODS)
def test_causal_lm_gpu_equals_cpu(causal_lm, tokenizer, method):
    kw = dict(method=method, granularity="token", max_new_tokens=3, **BUDGET.get(method, {}))
    cpu = interpreto_core.explain(causal_lm, tokenizer, "The cat sat. It purred", **kw)[0]
    gpu = interpreto_core.explain(_on_gpu(causal_lm), tokenizer, "The cat sat. It purred", **kw)[0]
    assert gpu.output_text == cpu.output_text
    _close(gpu.scores, cpu.scores)


def test_integrated_gradients_complete_on_gpu(classifier, tokenizer):
    expl = interpreto_core.explain(_on_gpu(classifier), tokenizer, TEXTS, method="integrated_gradients",
                                   n_steps=64, completeness_delta=True, baseline="mask")
    for e in expl:
        assert np.abs(e.extras["completeness_delta"]).max() < 2e-3


def test_packing_on_gpu_counts_forward_calls(classifier, tokenizer):
    ex = interpreto_core.Explainer(_on_gpu(classifier), tokenizer, method="lime", n_samples=32, batch_size=64)
    ex.explain(TEXTS)
    assert ex.forward_calls == 2  # 96 rows of three texts packed into ceil(96 / 64) passes


def test_device_mismatch_is_refused_not_moved(classifier, tokenizer):
    gpu_model = _on_gpu(classifier)
    with pytest.raises(InputError, match="does not move your model"):
        interpreto_core.explain(gpu_model, tokenizer, "fine", method="saliency", device="cpu")
    assert next(gpu_model.parameters()).device.type == "cuda"


def test_half_precision_model_on_gpu(classifier, tokenizer):
    """A bfloat16 model: attributions computed in its dtype, close to the float32 ones."""
    ref = interpreto_core.explain(classifier, tokenizer, TEXTS, method="integrated_gradients", n_steps=16)
    half = copy.deepcopy(classifier).to("cuda", torch.bfloat16)
    out = interpreto_core.explain(half, tokenizer, TEXTS, method="integrated_gradients", n_steps=16)
    for h, r in zip(out, ref, strict=True):
        assert np.isfinite(h.scores).all()
        assert np.corrcoef(h.scores.ravel(), r.scores.ravel())[0, 1] > 0.9
    assert next(half.parameters()).dtype == torch.bfloat16


def test_metrics_gpu_equal_cpu(classifier, tokenizer):
    from interpreto_core.metrics import evaluate

    expl = interpreto_core.explain(classifier, tokenizer, TEXTS, method="occlusion", granularity="word")
    cpu = evaluate(classifier, tokenizer, expl, metrics=["insertion", "deletion"])
    gpu = evaluate(_on_gpu(classifier), tokenizer, expl, metrics=["insertion", "deletion"])
    for name in ("insertion", "deletion"):
        assert gpu[name].mean == pytest.approx(cpu[name].mean, abs=1e-4)


def test_concepts_on_gpu(classifier, tokenizer):
    from interpreto_core.concepts import SplitModel, collect_activations, make_learner

    texts = [f"{w} film, {v} acting" for w in ("a good", "a bad", "an odd", "the best") for v in ("fine", "poor")]
    cpu_acts = next(iter(collect_activations(SplitModel(classifier, tokenizer, split_points=1), texts,
                                             granularity="token", progress=False).values()))
    gpu_acts = next(iter(collect_activations(SplitModel(_on_gpu(classifier), tokenizer, split_points=1), texts,
                                             granularity="token", progress=False).values()))
    torch.testing.assert_close(gpu_acts.values.cpu(), cpu_acts.values, rtol=0, atol=1e-4)
    params = dict(n_concepts=8, epochs=30, batch_size=16)
    on_cpu = make_learner("sae", **params).fit(cpu_acts, progress=False)
    on_gpu = make_learner("sae", **params).fit(cpu_acts, progress=False, device="cuda")
    assert on_gpu.device.type == "cuda"
    # same initialisation and batches: the two trainings follow each other up to rounding
    np.testing.assert_allclose(on_gpu.training_log["mse"], on_cpu.training_log["mse"], rtol=1e-2)
    codes = on_gpu.encode(cpu_acts)
    assert codes.device.type == "cuda" and codes.shape == (len(cpu_acts), 8)


def test_concept_importance_and_tracing_gpu_equal_cpu(classifier, causal_lm, tokenizer):
    from interpreto_core.concepts import SplitModel, concept_importance, explain_concept, make_learner

    texts = ["Hello world. Goodbye moon!", "The cat sat.", "A b c d e f g"]
    for model, targets in ((classifier, 1), (causal_lm, None)):
        cpu_split = SplitModel(model, tokenizer, split_points=1)
        gpu_split = SplitModel(_on_gpu(model), tokenizer, split_points=1)
        pca = make_learner("pca", n_concepts=3).fit(cpu_split.collect(texts, progress=False))
        cpu = concept_importance(cpu_split, pca, texts, targets=targets, progress=False)
        gpu = concept_importance(gpu_split, pca, texts, targets=targets, progress=False)
        np.testing.assert_allclose(gpu.per_text, cpu.per_text, rtol=0,
                                   atol=2e-4 * max(1e-6, float(np.abs(cpu.per_text).max())))
        pca.to("cpu")
        cpu_ex = explain_concept(cpu_split, pca, texts[:2], concepts=[0, 2], method="integrated_gradients")
        gpu_ex = explain_concept(gpu_split, pca, texts[:2], concepts=[0, 2], method="integrated_gradients")
        for g, c in zip(gpu_ex, cpu_ex, strict=True):
            _close(g.scores, c.scores)


def test_interpreters_on_gpu(classifier, causal_lm, tokenizer):
    from interpreto_core.concepts import SplitModel, interpret_concepts, make_learner

    texts = ["Hello world. Goodbye moon!", "The cat sat.", "A b c d e f g"]
    split = SplitModel(_on_gpu(classifier), tokenizer, split_points=1)
    acts = split.collect(texts, granularity="token", progress=False)
    pca = make_learner("pca", n_concepts=3).fit(acts, device="cuda")
    assert len(interpret_concepts(pca, activations=acts, k=3)) == 3
    lm_split = SplitModel(_on_gpu(causal_lm), tokenizer, split_points=-1)
    lm_pca = make_learner("pca", n_concepts=2).fit(lm_split.collect(texts, progress=False), device="cuda")
    found = interpret_concepts(lm_pca, method="vocabulary_projection", split=lm_split, k=3)
    assert all(len(f.words) == 3 for f in found)

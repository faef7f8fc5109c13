"""Every method on both model kinds at every granularity; seeds; batching; bad input."""

from __future__ import annotations

import numpy as np
import pytest

import interpreto_core
from interpreto_core import InputError, UnknownNameError, UnknownParameterError

METHODS = [
    "occlusion", "lime", "kernel_shap", "sobol", "saliency", "input_x_gradient", "integrated_gradients",
    "smoothgrad", "vargrad", "squaregrad", "gradient_shap",
]
STOCHASTIC = ["lime", "kernel_shap", "sobol", "smoothgrad", "vargrad", "squaregrad", "gradient_shap"]
SMALL = {"n_samples": 8, "n_steps": 4}
TEXTS = ["A gripping story. The ending fell flat!", "Dull."]


def _small(method: str) -> dict:
    accepted = set()
    reg = interpreto_core.get_registry()
    recipe = reg.get("attribution", method).obj
    for kind, name in (("perturbator", recipe.perturbator), ("gradient_method", recipe.gradient_method)):
        if name:
            accepted |= set(reg.get(kind, name).params)
    params = {k: v for k, v in SMALL.items() if k in accepted}
    if method == "kernel_shap":
        params["n_samples"] = 16
    return params


def test_all_eleven_methods_are_listed():
    assert set(METHODS) <= {r.name for r in interpreto_core.list_methods("attribution")}


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("granularity", ["token", "word", "sentence"])
def test_every_method_on_the_classifier(classifier, tokenizer, method, granularity):
    expl = interpreto_core.explain(
        classifier, tokenizer, TEXTS, method=method, granularity=granularity, targets=[[0, 2], 1], **_small(method)
    )
    assert [len(e.targets) for e in expl] == [2, 1]
    first = expl[0]
    n = {"token": None, "word": 9, "sentence": 2}[granularity]
    if n is not None:
        assert len(first.elements) == n
    assert first.scores.shape == (2, len(first.elements))
    assert np.isfinite(first.scores).all() and np.abs(first.scores).max() > 0
    assert first.method == method and first.granularity == granularity
    assert first.versions["interpreto-core"] and first.targets[0].label == "LABEL_0"


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("granularity", ["token", "word", "sentence"])
def test_every_method_on_the_causal_lm(causal_lm, tokenizer, method, granularity):
    expl = interpreto_core.explain(
        causal_lm, tokenizer, "The cat sat. It purred", method=method, granularity=granularity,
        max_new_tokens=3, **_small(method),
    )[0]
    n_prompt = {"token": None, "word": 6, "sentence": 2}[granularity]
    assert len(expl.targets) == 3 and expl.output_text
    n_generated = sum(expl.generated)
    assert n_generated == 2  # the 3 generated tokens but the last, which influences no target
    if n_prompt is not None:
        assert len(expl.elements) == n_prompt + 2
    assert expl.scores.shape == (3, len(expl.elements))
    assert np.isfinite(expl.scores).all() and np.abs(expl.scores).max() > 0
    # target t sees the prompt and the t tokens generated before it, nothing after
    prompt = len(expl.elements) - n_generated
    for t in range(3):
        assert np.all(expl.scores[t, prompt + t :] == 0)


def test_llama_given_continuation(llama_lm, tokenizer):
    expl = interpreto_core.explain(
        llama_lm, tokenizer, "the weather today is", method="occlusion", targets=" very sunny"
    )[0]
    assert [t.label for t in expl.targets] == ["very", "sunny"]
    assert expl.elements[-1] == "very" and expl.generated[-1]


@pytest.mark.parametrize("method", STOCHASTIC)
def test_same_seed_same_result(classifier, tokenizer, method):
    run = lambda seed: interpreto_core.explain(  # noqa: E731
        classifier, tokenizer, TEXTS[0], method=method, seed=seed, **_small(method)
    )[0].scores
    np.testing.assert_array_equal(run(1), run(1))
    assert not np.allclose(run(1), run(2))


@pytest.mark.parametrize("method", ["lime", "integrated_gradients"])
def test_results_do_not_depend_on_batching_or_packing(classifier, tokenizer, method):
    texts = ["short one", "a much longer text with many more words in it", "mid length text"]
    together = interpreto_core.Explainer(classifier, tokenizer, method=method, batch_size=7, **_small(method))
    packed = together.explain(texts)
    n_rows = sum(
        (len(e.elements) * 0 + (8 if method == "lime" else 4)) for e in packed
    )
    assert together.forward_calls == -(-n_rows // 7)  # ceil: rows of several texts share forward passes
    for text, expl in zip(texts, packed, strict=True):
        alone = interpreto_core.explain(classifier, tokenizer, text, method=method, batch_size=1, **_small(method))
        np.testing.assert_allclose(expl.scores, alone[0].scores, rtol=1e-4, atol=1e-6)


def test_unknown_method_lists_the_available_ones(classifier, tokenizer):
    with pytest.raises(UnknownNameError) as info:
        interpreto_core.explain(classifier, tokenizer, "x", method="limes")
    assert info.value.available[0] == "lime" and "integrated_gradients" in str(info.value)


def test_unknown_parameters_are_named(classifier, tokenizer):
    with pytest.raises(UnknownParameterError, match=r"does not take n_step, noise; it takes: .*n_steps"):
        interpreto_core.explain(classifier, tokenizer, "x", method="integrated_gradients", n_step=3, noise=1)


@pytest.mark.parametrize(
    ("texts", "targets", "match"),
    [
        ("", None, "empty text"),
        ([], None, "no texts"),
        ("fine", 3, r"target 3 is out of range: the model has 3 classes \(0..2\)"),
        ("fine", -1, "out of range"),
        ("fine", "positive", "not a label of the model"),
        (["a", "b"], [0], "one entry per input"),
    ],
)
def test_bad_input_on_the_classifier(classifier, tokenizer, texts, targets, match):
    with pytest.raises(InputError, match=match):
        interpreto_core.explain(classifier, tokenizer, texts, method="occlusion", targets=targets)


def test_bad_engine_options(classifier, tokenizer, causal_lm):
    for params, match in [
        ({"batch_size": 0}, "batch_size"),
        ({"mode": "probabilty"}, "unknown score"),
        ({"reduction": "max"}, "unknown reduction"),
        ({"baseline": "random"}, "unknown baseline"),
    ]:
        with pytest.raises(InputError, match=match):
            interpreto_core.explain(classifier, tokenizer, "fine", method="saliency", **params)
    with pytest.raises(InputError, match="unknown granularity"):
        interpreto_core.explain(classifier, tokenizer, "fine", method="saliency", granularity="char")
    with pytest.raises(InputError, match="a target is a continuation"):
        interpreto_core.explain(causal_lm, tokenizer, "fine", method="saliency", targets=[3.5])
    with pytest.raises(InputError, match="empty"):
        interpreto_core.explain(causal_lm, tokenizer, "fine", method="saliency", targets="")


def test_custom_recipe_mixes_parts(classifier, tokenizer):
    recipe = interpreto_core.AttributionRecipe(perturbator="sobol", aggregator="lime_regression")
    expl = interpreto_core.explain(classifier, tokenizer, TEXTS[0], method=recipe, n_samples=8, alpha=0.1)[0]
    assert expl.method == "custom" and expl.parameters["parts"]["aggregator"] == "lime:lime_regression"
    bad = interpreto_core.AttributionRecipe(perturbator="lime", aggregator="variance")
    with pytest.raises(InputError, match="takes gradient outputs"):
        interpreto_core.explain(classifier, tokenizer, "x", method=bad)


def test_explanation_json_round_trip(classifier, causal_lm, tokenizer, tmp_path):
    for model in (classifier, causal_lm):
        expl = interpreto_core.explain(model, tokenizer, "a test", method="integrated_gradients", n_steps=3,
                                       completeness_delta=True)[0]
        path = expl.save(tmp_path / "e.json")
        back = interpreto_core.Explanation.from_json(path)
        assert back == expl
        np.testing.assert_array_equal(back.scores, expl.scores)

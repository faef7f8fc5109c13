"""``n_samples="auto"`` for KernelSHAP, LIME and Sobol: rounds until the relative standard error of
the estimate is at most ``tolerance``, the reported standard error calibrated against repeated seeds."""

from __future__ import annotations

import json

import numpy as np
import pytest

from interpreto_core import Explainer, InputError
from interpreto_core._adaptive_sampling import next_budget, relative_standard_error
from interpreto_core._explanation import Explanation

METHODS = ["kernel_shap", "lime", "sobol"]
TEXTS = ["the plot is thin but the acting is superb and the music", "a good film",
         "not bad at all, really quite fun"]
EIGHT = "the plot is thin but the acting is"  # 8 words


def _auto(model, tok, method, **kw):
    return Explainer(model, tok, method=method, n_samples="auto", **kw)


def test_relative_standard_error():
    scores = np.array([[3.0, 4.0], [0.0, 0.0]])
    assert relative_standard_error(scores, np.array([[0.3, 0.4], [0.0, 0.0]])) == pytest.approx(0.1)
    assert relative_standard_error(scores, np.array([[0.3, 0.4], [0.0, 1e-3]])) == np.inf
    assert next_budget(100, 0.1, 0.05) == 400  # 4x predicted (0.1/0.05)^2 * 1.1 = 4.4, capped at 4x
    assert next_budget(100, 0.06, 0.05) == 159  # 100 * 1.44 * 1.1 = 158.4
    assert next_budget(100, 0.051, 0.05) == 150  # at least 1.5x


def test_kernel_shap_is_exact_in_one_round_on_an_additive_model(linear_model, tokenizer):
    """On an additive f every coalition fits the regression exactly: se = 0, one round, and the
    scores are the Shapley values f(x with element i) - f(x without it), summing to f(x) - f(empty)."""
    ex = _auto(linear_model, tokenizer, "kernel_shap", batch_size=1000)
    exps = ex.explain(TEXTS)
    occ = Explainer(linear_model, tokenizer, method="occlusion").explain(TEXTS)
    for e, o in zip(exps, occ, strict=True):
        x = e.extras
        assert x["rounds"] == 1 and x["converged"] and x["relative_standard_error"] < 1e-6
        np.testing.assert_allclose(e.scores, o.scores, rtol=1e-4, atol=1e-5)  # additive: Shapley = occlusion
    assert ex.forward_calls == 1  # the three texts' rows in one pass


@pytest.mark.parametrize("method", ["lime", "sobol"])
def test_auto_stops_early_on_an_additive_model(linear_model, tokenizer, method):
    tol = 0.05 if method == "lime" else 0.15  # Jansen's estimator: ~1.2 / sqrt(n) even for an additive f
    exps = _auto(linear_model, tokenizer, method, tolerance=tol).explain(TEXTS)
    for e in exps:
        x = e.extras
        assert x["converged"] and x["relative_standard_error"] <= tol
        assert x["n_samples"] < (512 if method == "sobol" else 2048)  # the default max_samples
        se = np.asarray(x["standard_error"])
        assert se.shape == np.asarray(e.scores).shape and (se >= 0).all()
        assert relative_standard_error(np.asarray(e.scores), se) == pytest.approx(x["relative_standard_error"])


@pytest.mark.parametrize("method", METHODS)
def test_auto_meets_tolerance_or_reports_the_cap(classifier, tokenizer, method):
    tol, cap = 0.1, {"kernel_shap": 600, "lime": 600, "sobol": 128}[method]
    ex = _auto(classifier, tokenizer, method, tolerance=tol, max_samples=cap, batch_size=4096)
    exps = ex.explain(TEXTS)
    rounds = []
    for e in exps:
        x = e.extras
        assert x["converged"] == (x["relative_standard_error"] <= tol)
        if not x["converged"]:
            assert cap <= x["n_samples"] <= cap + 1 and not x["exact"]
        rows = x["n_samples"] * (len(e.elements) + 2) if method == "sobol" else x["n_samples"]
        assert x["evaluations"] == rows
        rounds.append(x["rounds"])
    # every round scores all the texts still running in one engine call (batch_size fits them all)
    assert ex.forward_calls == max(rounds)
    assert ex.forward_rows == sum(e.extras["evaluations"] for e in exps)


@pytest.mark.parametrize("method", METHODS)
def test_tiny_tolerance_hits_max_samples(classifier, tokenizer, method):
    cap = 40 if method == "sobol" else 150
    e = _auto(classifier, tokenizer, method, tolerance=1e-9, max_samples=cap).explain(EIGHT)[0]
    x = e.extras
    assert not x["converged"] and cap <= x["n_samples"] <= cap + 1 and x["relative_standard_error"] > 1e-9


@pytest.mark.parametrize("method", METHODS)
def test_same_seed_same_result(classifier, tokenizer, method):
    run = lambda seed: _auto(classifier, tokenizer, method, seed=seed, max_samples=200).explain(EIGHT)[0]  # noqa: E731
    a, b, c = run(3), run(3), run(4)
    np.testing.assert_array_equal(a.scores, b.scores)
    assert a.extras == b.extras
    assert not np.array_equal(a.scores, c.scores)


@pytest.mark.parametrize("method", METHODS)
def test_standard_error_is_calibrated(classifier, tokenizer, method):
    """Over 24 seeds at a fixed number of samples, the spread of the scores matches the reported se."""
    cap = {"kernel_shap": 160, "lime": 160, "sobol": 64}[method]
    runs = [_auto(classifier, tokenizer, method, seed=s, tolerance=1e-9, max_samples=cap).explain(EIGHT)[0]
            for s in range(24)]
    assert len({r.extras["n_samples"] for r in runs}) == 1
    scores = np.array([r.scores for r in runs])
    empirical = np.linalg.norm(scores.std(axis=0, ddof=1))
    reported = np.linalg.norm(np.mean([r.extras["standard_error"] for r in runs], axis=0))
    assert 0.5 <= empirical / reported <= 2.0, (empirical, reported)


def test_kernel_shap_enumerates_when_as_cheap(classifier, tokenizer):
    """A round that would ask for 2**M rows enumerates every coalition: the exact Shapley values,
    the same as a fixed run that enumerates them all."""
    e = _auto(classifier, tokenizer, "kernel_shap", tolerance=1e-9, max_samples=2000).explain(EIGHT)[0]
    assert e.extras["exact"] and e.extras["relative_standard_error"] == 0.0 and e.extras["converged"]
    assert 256 <= e.extras["n_samples"] < 512
    exact = Explainer(classifier, tokenizer, method="kernel_shap", n_samples=256).explain(EIGHT)[0]
    np.testing.assert_allclose(e.scores, exact.scores, rtol=1e-5, atol=1e-6)


def test_short_text_is_exact_at_once(classifier, tokenizer):
    e = _auto(classifier, tokenizer, "kernel_shap").explain("a good film")[0]
    assert e.extras["exact"] and e.extras["rounds"] == 1 and e.extras["n_samples"] == 8


@pytest.mark.parametrize("method", METHODS)
def test_extras_survive_json(classifier, tokenizer, method, tmp_path):
    e = _auto(classifier, tokenizer, method, max_samples=100).explain(TEXTS[1])[0]
    back = Explanation.from_json(json.loads(json.dumps(e.to_json())))
    assert back.extras == e.extras
    assert back.parameters["n_samples"] == "auto"


@pytest.mark.parametrize("method", METHODS)
def test_bad_budgets(classifier, tokenizer, method):
    with pytest.raises(InputError, match="'auto'"):
        Explainer(classifier, tokenizer, method=method, n_samples="many")
    with pytest.raises(InputError, match="apply to n_samples='auto' only"):
        Explainer(classifier, tokenizer, method=method, n_samples=50, tolerance=0.3)
    with pytest.raises(InputError, match="tolerance"):
        Explainer(classifier, tokenizer, method=method, n_samples="auto", tolerance=0)
    with pytest.raises(InputError, match="max_samples"):
        Explainer(classifier, tokenizer, method=method, n_samples="auto", max_samples=1)


def test_kernel_shap_cap_below_the_elements(classifier, tokenizer):
    with pytest.raises(InputError, match="max_samples >= n_elements \\+ 2"):
        _auto(classifier, tokenizer, "kernel_shap", max_samples=5).explain(EIGHT)


def test_aggregator_without_estimate_is_refused(classifier, tokenizer):
    from interpreto_core import AttributionRecipe

    recipe = AttributionRecipe(perturbator="lime", aggregator="difference")
    with pytest.raises(InputError, match="estimate"):
        Explainer(classifier, tokenizer, method=recipe, n_samples="auto").explain(EIGHT)

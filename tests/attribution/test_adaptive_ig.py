"""Integrated Gradients with ``n_steps="auto"``: per-input refinement to a completeness tolerance."""

from __future__ import annotations

import numpy as np
import pytest

import interpreto_core
from interpreto_core import Explainer, InputError
from interpreto_core._errors import UnknownParameterError

TEXTS = ["the plot is thin but the acting is superb", "a good film", "awful", "not bad at all, really quite fun",
         "it was long", "what a wonderful and moving story about friendship"]


def _ig(model, tok, **kw):
    return Explainer(model, tok, method="integrated_gradients", **kw)


def _errors(exps):
    return [e.extras["completeness_error"] for e in exps]


@pytest.mark.parametrize("quadrature", ["gauss_legendre", "clenshaw_curtis", "riemann_trapezoid", "warped_trapezoid"])
def test_auto_meets_tolerance_or_reports_the_cap(classifier, tokenizer, quadrature):
    tol = 1e-2
    exps = _ig(classifier, tokenizer, n_steps="auto", tolerance=tol, quadrature=quadrature,
               completeness_delta=True).explain(TEXTS)
    for e in exps:
        x = e.extras
        assert isinstance(x["n_steps"], int) and 8 <= x["n_steps"] <= 129
        assert x["converged"] == (x["completeness_error"] <= tol)
        if not x["converged"]:
            assert x["n_steps"] == (129 if quadrature in ("clenshaw_curtis", "riemann_trapezoid") else 128)
        # the recorded error is the completeness delta relative to the prediction change
        delta = np.asarray(x["completeness_delta"])
        assert np.isfinite(delta).all()
    assert all(e.extras["converged"] for e in exps)


def test_auto_on_a_causal_lm(causal_lm, tokenizer):
    exps = _ig(causal_lm, tokenizer, n_steps="auto", tolerance=5e-3).explain(["the cat sat on"],
                                                                             targets=" the mat")
    x = exps[0].extras
    assert x["completeness_error"] <= 5e-3 or not x["converged"]
    assert x["n_steps"] in (8, 16, 32, 64, 128)  # the warped trapezoid, the auto default


def test_auto_defaults(classifier, tokenizer):
    ex = _ig(classifier, tokenizer, n_steps="auto")
    assert ex.first.quadrature == "warped_trapezoid" and ex.first.tolerance == 1e-2 and ex.first.max_steps == 128
    assert ex.first.orders == [8, 16, 32, 64, 128]
    trapezoid = _ig(classifier, tokenizer, n_steps="auto", quadrature="riemann_trapezoid")
    assert trapezoid.first.orders == [9, 17, 33, 65, 129]
    gl = _ig(classifier, tokenizer, n_steps="auto", quadrature="gauss_legendre")
    assert gl.first.orders == [8, 16, 32, 64, 128]
    assert _ig(classifier, tokenizer, n_steps="auto", max_steps=50, quadrature="gauss_legendre").first.orders == [
        8, 16, 32, 50]
    assert _ig(classifier, tokenizer).first.quadrature == "gauss_legendre"  # the fixed default, as captum


def test_small_cap_is_reported(classifier, tokenizer):
    exps = _ig(classifier, tokenizer, n_steps="auto", tolerance=1e-12, max_steps=16).explain(TEXTS[:2])
    for e in exps:
        assert e.extras["n_steps"] == 16 and e.extras["converged"] is False  # the warped trapezoid: 16 nodes
        assert e.extras["completeness_error"] > 1e-12


@pytest.mark.parametrize("quadrature", ["gauss_legendre", "clenshaw_curtis", "riemann_trapezoid", "warped_trapezoid"])
def test_auto_equals_the_fixed_run_at_its_order(classifier, tokenizer, quadrature):
    exps = _ig(classifier, tokenizer, n_steps="auto", quadrature=quadrature).explain(TEXTS)
    for text, e in zip(TEXTS, exps, strict=True):
        fixed = _ig(classifier, tokenizer, n_steps=e.extras["n_steps"], quadrature=quadrature).explain(text)[0]
        np.testing.assert_allclose(e.scores, fixed.scores, rtol=1e-5, atol=1e-6)


def test_nested_rule_reuses_points(classifier, tokenizer):
    ex = _ig(classifier, tokenizer, n_steps="auto", tolerance=1e-12, max_steps=32, quadrature="clenshaw_curtis")
    e = ex.explain(TEXTS[0])[0]
    assert e.extras["n_steps"] == 33
    assert e.extras["gradient_rows"] == 33  # 9 + 8 + 16 new nodes, no node twice
    assert ex.forward_rows == 33 + 2  # + f(x), f(b)


@pytest.mark.parametrize("quadrature", ["gauss_legendre", "clenshaw_curtis", "riemann_trapezoid", "warped_trapezoid"])
def test_auto_uses_fewer_rows_than_fixed_64_at_the_same_accuracy(classifier, tokenizer, quadrature):
    tol = 1e-2
    auto = _ig(classifier, tokenizer, n_steps="auto", tolerance=tol, quadrature=quadrature)
    a = auto.explain(TEXTS)
    fixed = _ig(classifier, tokenizer, n_steps=64, completeness_delta=True)
    f = fixed.explain(TEXTS)
    assert all(e.extras["completeness_error"] <= tol for e in a)
    for e in f:  # fixed 64 reaches the tolerance too, with more rows
        gap = np.asarray(e.extras["completeness_delta"])
        change = e.scores.sum(1) - gap  # f(x) - f(b)
        assert np.abs(gap).max() <= tol * np.abs(change).max()
    assert auto.forward_rows < fixed.forward_rows
    assert sum(e.extras["gradient_rows"] for e in a) + 2 * len(TEXTS) == auto.forward_rows


def test_fixed_path_unchanged_and_bad_values_refused(classifier, tokenizer):
    a = _ig(classifier, tokenizer, n_steps=16).explain(TEXTS[0])[0]
    assert "n_steps" not in a.extras and "completeness_error" not in a.extras
    with pytest.raises(InputError, match="tolerance"):
        _ig(classifier, tokenizer, n_steps=16, tolerance=1e-3)
    with pytest.raises(InputError, match="max_steps"):
        _ig(classifier, tokenizer, n_steps=16, max_steps=64)
    assert _ig(classifier, tokenizer, n_steps=16, quadrature="auto").first.quadrature == "gauss_legendre"
    with pytest.raises(InputError, match="auto"):
        _ig(classifier, tokenizer, n_steps="fast")
    with pytest.raises(InputError, match="tolerance"):
        _ig(classifier, tokenizer, n_steps="auto", tolerance=0)
    with pytest.raises(InputError, match="max_steps"):
        _ig(classifier, tokenizer, n_steps="auto", max_steps=4)
    for method in ("gradient_shap", "smoothgrad", "lime"):
        with pytest.raises((InputError, UnknownParameterError), match="n_steps"):
            Explainer(classifier, tokenizer, method=method, n_steps="auto")


def test_explain_function_takes_auto(classifier, tokenizer):
    e = interpreto_core.explain(classifier, tokenizer, TEXTS[1], method="integrated_gradients", n_steps="auto")[0]
    assert e.extras["n_steps"] >= 8 and e.parameters["n_steps"] == "auto"


def test_the_warped_trapezoid_integrates_exactly_what_it_should():
    """Nodes (k/n)^2, weights 2 t_k w_k (the trapezoid in t of g(t^2) 2t): weights sum to 1 (exact
    for a constant), nested, second-order convergence, no node at the baseline."""
    from interpreto_plugins.integrated_gradients import quadrature_rule

    for n in (8, 16, 32):
        a, w = quadrature_rule(n, "warped_trapezoid")
        assert len(a) == n and a.min() > 0 and a.max() == 1.0 and (w > 0).all()
        assert w.sum() == pytest.approx(1.0, abs=1e-12)
        assert set(np.round(quadrature_rule(n // 2, "warped_trapezoid")[0], 12)) <= set(np.round(a, 12))
    errors = []
    for n in (8, 16, 32):
        a, w = quadrature_rule(n, "warped_trapezoid")
        errors.append(abs(np.dot(w, np.cos(a)) - np.sin(1.0)))  # integral of cos over [0, 1]
    assert errors[0] / errors[1] == pytest.approx(4.0, rel=0.05)
    assert errors[1] / errors[2] == pytest.approx(4.0, rel=0.05)

"""Banzhaf values (plugins/banzhaf.py): exact by enumeration against the formula computed by hand,
the MSR estimate close to it, additive models, complementary pairs, errors."""

from __future__ import annotations

import itertools
import sys
from pathlib import Path

import numpy as np
import pytest

import interpreto_core
from interpreto_core import ModelAdapter

sys.path.insert(0, str(Path(__file__).parent))
from test_axioms import _masked_scores  # noqa: E402  (the hand scorer, independent of the engine)

TEXT = "the plot is thin but superb"  # 6 words: 64 coalitions


def _exact_banzhaf(model, tokenizer, text, target):
    n = len(ModelAdapter(model, tokenizer).encode(text).elements("word"))
    coalitions = list(itertools.product((0, 1), repeat=n))
    value = dict(zip(coalitions, _masked_scores(model, tokenizer, text, coalitions, target), strict=True))
    beta = np.zeros(n)
    for s in coalitions:
        for i in range(n):
            if not s[i]:
                beta[i] += value[s[:i] + (1,) + s[i + 1 :]] - value[s]
    return beta / 2 ** (n - 1)


@pytest.mark.parametrize("estimator", ["regression", "msr"])
def test_enumerated_banzhaf_equals_the_formula(classifier, tokenizer, estimator):
    beta = _exact_banzhaf(classifier, tokenizer, TEXT, target=1)
    e = interpreto_core.explain(classifier, tokenizer, TEXT, method="banzhaf", targets=1, n_samples=64,
                                estimator=estimator)[0]
    assert e.extras["exact"] is True and e.extras["n_samples"] == 64
    np.testing.assert_allclose(e.scores[0], beta, rtol=1e-4, atol=1e-5)


def test_sampled_banzhaf_is_close_to_exact(classifier, tokenizer):
    text = "the plot is thin but the acting is superb"  # 9 words: 512 coalitions, budget 400
    beta = _exact_banzhaf(classifier, tokenizer, text, target=1)

    def error(estimator, n, seed):
        e = interpreto_core.explain(classifier, tokenizer, text, method="banzhaf", targets=1, n_samples=n,
                                    seed=seed, estimator=estimator)[0]
        assert e.extras["exact"] is (n >= 512)
        return np.linalg.norm(e.scores[0] - beta) / np.linalg.norm(beta)

    regression = [error("regression", 400, s) for s in range(3)]
    msr = [error("msr", 400, s) for s in range(3)]
    assert np.mean(regression) < 0.5, regression
    assert np.mean(regression) < np.mean(msr), (regression, msr)  # the other elements regressed out
    assert error("msr", 500, 0) < np.mean([error("msr", 64, s) for s in range(3)])  # more samples, closer


def test_two_elements_banzhaf_is_shapley(classifier, tokenizer):
    text = "superb acting"
    b = interpreto_core.explain(classifier, tokenizer, text, method="banzhaf", targets=[0, 1])[0]
    s = interpreto_core.explain(classifier, tokenizer, text, method="kernel_shap", targets=[0, 1], n_samples=4)[0]
    np.testing.assert_allclose(b.scores, s.scores, rtol=1e-4, atol=1e-6)


def test_draws_come_in_complementary_pairs():
    from interpreto_plugins.banzhaf import UniformCoalitions

    plan = UniformCoalitions(n_samples=101).plan(30, rng=np.random.default_rng(0))
    m = plan.masks
    assert m.shape == (100, 30)
    np.testing.assert_array_equal(m[:50] + m[50:], np.ones((50, 30)))


@pytest.mark.parametrize("bad", [1, 0, 2.5, True])
def test_bad_n_samples_is_refused(classifier, tokenizer, bad):
    with pytest.raises(interpreto_core.InputError, match="n_samples"):
        interpreto_core.Explainer(classifier, tokenizer, method="banzhaf", n_samples=bad)


def test_bad_estimator_is_refused(classifier, tokenizer):
    with pytest.raises(interpreto_core.InputError, match="estimator must be 'regression' or 'msr'"):
        interpreto_core.Explainer(classifier, tokenizer, method="banzhaf", estimator="ols")


def test_banzhaf_runs_on_a_causal_lm(causal_lm, tokenizer):
    e = interpreto_core.explain(causal_lm, tokenizer, "the cat sat on the", method="banzhaf", targets=" mat",
                                n_samples=32)[0]
    assert e.scores.shape == (len(e.targets), len(e.elements)) and np.isfinite(e.scores).all()

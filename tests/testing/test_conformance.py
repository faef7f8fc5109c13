"""The plugin authors' conformance checks pass on every built-in part and catch broken ones."""

from __future__ import annotations

import numpy as np
import pytest

import interpreto_core
from interpreto_core import GradientPlan, PerturbationPlan
from interpreto_core.testing import check_aggregator, check_gradient_method, check_perturbator

BUILTIN = "interpreto-core"


def _parts(kind):
    return [r for r in interpreto_core.list_methods(kind) if r.distribution == BUILTIN]


@pytest.mark.parametrize("record", _parts("perturbator"), ids=lambda r: r.name)
def test_builtin_perturbators_conform(record):
    check_perturbator(record.obj)


@pytest.mark.parametrize("record", _parts("gradient_method"), ids=lambda r: r.name)
def test_builtin_gradient_methods_conform(record):
    check_gradient_method(record.obj)


@pytest.mark.parametrize("record", [r for r in _parts("aggregator") if r.name not in ("sobol_indices", "difference",
                                                                                       "shapley_regression")],
                         ids=lambda r: r.name)
def test_builtin_aggregators_conform(record):
    # difference / shapley_regression / sobol_indices need their perturbator's plan (checked end to end elsewhere)
    check_aggregator(record.obj)


def test_checks_catch_broken_parts():
    class Unseeded:
        def plan(self, n_elements, *, rng):
            return PerturbationPlan(masks=np.random.default_rng().random((3, n_elements)))

    with pytest.raises(AssertionError, match="same rng seed"):
        check_perturbator(Unseeded)

    class WrongShape:
        def plan(self, inputs, baseline, *, generator):
            import torch

            return GradientPlan(points=inputs[None], weights=torch.ones(2))

    with pytest.raises(AssertionError, match=r"weights must be \(S,\)"):
        check_gradient_method(WrongShape)

    class Transposed:
        input = "perturbation"

        def aggregate(self, plan, outputs):
            return np.zeros((plan.masks.shape[1], outputs.shape[1]))

    with pytest.raises(AssertionError, match=r"\(n_targets, n_elements\) = \(2, 4\)"):
        check_aggregator(Transposed)


def test_builtin_interpreters_conform(classifier, causal_lm, tokenizer):
    from interpreto_core.concepts import SplitModel, make_learner
    from interpreto_core.testing import check_interpreter

    texts = ["The cat sat on the mat.", "Stocks fell sharply today.", "A fine, moving film"]
    split = SplitModel(classifier, tokenizer, split_points=1)
    acts = split.collect(texts, granularity="token", progress=False)
    learner = make_learner("pca", n_concepts=3).fit(acts)
    reg = interpreto_core.get_registry()
    check_interpreter(reg.get("interpreter", "topk_inputs").obj, learner, activations=acts, k=3)
    lm_split = SplitModel(causal_lm, tokenizer, split_points=-1)
    lm_learner = make_learner("pca", n_concepts=2).fit(lm_split.collect(texts, progress=False))
    check_interpreter(reg.get("interpreter", "vocabulary_projection").obj, lm_learner, split=lm_split, k=3)


def test_interpreter_check_catches_a_broken_one(classifier, tokenizer):
    from interpreto_core.concepts import ConceptInterpretation, make_learner
    from interpreto_core.testing import check_interpreter

    learner = make_learner("pca", n_concepts=2).fit(np.random.default_rng(0).random((20, 5)))

    class IgnoresConcepts:
        def interpret(self, learner, *, activations=None, split=None, concepts=None):
            return [ConceptInterpretation(concept=c, method="broken") for c in range(learner.n_concepts)]

    with pytest.raises(AssertionError, match=r"concepts=\[c\] must interpret exactly concept c"):
        check_interpreter(IgnoresConcepts, learner)

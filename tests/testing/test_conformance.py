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

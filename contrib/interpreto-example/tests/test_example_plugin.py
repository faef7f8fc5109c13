"""The example plugin's own tests, written with interpreto_core.testing."""

import numpy as np
import pytest

import interpreto_example
from interpreto_core.plugin import AttributionRecipe
from interpreto_core.testing import check_attribution, check_perturbator


def test_bernoulli_masks_honour_the_perturbator_contract():
    check_perturbator(interpreto_example.BernoulliMasks, n_samples=50, keep_probability=0.3)


def test_keep_probability_is_respected():
    masks = interpreto_example.BernoulliMasks(n_samples=4000, keep_probability=0.3).plan(
        10, rng=np.random.default_rng(0)
    ).masks
    assert masks[1:].mean() == pytest.approx(0.3, abs=0.01) and masks[0].min() == 1


def test_registers_in_an_isolated_registry(isolated_registry):
    # the isolated registry holds interpreto-core's built-ins only: add this plugin to it
    isolated_registry.add_plugin(interpreto_example, name="example")
    loaded = {p.distribution for p in isolated_registry.list_plugins() if p.status == "loaded"}
    assert loaded == {"interpreto-core", None}
    assert isolated_registry.get("attribution", "bernoulli_lime").plugin == "example"
    assert isolated_registry.get("perturbator", "bernoulli").params == {"n_samples": 100, "keep_probability": 0.5}


def test_recipe_runs_end_to_end_with_the_builtin_aggregator():
    check_attribution(AttributionRecipe(perturbator="bernoulli", aggregator="lime_regression"), n_samples=16)


def test_the_conformance_check_catches_a_broken_perturbator():
    class OutOfRange:
        def plan(self, n_elements, *, rng):
            from interpreto_core.plugin import PerturbationPlan

            return PerturbationPlan(masks=np.full((3, n_elements), 2.0))

    with pytest.raises(AssertionError, match=r"mask values must lie in \[0, 1\]"):
        check_perturbator(OutOfRange)

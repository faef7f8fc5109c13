"""Recipes resolve their bare part names to their own plugin first; recipe names are checked at load;
old-style concept metrics still load; a plugin cannot end the host process."""

from __future__ import annotations

import types
import warnings

import numpy as np
import pytest

import interpreto_core
from interpreto_core import AmbiguousNameError, PluginLoadError, PluginWarning
from interpreto_core.plugin import AttributionRecipe, PerturbationPlan, hookimpl
from interpreto_core.testing import builtin_registry


def _sliding_plugin(name: str, width: int) -> types.SimpleNamespace:
    class Sliding:
        def __init__(self, *, n_samples: int = 0) -> None:
            pass

        def plan(self, n_elements, *, rng):
            masks = np.ones((n_elements + 1, n_elements))
            for e in range(n_elements):
                masks[e + 1, e : e + width] = 0.0
            return PerturbationPlan(masks=masks, info={"extras": {"width": width}})

    @hookimpl
    def interpreto_register_perturbator(register):
        register(Sliding, name="sliding_window", summary=f"width {width}")

    @hookimpl
    def interpreto_register_attribution(register):
        register(AttributionRecipe(perturbator="sliding_window", aggregator="difference"),
                 name=f"{name}_sliding", summary="sliding occlusion")

    return types.SimpleNamespace(__name__=name, interpreto_register_perturbator=interpreto_register_perturbator,
                                 interpreto_register_attribution=interpreto_register_attribution)


def test_a_recipe_uses_its_own_plugins_part_when_another_plugin_has_the_same_name(classifier, tokenizer):
    reg = builtin_registry()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PluginWarning)  # the duplicate name is reported, and allowed
        reg.add_plugin(_sliding_plugin("one", 1), name="one")
        reg.add_plugin(_sliding_plugin("two", 2), name="two")
    for plugin, width in (("one", 1), ("two", 2)):
        explainer = interpreto_core.Explainer(classifier, tokenizer, method=f"{plugin}_sliding", registry=reg)
        expl = explainer("a fine day")[0]
        assert expl.extras["width"] == width
        assert expl.parameters["parts"]["perturbator"] == f"{plugin}:sliding_window"
    # a bare name outside a recipe of its plugin is ambiguous, and the error names both
    with pytest.raises(AmbiguousNameError, match="one:sliding_window.*two:sliding_window"):
        interpreto_core.Explainer(classifier, tokenizer, registry=reg,
                                  method=AttributionRecipe(perturbator="sliding_window",
                                                           aggregator="difference"))


def test_a_recipe_naming_a_missing_part_fails_its_plugin_at_load():
    @hookimpl
    def interpreto_register_attribution(register):
        register(AttributionRecipe(perturbator="no_such_masks", aggregator="lime_regression"), name="broken",
                 summary="names a part nobody registers")

    plugin = types.SimpleNamespace(__name__="broken", interpreto_register_attribution=interpreto_register_attribution)
    reg = builtin_registry()
    with pytest.raises(PluginLoadError, match="recipe 'broken' names a missing perturbator: unknown perturbator "
                                              "'no_such_masks'"):
        reg.add_plugin(plugin, name="broken")
    with pytest.warns(PluginWarning, match="broken"):
        record = reg.add_plugin(plugin, name="broken", strict=False)
    assert record.status == "failed" and "broken" not in reg.names("attribution")


def test_a_metric_registered_with_scope_concepts_is_a_deprecated_concept_metric():
    from interpreto_plugins.concepts.metric_mse import ConceptMSE

    @hookimpl
    def interpreto_register_metric(register):
        register(ConceptMSE, name="old_style_mse", summary="published against the old API", scope="concepts")

    plugin = types.SimpleNamespace(__name__="old", interpreto_register_metric=interpreto_register_metric)
    reg = builtin_registry()
    with pytest.warns(DeprecationWarning, match="plugin 'old' .* registers concept metric 'old_style_mse' as a metric"):
        reg.add_plugin(plugin, name="old")
    assert reg.get("concept_metric", "old_style_mse").obj is ConceptMSE
    assert "old_style_mse" not in reg.names("metric")


@pytest.mark.parametrize("exc", ["SystemExit(3)", "GeneratorExit()"])
def test_a_plugin_raising_a_base_exception_fails_alone(exc):
    @hookimpl
    def interpreto_register_perturbator(register):
        raise eval(exc)

    plugin = types.SimpleNamespace(__name__="exits", interpreto_register_perturbator=interpreto_register_perturbator)
    reg = builtin_registry()
    with pytest.warns(PluginWarning, match="exits"):
        record = reg.add_plugin(plugin, name="exits", strict=False)
    assert record.status == "failed" and "occlusion" in reg.names("attribution")


def test_a_score_that_does_not_subclass_score_works(classifier, tokenizer):
    class Doubled:  # only the score() method of the contract: the engine wraps it
        needs_foil = False

        def score(self, logits, target, foil):
            return 2 * logits.float().gather(-1, target.unsqueeze(-1)).squeeze(-1)

    @hookimpl
    def interpreto_register_score(register):
        register(Doubled, name="doubled", summary="twice the logit")

    reg = builtin_registry()
    reg.add_plugin(types.SimpleNamespace(__name__="dbl", interpreto_register_score=interpreto_register_score),
                   name="dbl")
    twice = interpreto_core.Explainer(classifier, tokenizer, method="occlusion", score="doubled", registry=reg)
    once = interpreto_core.Explainer(classifier, tokenizer, method="occlusion", score="logit", registry=reg)
    a, b = twice("a fine day", 1)[0], once("a fine day", 1)[0]
    np.testing.assert_allclose(a.scores, 2 * b.scores, rtol=1e-6)
    assert a.score == "doubled"

"""The plugin authors' conformance checks pass on every built-in part and catch broken ones."""

from __future__ import annotations

import types

import numpy as np
import pytest

import interpreto_core
from interpreto_core.plugin import (
    AffineLearner,
    AttributionRecipe,
    ConceptMetric,
    GradientPlan,
    MetricResult,
    PerturbationPlan,
    Score,
    hookimpl,
)
from interpreto_core.testing import (
    builtin_registry,
    check_aggregator,
    check_attribution,
    check_concept_metric,
    check_dictionary_learner,
    check_gradient_method,
    check_interpreter,
    check_metric,
    check_perturbator,
    check_score,
    check_task,
)

BUILTIN = "interpreto-core"


def _parts(kind):
    return [r for r in interpreto_core.list_methods(kind) if r.distribution == BUILTIN]


def _get(kind, name):
    return interpreto_core.get_registry().get(kind, name).obj


# -- every built-in part passes its kind's check ----------------------------------------------------
@pytest.mark.parametrize("record", _parts("perturbator"), ids=lambda r: r.name)
def test_builtin_perturbators_conform(record):
    check_perturbator(record.obj)


@pytest.mark.parametrize("record", _parts("gradient_method"), ids=lambda r: r.name)
def test_builtin_gradient_methods_conform(record):
    check_gradient_method(record.obj)


@pytest.mark.parametrize("record", [r for r in _parts("aggregator") if r.name not in ("sobol_indices", "difference",
                                                                                       "shapley_regression",
                                                                                       "marginal_contributions")],
                         ids=lambda r: r.name)
def test_builtin_aggregators_conform(record):
    # difference, shapley_regression, sobol_indices, marginal_contributions need their perturbator's plan (checked
    # end to end below)
    check_aggregator(record.obj)


@pytest.mark.parametrize("record", _parts("attribution"), ids=lambda r: r.name)
def test_builtin_recipes_conform(record):
    registry = interpreto_core.get_registry()
    accepted = {p for kind, name in record.obj.part_names()
                for p in registry.get(kind, name, prefer=record.plugin).params}
    small = {k: v for k, v in {"n_samples": 16, "n_steps": 4}.items() if k in accepted}
    check_attribution(record.obj, **small)  # no registry=: the built-ins alone, found by identity


@pytest.mark.parametrize("record", _parts("metric"), ids=lambda r: r.name)
def test_builtin_metrics_conform(record):
    check_metric(record.obj, **({"n_samples": 2} if record.name == "sensitivity" else {}))


SAES = ("sae", "topk_sae", "batchtopk_sae", "jumprelu_sae", "mp_sae", "ra_topk_sae")


def _learner_params(name):
    p = {"n_concepts": 4}
    if name in SAES:
        p |= {"epochs": 2, "batch_size": 32}
    if name in ("topk_sae", "batchtopk_sae", "ra_topk_sae"):
        p["top_k"] = 2
    if name == "ra_topk_sae":
        p["n_points"] = 16
    if name in ("nmf", "convex_nmf", "semi_nmf"):
        p["max_iter"] = 50
    return p


@pytest.mark.parametrize("record", _parts("dictionary_learner"), ids=lambda r: r.name)
def test_builtin_learners_conform(record):
    check_dictionary_learner(record.obj, **_learner_params(record.name))  # with the save / load round trip


@pytest.mark.parametrize("record", _parts("concept_metric"), ids=lambda r: r.name)
def test_builtin_concept_metrics_conform(record):
    check_concept_metric(record.obj)


@pytest.mark.parametrize("record", _parts("score"), ids=lambda r: r.name)
def test_builtin_scores_conform(record):
    check_score(record.obj)


def test_builtin_tasks_conform(classifier, causal_lm, tokenizer):
    check_task(_get("task", "sequence_classification"), classifier, tokenizer,
               ["A fine, moving film.", ("A man sleeps.", "Nobody is asleep here")])
    check_task(_get("task", "sequence_classification"), classifier, tokenizer, ["a text", "another"],
               targets=[2, [0, 1]])
    check_task(_get("task", "causal_lm"), causal_lm, tokenizer, ["Once upon a time", "The cat"], max_new_tokens=3)
    check_task(_get("task", "causal_lm"), causal_lm, tokenizer, ["The weather is"], targets=[" sunny today"])


def test_builtin_interpreters_conform(classifier, causal_lm, tokenizer):
    from interpreto_core.concepts import SplitModel, make_learner

    texts = ["The cat sat on the mat.", "Stocks fell sharply today.", "A fine, moving film"]
    split = SplitModel(classifier, tokenizer, split_points=1)
    acts = split.collect(texts, granularity="token", progress=False)
    learner = make_learner("pca", n_concepts=3).fit(acts)
    check_interpreter(_get("interpreter", "topk_inputs"), learner, activations=acts, k=3)
    lm_split = SplitModel(causal_lm, tokenizer, split_points=-1)
    lm_learner = make_learner("pca", n_concepts=2).fit(lm_split.collect(texts, progress=False))
    check_interpreter(_get("interpreter", "vocabulary_projection"), lm_learner, split=lm_split, k=3)


# -- each check catches a broken part ----------------------------------------------------------------
def test_perturbator_check_catches_unseeded_masks():
    class Unseeded:
        def plan(self, n_elements, *, rng):
            return PerturbationPlan(masks=np.random.default_rng().random((3, n_elements)))

    with pytest.raises(AssertionError, match="same rng seed"):
        check_perturbator(Unseeded)


def test_gradient_method_check_catches_wrong_weights():
    class WrongShape:
        def plan(self, inputs, baseline, *, generator):
            import torch

            return GradientPlan(points=inputs[None], weights=torch.ones(2))

    with pytest.raises(AssertionError, match=r"weights must be \(S,\)"):
        check_gradient_method(WrongShape)


def test_aggregator_check_catches_transposed_scores():
    class Transposed:
        input = "perturbation"

        def aggregate(self, plan, outputs):
            return np.zeros((plan.masks.shape[1], outputs.shape[1]))

    with pytest.raises(AssertionError, match=r"\(n_targets, n_elements\) = \(2, 4\)"):
        check_aggregator(Transposed)


def test_attribution_check_catches_an_unseeded_part():
    class Noisy:  # ignores the engine's seeded rng
        def plan(self, n_elements, *, rng):
            return PerturbationPlan(masks=(np.random.default_rng().random((8, n_elements)) > 0.5).astype(float))

    recipe = AttributionRecipe(perturbator="noisy", aggregator="lime_regression")
    plugin = types.SimpleNamespace(
        interpreto_register_perturbator=hookimpl(lambda register: register(Noisy, name="noisy", summary="noisy")),
        interpreto_register_attribution=hookimpl(lambda register: register(recipe, name="noisy_lime", summary="x")),
    )
    registry = builtin_registry()
    registry.add_plugin(plugin, name="noisy_plugin")
    with pytest.raises(AssertionError, match="same seed must give the same scores"):
        check_attribution(recipe, registry=registry)


def test_attribution_check_isolates_and_finds_the_recipes_plugin():
    # the contrib example is installed: its recipe is found by identity, and runs in an isolated registry
    registry = interpreto_core.get_registry()
    if "bernoulli_lime" not in registry.names("attribution"):
        pytest.skip("interpreto-example is not installed")
    check_attribution(registry.get("attribution", "bernoulli_lime").obj, n_samples=8)
    with pytest.raises(AssertionError, match="unknown perturbator 'not_a_part'"):
        check_attribution(AttributionRecipe(perturbator="not_a_part", aggregator="difference"))


def test_metric_check_catches_one_value_for_all_explanations():
    class OneValue:
        def compute(self, explanations, *, model, tokenizer=None):
            return MetricResult(metric="one", method="x", values=[0.5], random_values=[0.1], higher_is_better=True)

    with pytest.raises(AssertionError, match="one value per explanation"):
        check_metric(OneValue)


class _Forgetful(AffineLearner):
    """Saves its tensors but forgets the mean when loading."""

    name = "forgetful"

    def _fit(self, a, *, progress=None):
        import torch

        mean = a.mean(0)
        _, _, vt = torch.linalg.svd(a - mean, full_matrices=False)
        self._set(mean=mean, encoder=vt[:3].T, components=vt[:3])

    def load_state(self, tensors, extra):
        super().load_state(tensors, extra)
        self.mean = self.mean * 0


def test_learner_check_catches_a_lossy_round_trip():
    with pytest.raises(AssertionError, match="after save / load, encode differs"):
        check_dictionary_learner(_Forgetful, n_concepts=3)
    check_dictionary_learner(_Forgetful, n_concepts=3, round_trip=False)  # the rest of the contract holds


def test_learner_check_catches_a_name_that_is_not_the_registered_one():
    plugin = types.SimpleNamespace(interpreto_register_dictionary_learner=hookimpl(
        lambda register: register(_Forgetful, name="other_name", summary="x")))
    registry = builtin_registry()
    registry.add_plugin(plugin, name="p")
    with pytest.raises(AssertionError, match="registered as 'other_name'"):
        check_dictionary_learner(_Forgetful, registry=registry, n_concepts=3)


def test_interpreter_check_catches_ignored_concepts():
    from interpreto_core.concepts import ConceptInterpretation, make_learner

    learner = make_learner("pca", n_concepts=2).fit(np.random.default_rng(0).random((20, 5)))

    class IgnoresConcepts:
        def interpret(self, learner, *, activations=None, split=None, concepts=None):
            return [ConceptInterpretation(concept=c, method="broken") for c in range(learner.n_concepts)]

    with pytest.raises(AssertionError, match=r"concepts=\[c\] must interpret exactly concept c"):
        check_interpreter(IgnoresConcepts, learner)


def test_concept_metric_check_catches_a_wrong_direction():
    class UpsideDownMSE(ConceptMetric):
        name = "upside_down"
        higher_is_better = True  # wrong: an error

        def _score(self, *, x, reconstruction, **_):
            return (x - reconstruction).pow(2).mean()

    with pytest.raises(AssertionError, match="the perfect one must score better"):
        check_concept_metric(UpsideDownMSE)


def test_score_check_catches_a_score_that_reads_other_rows():
    class BatchSoftmax(Score):
        name = "batch_softmax"

        def score(self, logits, target, foil):
            import torch

            return torch.softmax(logits.float().gather(-1, target.unsqueeze(-1)).squeeze(-1), dim=0)

    with pytest.raises(AssertionError, match="only that row's logits"):
        check_score(BatchSoftmax)


def test_score_check_catches_a_foil_score_without_its_error():
    class SilentContrast(Score):
        name = "silent_contrast"
        needs_foil = True

        def score(self, logits, target, foil):
            z = logits.float()
            other = z.mean(-1) if foil is None else z.gather(-1, foil.unsqueeze(-1)).squeeze(-1)
            return z.gather(-1, target.unsqueeze(-1)).squeeze(-1) - other

    with pytest.raises(AssertionError, match="without a foil must raise InputError"):
        check_score(SilentContrast)


def test_task_check_catches_a_task_that_ignores_padding(classifier, tokenizer):
    base = _get("task", "sequence_classification")

    class Unmasked(base):
        name = "unmasked_classification"

        def scores(self, batch, score):
            logits = self.model(inputs_embeds=batch.inputs_embeds).logits  # no attention_mask: reads the padding
            index = batch.target_field("index")
            return score(logits[:, None, :].expand(-1, index.shape[1], -1), index, None)

    with pytest.raises(AssertionError, match="must not depend on the other rows or on padding"):
        check_task(Unmasked, classifier, tokenizer, ["short", "a much longer text than the first one, with words"])



def test_task_check_catches_rows_cut_before_a_token_the_target_sees(causal_lm, tokenizer):
    base = _get("task", "causal_lm")

    class CutTooEarly(base):
        name = "cut_too_early"

        def row_length(self, item, targets):  # drops the token at the target's own position
            return max(item.targets[t].position for t in targets)

    with pytest.raises(AssertionError, match="may only be cut after every token its target can see"):
        check_task(CutTooEarly, causal_lm, tokenizer, ["The weather is"], targets=[" sunny today"])

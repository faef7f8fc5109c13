"""Hook specifications: the plugin author's manual.

A plugin is a module found through the entry-point group ``interpreto``. It implements any of
the hooks below, each of which receives a ``register`` callback::

    from interpreto_core.plugin import hookimpl

    @hookimpl
    def interpreto_register_perturbator(register):
        register(MyMasks, name="my_masks", summary="One line shown by `interpreto methods`.")

``register(obj, *, name, summary, **meta)`` validates ``obj`` against the contract of its kind
on the spot (the contract of each kind is in ``docs/plugins.md`` and in the docstrings below; the
conformance checks of ``interpreto_core.testing`` test it) and records which plugin and distribution it
came from. ``meta`` is free-form documentation (``reference=`` a paper, ``params=`` ...).

A plugin module imports only the public plugin API, ``interpreto_core.plugin``, and light
libraries at import time:
heavy imports (torch, overcomplete, ...) belong inside the part's methods, so that listing
methods stays fast.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pluggy

PROJECT = "interpreto"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def interpreto_register_perturbator(register: Callable[..., Any]) -> None:
    """Register perturbators: classes whose instances make element-level masks.

    Contract: ``plan(n_elements: int, *, rng: numpy.random.Generator) -> PerturbationPlan``;
    the plan's ``masks`` is an ``(n_samples, n_elements)`` array in [0, 1] (1 keeps an element).
    """


@hookspec
def interpreto_register_gradient_method(register: Callable[..., Any]) -> None:
    """Register gradient methods: classes that choose the points where gradients are taken.

    Contract: ``plan(inputs: Tensor[L, H], baseline: Tensor[L, H], *, generator) -> GradientPlan``.
    """


@hookspec
def interpreto_register_attributor(register: Callable[..., Any]) -> None:
    """Register attributors: classes that compute scores straight from the model (attention maps ...),
    named alone by a recipe (``AttributionRecipe(attributor=...)``, no aggregator).

    Contract: class attribute ``output = "tokens" | "elements"``; ``attribute(context:
    AttributorContext) -> list`` with one array per ``context.items`` entry: ``(T, L)`` token
    scores (``tokens``: the Explainer sums them over each element's tokens) or ``(T, E)``.
    """


@hookspec
def interpreto_register_aggregator(register: Callable[..., Any]) -> None:
    """Register aggregators: classes that turn model outputs at perturbations into scores.

    Contract: ``aggregate(plan, outputs) -> array[n_targets, n_elements]`` for perturbation
    aggregators (``input = "perturbation"``), or
    ``aggregate(plan, grads) -> Tensor[n_targets, L, H]`` for gradient aggregators
    (``input = "gradient"``).
    """


@hookspec
def interpreto_register_dictionary_learner(register: Callable[..., Any]) -> None:
    """Register dictionary learners (concept discovery): subclasses of ``DictionaryLearner``.

    Contract: keyword-only ``__init__``; ``fit(activations) -> self``; ``encode(x (N, H)) -> (N, C)``;
    ``decode(z (N, C)) -> (N, H)``; ``dictionary -> (C, H)``; ``state() -> dict[str, Tensor]`` and
    ``load_state(tensors, extra)`` for save / load (see ``DictionaryLearner``).
    """


@hookspec
def interpreto_register_interpreter(register: Callable[..., Any]) -> None:
    """Register concept interpreters.

    Contract: ``interpret(learner, *, activations=None, split=None, concepts=None)
    -> list[ConceptInterpretation]``, one per asked concept, in order.
    """


@hookspec
def interpreto_register_metric(register: Callable[..., Any]) -> None:
    """Register attribution metrics.

    Contract: ``compute(explanations, *, model, tokenizer=None) -> MetricResult`` with one value
    per explanation and a random baseline beside it.
    """


@hookspec
def interpreto_register_concept_metric(register: Callable[..., Any]) -> None:
    """Register concept metrics (score a concept dictionary): subclasses of ``ConceptMetric``.

    Contract: ``compute(activations, *, learner=None, codes=None, reconstruction=None, other=None)
    -> float``; class attributes ``higher_is_better`` and ``needs``.
    """


@hookspec
def interpreto_register_attribution(register: Callable[..., Any]) -> None:
    """Register named attribution methods: ``AttributionRecipe`` objects combining parts.

    A bare part name in a recipe resolves to the registering plugin's own part first, then to
    any plugin's; every name must exist when the plugin loads.
    """


@hookspec
def interpreto_register_task(register: Callable[..., Any]) -> None:
    """Register tasks: subclasses of ``Task`` (what differs between model families and heads).

    Contract: ``claims(model) -> bool`` (classmethod); ``prepare(inputs, targets, contrasts, *,
    granularity) -> list[TaskItem]``; ``scores(batch: RowBatch, score: Score) -> Tensor (B, W)``.
    """


@hookspec
def interpreto_register_score(register: Callable[..., Any]) -> None:
    """Register scores: the number explained for each target.

    Contract: ``score(logits (..., V), target (...), foil (...) | None) -> (...)``; class attribute
    ``needs_foil`` (True: explains target versus foil, ``contrast=`` is required).
    """

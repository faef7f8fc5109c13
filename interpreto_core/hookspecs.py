"""Hook specifications: the plugin author's manual.

A plugin is a module found through the entry-point group ``interpreto``. It implements any of
the hooks below, each of which receives a ``register`` callback::

    from interpreto_core import hookimpl

    @hookimpl
    def interpreto_register_perturbator(register):
        register(MyMasks, name="my_masks", summary="One line shown by `interpreto methods`.")

``register(obj, *, name, summary, **meta)`` validates ``obj`` against the contract of its kind
on the spot (see ``interpreto_core.contracts``) and records which plugin and distribution it
came from. ``meta`` is free-form documentation (``reference=`` a paper, ``params=`` ...).

A plugin module should import only ``interpreto_core`` and light libraries at import time:
heavy imports (torch, overcomplete, ...) belong inside the part's methods, so that listing
methods stays fast.
"""

from __future__ import annotations

import pluggy

PROJECT = "interpreto"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def interpreto_register_perturbator(register):  # type: ignore[no-untyped-def]
    """Register perturbators: classes whose instances make element-level masks.

    Contract: ``plan(n_elements: int, *, rng: numpy.random.Generator) -> PerturbationPlan``;
    the plan's ``masks`` is an ``(n_samples, n_elements)`` array in [0, 1] (1 keeps an element).
    """


@hookspec
def interpreto_register_gradient_method(register):  # type: ignore[no-untyped-def]
    """Register gradient methods: classes that choose the points where gradients are taken.

    Contract: ``plan(inputs: Tensor[L, H], baseline: Tensor[L, H], *, generator) -> GradientPlan``.
    """


@hookspec
def interpreto_register_aggregator(register):  # type: ignore[no-untyped-def]
    """Register aggregators: classes that turn model outputs at perturbations into scores.

    Contract: ``aggregate(plan, outputs) -> array[n_targets, n_elements]`` for perturbation
    aggregators (``input = "perturbation"``), or
    ``aggregate(plan, grads) -> Tensor[n_targets, L, H]`` for gradient aggregators
    (``input = "gradient"``).
    """


@hookspec
def interpreto_register_dictionary_learner(register):  # type: ignore[no-untyped-def]
    """Register dictionary learners (concept discovery).

    Contract: ``fit(activations)``, ``encode(x)``, ``decode(z)``, ``dictionary``.
    """


@hookspec
def interpreto_register_interpreter(register):  # type: ignore[no-untyped-def]
    """Register concept interpreters. Contract: ``interpret(...)``."""


@hookspec
def interpreto_register_metric(register):  # type: ignore[no-untyped-def]
    """Register metrics (attribution or concept metrics). Contract: ``compute(...)``."""


@hookspec
def interpreto_register_attribution(register):  # type: ignore[no-untyped-def]
    """Register named attribution methods: ``AttributionRecipe`` objects combining parts."""

"""The public plugin API: everything a plugin author of any kind imports, from one module.

A plugin module reads top to bottom: imports from here, the part, its registration::

    from interpreto_core.plugin import PerturbationPlan, hookimpl

    class EveryOther:
        def plan(self, n_elements, *, rng):
            ...
            return PerturbationPlan(masks=masks)

    @hookimpl
    def interpreto_register_perturbator(register):
        register(EveryOther, name="every_other", summary="One line shown by `interpreto methods`.")

The built-in plugins import only this module (a test fails on any private import from
``plugins/`` or ``contrib/``), so what they do a third-party plugin can do. Importing it loads no
torch: listing methods stays fast. The contract of each kind is in ``docs/plugins.md``; the
conformance checks are in ``interpreto_core.testing``.

Kinds and what to subclass or return
------------------------------------
- ``perturbator``: ``plan(n_elements, *, rng) -> PerturbationPlan``
- ``gradient_method``: ``plan(inputs, baseline, *, generator) -> GradientPlan``
- ``aggregator``: ``input = "perturbation" | "gradient"``; ``aggregate(plan, outputs)``
- ``attributor``: ``output = "tokens" | "elements"``; ``attribute(context: AttributorContext)`` -> one
  array per item (attention maps: ``context.attentions()``)
- ``attribution``: an ``AttributionRecipe`` naming the parts above (an attributor alone, or a
  perturbator / gradient method and an aggregator)
- ``metric``: ``compute(explanations, *, model, tokenizer) -> MetricResult`` (or subclass
  ``OrderCurveMetric`` / ``EraserMetric`` / ``CurveMetric``)
- ``dictionary_learner``: subclass ``DictionaryLearner`` (or ``AffineLearner``,
  ``NonNegativeLearner``, ``SAELearner``)
- ``interpreter``: ``interpret(learner, *, activations, split, concepts) -> [ConceptInterpretation]``
- ``concept_metric``: subclass ``ConceptMetric``
- ``task``: subclass ``Task`` (its ``prepare`` returns ``TaskItem``, its ``scores`` reads a ``RowBatch``)
- ``score``: subclass ``Score``
"""

from __future__ import annotations

from typing import TYPE_CHECKING as _TYPE_CHECKING

from ._elements import GRANULARITIES, PAIR_SEPARATOR, Elements, split_elements, split_pair_elements
from ._errors import (
    AmbiguousNameError,
    InputError,
    InterpretoError,
    InvalidPartError,
    PluginLoadError,
    UnknownNameError,
    UnknownParameterError,
)
from ._lazy import lazy_attributes as _lazy_attributes
from ._parts import KINDS, AttributionRecipe, GradientPlan, PerturbationPlan, build_part, part_params
from ._records import PartRecord, PluginRecord
from ._registry import Registry, get_registry
from ._scores import Score
from ._tasks import RowBatch, Target, Task, TaskItem
from .concepts._families import AffineLearner, NonNegativeLearner, SAELearner, fista_codes
from .concepts._interpret import ConceptInterpretation, check_concepts, concept_codes, word_span
from .concepts._learner import DictionaryLearner, as_matrix
from .concepts._metrics import ConceptMetric, codes_and_reconstruction
from .hookspecs import hookimpl
from .metrics._base import (
    CurveMetric,
    EraserMetric,
    OrderCurveMetric,
    area,
    check_fractions,
    check_n_steps,
    curve_steps,
    moved_masks,
    top_k_counts,
)
from .metrics._results import CurveResult, MetricResult

if _TYPE_CHECKING:  # names that need torch: loaded on first access (below), typed here
    from ._adapters import ModelAdapter, adapt
    from ._attention import AttributorContext
    from ._attribution import Explainer
    from ._explanation import Explanation
    from ._prefix import prefix_cached_logits
    from .metrics._engine import (
        MaskJob,
        MetricItem,
        method_name,
        method_order,
        metric_items,
        random_orders,
        score_masks,
    )

# Names that need torch load on first access.
_LAZY = {
    "ModelAdapter": "interpreto_core._adapters",
    "adapt": "interpreto_core._adapters",
    "AttributorContext": "interpreto_core._attention",
    "Explainer": "interpreto_core._attribution",
    "Explanation": "interpreto_core._explanation",
    "metric_items": "interpreto_core.metrics._engine",
    "score_masks": "interpreto_core.metrics._engine",
    "method_name": "interpreto_core.metrics._engine",
    "method_order": "interpreto_core.metrics._engine",
    "random_orders": "interpreto_core.metrics._engine",
    "MaskJob": "interpreto_core.metrics._engine",
    "MetricItem": "interpreto_core.metrics._engine",
    "prefix_cached_logits": "interpreto_core._prefix",
}

__all__ = [
    "GRANULARITIES",
    "KINDS",
    "PAIR_SEPARATOR",
    "AffineLearner",
    "AmbiguousNameError",
    "AttributionRecipe",
    "AttributorContext",
    "ConceptInterpretation",
    "ConceptMetric",
    "CurveMetric",
    "CurveResult",
    "DictionaryLearner",
    "Elements",
    "EraserMetric",
    "Explainer",
    "Explanation",
    "GradientPlan",
    "InputError",
    "InterpretoError",
    "InvalidPartError",
    "MaskJob",
    "MetricItem",
    "MetricResult",
    "ModelAdapter",
    "NonNegativeLearner",
    "OrderCurveMetric",
    "PartRecord",
    "PerturbationPlan",
    "PluginLoadError",
    "PluginRecord",
    "Registry",
    "RowBatch",
    "SAELearner",
    "Score",
    "Target",
    "Task",
    "TaskItem",
    "UnknownNameError",
    "UnknownParameterError",
    "adapt",
    "area",
    "as_matrix",
    "build_part",
    "check_concepts",
    "check_fractions",
    "check_n_steps",
    "codes_and_reconstruction",
    "concept_codes",
    "curve_steps",
    "fista_codes",
    "get_registry",
    "hookimpl",
    "method_name",
    "method_order",
    "metric_items",
    "moved_masks",
    "part_params",
    "prefix_cached_logits",
    "random_orders",
    "score_masks",
    "split_elements",
    "split_pair_elements",
    "top_k_counts",
    "word_span",
]

__getattr__, __dir__ = _lazy_attributes(__name__, _LAZY, __all__)

"""Concept-based explanations: split models, activations, dictionary learners, importance.

Names load on first access (they need torch), so importing this package stays light.
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY = {
    "SplitModel": "._split",
    "Activations": "._activations",
    "collect_activations": "._activations",
    "ACTIVATION_GRANULARITIES": "._activations",
    "DictionaryLearner": "._learner",
    "make_learner": "._learner",
    "load_learner": "._learner",
    "AffineLearner": "._families",
    "NonNegativeLearner": "._families",
    "SAELearner": "._families",
    "concept_importance": "._importance",
    "ConceptImportance": "._importance",
    "ConceptModel": "._trace",
    "concept_adapter": "._trace",
    "explain_concept": "._trace",
    "ConceptMetric": "._metrics",
    "concept_metrics": "._metrics",
    "ConceptInterpretation": "._interpret",
    "interpret_concepts": "._interpret",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name], __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'interpreto_core.concepts' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)

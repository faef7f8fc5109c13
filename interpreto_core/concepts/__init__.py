"""Concept-based explanations: split models, activations, dictionary learners, importance.

Names load on first access (they need torch), so importing this package stays light.
"""

from __future__ import annotations

from .._lazy import lazy_attributes as _lazy_attributes

_LAZY = {
    "SplitModel": "._split",
    "Activations": "._activations",
    "collect_activations": "._activations",
    "ACTIVATION_GRANULARITIES": "._activations",
    "ActivationHygiene": "._activations",
    "HygieneRule": "._hygiene",
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
    "ConceptScores": "._metrics",
    "scored_against": "._metrics",
    "ConceptInterpretation": "._interpret",
    "interpret_concepts": "._interpret",
    "concept_sweep": "._sweep",
    "ConceptSweep": "._sweep",
    "LayerFit": "._sweep",
    "tcav": "._cav",
    "TCAVResult": "._cav",
    "TCAVScore": "._cav",
    "directional_derivatives": "._cav",
    "concept_view": "._view",
    "ConceptView": "._view",
    "concept_simulatability": "._simulatability",
    "Simulatability": "._simulatability",
    "concept_deletion": "._simulatability",
    "ConceptDeletion": "._simulatability",
    "concept_simulatability_lm": "._simulatability",
    "LMSimulatability": "._simulatability",
}

__all__ = sorted(_LAZY)


__getattr__, __dir__ = _lazy_attributes(__name__, _LAZY, __all__)

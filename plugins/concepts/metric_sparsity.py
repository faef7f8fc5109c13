"""Sparsity of concept codes: the fraction of zero codes.

sparsity = 1 / (N C) * #{(n, c) : |Z_nc| <= threshold}. 1 means all codes are zero; dense
methods (PCA) score 0. Higher means sparser.
"""

from __future__ import annotations

from interpreto_core.plugin import ConceptMetric, hookimpl


class ConceptSparsity(ConceptMetric):
    """Fraction of codes whose magnitude is at most ``threshold`` (default 0: exact zeros)."""

    name = "concept_sparsity"
    higher_is_better = True
    needs = frozenset({"codes"})

    def __init__(self, *, threshold: float = 0.0) -> None:
        self.threshold = threshold

    def _score(self, *, codes, **_):
        return (codes.abs() <= self.threshold).double().mean()


@hookimpl
def interpreto_register_concept_metric(register):
    register(ConceptSparsity, name="concept_sparsity", summary="Concepts: fraction of zero codes.")

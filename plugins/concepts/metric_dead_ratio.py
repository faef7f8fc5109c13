"""Dead-concept ratio: the fraction of concepts that never fire on the data.

dead = 1 / C * #{c : max_n |Z_nc| <= threshold}. Lower is better.
"""

from __future__ import annotations

from interpreto_core.plugin import ConceptMetric, hookimpl


class ConceptDeadRatio(ConceptMetric):
    """Fraction of concepts never active (``|z| > threshold``) on any row."""

    name = "concept_dead_ratio"
    higher_is_better = False
    needs = frozenset({"codes"})

    def __init__(self, *, threshold: float = 0.0) -> None:
        self.threshold = threshold

    def _score(self, *, codes, **_):
        return (codes.abs().amax(0) <= self.threshold).double().mean()


@hookimpl
def interpreto_register_concept_metric(register):
    register(ConceptDeadRatio, name="concept_dead_ratio", summary="Concepts: fraction of concepts that never fire.")

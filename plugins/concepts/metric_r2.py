"""Explained variance (R^2) of a concept model's reconstruction.

R^2 = 1 - sum_n ||X_n - X_hat_n||^2 / sum_n ||X_n - mean(X)||^2. 1 is perfect; 0 is no better than
the mean activation. Higher is better.
"""

from __future__ import annotations

from interpreto_core.plugin import ConceptMetric, InputError, hookimpl


class ConceptR2(ConceptMetric):
    """Fraction of the activations' variance the reconstruction explains."""

    name = "concept_r2"
    higher_is_better = True

    def _score(self, *, x, reconstruction, **_):
        total = (x - x.mean(0)).pow(2).sum()
        if total == 0:
            raise InputError("R^2 is undefined for constant activations (zero variance)")
        return 1 - (x - reconstruction).pow(2).sum() / total


@hookimpl
def interpreto_register_concept_metric(register):
    register(ConceptR2, name="concept_r2", summary="Concepts: explained variance R^2 of the reconstruction.")

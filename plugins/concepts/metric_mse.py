"""Reconstruction MSE of a concept model: a true mean over every entry.

MSE = 1 / (N H) * sum_{n, h} (X_nh - X_hat_nh)^2, with X_hat = decode(encode(X)). Lower is better.
"""

from __future__ import annotations

from interpreto_core.plugin import ConceptMetric, hookimpl


class ConceptMSE(ConceptMetric):
    """Mean squared reconstruction error over all N x H entries."""

    name = "concept_mse"
    higher_is_better = False

    def _score(self, *, x, reconstruction, **_):
        return (x - reconstruction).pow(2).mean()


@hookimpl
def interpreto_register_concept_metric(register):
    register(ConceptMSE, name="concept_mse", summary="Concepts: reconstruction mean squared error (lower is better).")

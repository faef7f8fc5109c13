"""Sparsity ratio: how many concepts are active per input, relative to the active neurons.

ratio = mean_n ||Z_n||_0 / mean_n ||X_n||_0, with ||v||_0 = #{i : |v_i| > threshold}.
Below 1, a row is explained by fewer concepts than it has active neurons (the neurons baseline
scores 1). Lower is sparser.
"""

from __future__ import annotations

from interpreto_core.plugin import ConceptMetric, InputError, hookimpl


class ConceptSparsityRatio(ConceptMetric):
    """Mean number of active concepts per row over mean number of active neurons per row."""

    name = "concept_sparsity_ratio"
    higher_is_better = False
    needs = frozenset({"x", "codes"})

    def __init__(self, *, threshold: float = 0.0) -> None:
        self.threshold = threshold

    def _score(self, *, x, codes, **_):
        active_x = (x.abs() > self.threshold).double().sum(1).mean()
        if active_x == 0:
            raise InputError("the activations are all zero: the sparsity ratio is undefined")
        return (codes.abs() > self.threshold).double().sum(1).mean() / active_x


@hookimpl
def interpreto_register_concept_metric(register):
    register(ConceptSparsityRatio, name="concept_sparsity_ratio",
             summary="Concepts: active concepts per row / active neurons per row.")

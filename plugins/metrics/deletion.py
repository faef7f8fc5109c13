"""Deletion (Petsiuk et al., 2018, RISE): area under the target score as elements are deleted.

Start from the full input, replace elements by the baseline in decreasing attribution order and
read the target score p_k after k deletions:

    deletion = integral_0^1 p(k / n) d(k / n)   (trapezoid rule)

A faithful attribution makes the score fall quickly: lower is better.
"""

from __future__ import annotations

from interpreto_core.plugin import OrderCurveMetric, hookimpl


class Deletion(OrderCurveMetric):
    """Area under the deletion curve (lower is better); parameters as :class:`OrderCurveMetric`."""

    name = "deletion"
    higher_is_better = False
    inserting = False


@hookimpl
def interpreto_register_metric(register):
    register(
        Deletion,
        name="deletion",
        summary="Area under the target score as elements are deleted in attribution order (lower is better).",
        reference="Petsiuk et al., RISE: Randomized Input Sampling for Explanation of Black-box Models, BMVC 2018",
    )

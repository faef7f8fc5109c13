"""Insertion (Petsiuk et al., 2018, RISE): area under the target score as elements are inserted.

Start from the input with every element replaced by the baseline, insert elements in decreasing
attribution order and read the target score p_k after k insertions:

    insertion = integral_0^1 p(k / n) d(k / n)   (trapezoid rule)

A faithful attribution brings the score back quickly: higher is better.
"""

from __future__ import annotations

from interpreto_core.plugin import OrderCurveMetric, hookimpl


class Insertion(OrderCurveMetric):
    """Area under the insertion curve (higher is better); parameters as :class:`OrderCurveMetric`."""

    name = "insertion"
    higher_is_better = True
    inserting = True


@hookimpl
def interpreto_register_metric(register):
    register(
        Insertion,
        name="insertion",
        summary="Area under the target score as elements are inserted in attribution order (higher is better).",
        reference="Petsiuk et al., RISE: Randomized Input Sampling for Explanation of Black-box Models, BMVC 2018",
    )

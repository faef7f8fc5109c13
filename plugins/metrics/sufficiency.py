"""Sufficiency (DeYoung et al., 2020, ERASER), as an AOPC over top-k% inputs.

For each fraction b in B = {1, 5, 10, 20, 50 %}, keep only the k_b = ceil(b n) top-scored
elements (replace the others by the baseline) and measure the drop of the target score:

    sufficiency = 1/|B| sum_b [ p(x) - p(top k_b elements of x only) ]

The top elements alone should keep the prediction: lower is better.
"""

from __future__ import annotations

from interpreto_core.plugin import EraserMetric, hookimpl


class Sufficiency(EraserMetric):
    """ERASER sufficiency (AOPC, lower is better); parameters as :class:`EraserMetric`."""

    name = "sufficiency"
    higher_is_better = False
    keeping = True


@hookimpl
def interpreto_register_metric(register):
    register(
        Sufficiency,
        name="sufficiency",
        summary="ERASER: mean score drop when only the top 1/5/10/20/50 % elements are kept (lower is better).",
        reference="DeYoung et al., ERASER: A Benchmark to Evaluate Rationalized NLP Models, ACL 2020",
    )

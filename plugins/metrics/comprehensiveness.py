"""Comprehensiveness (DeYoung et al., 2020, ERASER), as an AOPC over top-k% deletions.

For each fraction b in B = {1, 5, 10, 20, 50 %}, delete the k_b = ceil(b n) top-scored elements
(replace them by the baseline) and measure the drop of the target score:

    comprehensiveness = 1/|B| sum_b [ p(x) - p(x without its top k_b elements) ]

The top elements should carry the prediction: higher is better.
"""

from __future__ import annotations

from interpreto_core.plugin import EraserMetric, hookimpl


class Comprehensiveness(EraserMetric):
    """ERASER comprehensiveness (AOPC, higher is better); parameters as :class:`EraserMetric`."""

    name = "comprehensiveness"
    higher_is_better = True
    keeping = False


@hookimpl
def interpreto_register_metric(register):
    register(
        Comprehensiveness,
        name="comprehensiveness",
        summary="ERASER: mean score drop when the top 1/5/10/20/50 % elements are deleted (higher is better).",
        reference="DeYoung et al., ERASER: A Benchmark to Evaluate Rationalized NLP Models, ACL 2020",
    )

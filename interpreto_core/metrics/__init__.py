"""Attribution metrics: the batched perturbation engine, result classes, and :func:`evaluate`.

The metrics themselves are plugins (kind ``metric``): ``interpreto methods --kind metric``.
This package stays light at import time (numpy and attrs); torch loads when a metric runs.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ._base import (
    CurveMetric,
    EraserMetric,
    OrderCurveMetric,
    area,
    check_fractions,
    check_n_steps,
    curve_steps,
    top_k_counts,
)
from ._curves import OrderCurves, order_curves
from ._engine import (
    MaskJob,
    MetricItem,
    method_name,
    method_order,
    metric_items,
    prepare_items,
    random_orders,
    score_masks,
)
from ._results import CurveResult, MetricResult

__all__ = [
    "CurveMetric",
    "CurveResult",
    "EraserMetric",
    "OrderCurveMetric",
    "MaskJob",
    "MetricItem",
    "MetricResult",
    "OrderCurves",
    "area",
    "check_fractions",
    "check_n_steps",
    "curve_steps",
    "evaluate",
    "method_name",
    "method_order",
    "metric_items",
    "order_curves",
    "prepare_items",
    "random_orders",
    "score_masks",
    "top_k_counts",
]


def evaluate(
    model: Any,
    tokenizer: Any,
    explanations: Sequence[Any],
    *,
    metrics: Sequence[str] = ("insertion", "deletion", "comprehensiveness", "sufficiency"),
    registry: Any = None,
    **params: Any,
) -> dict[str, MetricResult]:
    """Run registered metrics on ``explanations``; ``{metric name: result}``.

    ``params`` go to every metric that takes them (e.g. ``batch_size``, ``n_random``, ``seed``);
    a parameter that no chosen metric takes raises.
    """
    from .._errors import UnknownParameterError
    from .._parts import build_part
    from .._registry import get_registry

    registry = registry or get_registry()
    if isinstance(metrics, str):
        metrics = [metrics]
    records = [registry.get("metric", name) for name in metrics]
    unused = set(params) - {p for r in records for p in r.params}
    if unused:
        raise UnknownParameterError(
            f"no chosen metric takes {', '.join(sorted(unused))}; they take: "
            f"{', '.join(sorted({p for r in records for p in r.params}))}"
        )
    from .._adapters import tokenizer_state_kept
    from .._registry import using_registry

    out: dict[str, MetricResult] = {}
    for rec in records:
        metric = build_part(rec.obj, {k: v for k, v in params.items() if k in rec.params}, kind="metric", name=rec.name)
        with using_registry(registry), tokenizer_state_kept(
                tokenizer if tokenizer is not None else getattr(model, "tokenizer", None)):
            out[rec.name] = metric.compute(explanations, model=model, tokenizer=tokenizer)
    return out

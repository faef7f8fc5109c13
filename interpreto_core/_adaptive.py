"""Adaptive quadrature for path-integral gradient methods (``n_steps="auto"``).

Per input, the relative completeness error

    err = max_t |sum_l,h attr_tlh - (f_t(x) - f_t(b))| / max_t |f_t(x) - f_t(b)|

is checked after each order of the gradient method's rule (``part.orders``: 8, 16, 32 ... for
Gauss-Legendre); the inputs still above ``part.tolerance`` go to the next order, all of them
together through the engine. Gradients are kept per node: a node already evaluated at a lower
order (nested rules: trapezoid, Riemann left, Clenshaw-Curtis) is not evaluated again. An
input's scores are those of a fixed-step run at the order it stops at.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from ._engine import Engine
from ._parts import GradientPlan
from ._tasks import TaskItem

__all__ = ["run_adaptive", "relative_completeness_error"]


def relative_completeness_error(token_attr: torch.Tensor, delta: np.ndarray) -> float:
    """max_t |sum(attr_t) - delta_t| / max_t |delta_t| (the absolute error when every delta_t is 0)."""
    sums = token_attr.double().sum(dim=(1, 2)).numpy()
    scale = float(np.abs(delta).max()) if delta.size else 0.0
    err = float(np.abs(sums - delta).max()) if delta.size else 0.0
    return err / scale if scale > 0 else err


def _key(alpha: float) -> float:
    return round(float(alpha), 12)


Run = tuple[GradientPlan, torch.Tensor, dict[str, Any]]


def run_adaptive(part: Any, aggregator: Any, engine: Engine, items: list[TaskItem],
                 xs: list[tuple[torch.Tensor, torch.Tensor]]) -> list[Run]:
    """For each item: the plan of the order it stopped at, its aggregated ``(T, L, H)``
    attribution, and extras (``n_steps``, ``completeness_error``, ``converged``, ``gradient_rows``)."""
    deltas = []
    for item, (x, b) in zip(items, xs, strict=True):
        out = engine.point_scores(item, [x, b])
        deltas.append(out[0] - out[1])
    cache: list[dict[float, torch.Tensor]] = [{} for _ in items]
    evaluated = [0] * len(items)
    done: list[Run | None] = [None] * len(items)
    pending = list(range(len(items)))
    for round_, n in enumerate(part.orders):
        last = round_ == len(part.orders) - 1
        alphas, weights = part.rule(n)
        keys = [_key(a) for a in alphas]
        jobs, job_points = [], []
        for i in pending:
            x, b = xs[i]
            todo = [k for k, key in enumerate(keys) if key not in cache[i]]
            if todo:
                a = torch.tensor(alphas[todo], dtype=x.dtype, device=x.device).reshape(-1, 1, 1)
                jobs.append((i, todo))
                job_points.append(b[None] + a * (x - b)[None])
        grads = engine.gradients([items[i] for i, _ in jobs], job_points) if jobs else []
        for (i, todo), g in zip(jobs, grads, strict=True):
            for s, k in enumerate(todo):
                cache[i][keys[k]] = g[s]
            evaluated[i] += len(todo) * len(items[i].targets)
        still = []
        for i in pending:
            x, b = xs[i]
            a = torch.tensor(alphas, dtype=x.dtype, device=x.device).reshape(-1, 1, 1)
            diff = x - b
            plan = GradientPlan(points=b[None] + a * diff[None], weights=torch.tensor(weights, dtype=torch.float32),
                                multipliers=diff[None].expand(n, *diff.shape))
            g = torch.stack([cache[i][key] for key in keys])
            token_attr = aggregator.aggregate(plan, g)
            err = relative_completeness_error(token_attr, deltas[i])
            if err <= part.tolerance or last:
                extras = {"n_steps": int(n), "completeness_error": err, "converged": bool(err <= part.tolerance),
                          "gradient_rows": evaluated[i], "f_delta": deltas[i].tolist()}
                done[i] = (plan, token_attr, extras)
                cache[i].clear()
            else:
                still.append(i)
        pending = still
        if not pending:
            break
    assert all(d is not None for d in done)
    return done  # type: ignore[return-value]

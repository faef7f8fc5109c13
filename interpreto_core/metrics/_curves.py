"""Perturbation curves along element orders: the method's order and random orders, all batched."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import attrs
import numpy as np

from .._errors import InputError
from ._engine import MaskJob, MetricItem, method_order, metric_items, random_orders, score_masks

__all__ = ["OrderCurves", "order_curves", "check_common"]

#: ``masks_for(order, visible) -> (masks (R, E), x (R,))``: the keep-masks along one element order.
MasksFor = Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]


@attrs.frozen(kw_only=True, eq=False)
class OrderCurves:
    """Raw curves: ``method[i][t]`` and ``random[i][t]`` (mean over random orders) with abscissa ``x[i][t]``;
    ``full[i]`` the ``(T,)`` scores of the unperturbed input; ``mode`` the score they read."""

    items: list[MetricItem]
    x: list[list[np.ndarray]]
    method: list[list[np.ndarray]]
    random: list[list[np.ndarray]]
    full: list[np.ndarray]
    mode: str | None = None

    def stacked(self, i: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Text ``i``'s curves as ``(S,)`` x and ``(T, S)`` arrays, targets resampled on the longest x."""
        xs = self.x[i]
        ref = max(xs, key=len)

        def stack(curves: list[np.ndarray]) -> np.ndarray:
            return np.stack([c if len(x) == len(ref) else np.interp(ref, x, c)
                             for x, c in zip(xs, curves, strict=True)])

        return ref, stack(self.method[i]), stack(self.random[i])


def check_common(*, n_random: int, seed: int, mode: str | None, batch_size: int) -> None:
    from .._registry import get_registry
    from .._scores import MODE_ALIASES

    if not isinstance(n_random, int) or n_random < 1:
        raise InputError(f"n_random must be a positive integer (random orders per target), got {n_random!r}")
    if not isinstance(seed, int):
        raise InputError(f"seed must be an integer, got {seed!r}")
    scores = get_registry().names("score")
    if mode is not None and (not isinstance(mode, str) or MODE_ALIASES.get(mode, mode) not in scores):
        raise InputError(f"unknown mode {mode!r}; choose a score ({', '.join(scores)}) or one of "
                         f"{', '.join(MODE_ALIASES)}")
    if not isinstance(batch_size, int) or batch_size < 1:
        raise InputError(f"batch_size must be a positive integer, got {batch_size!r}")


def order_curves(
    explanations: Sequence[Any],
    *,
    model: Any,
    tokenizer: Any = None,
    masks_for: MasksFor,
    n_random: int = 1,
    seed: int = 0,
    baseline: str = "auto",
    mode: str | None = None,
    batch_size: int = 64,
    progress: bool | None = None,
    desc: str = "metric",
    random_cache: dict[Any, tuple[np.ndarray, float]] | None = None,
) -> OrderCurves:
    """Score the masks of ``masks_for`` along each target's method order and ``n_random`` random orders.

    One extra row per target scores the unperturbed input. Everything runs in one packed stream of
    forward passes of ``batch_size`` rows. ``random_cache`` (owned by the caller, for one
    ``masks_for``) keeps the random curve and full score of each (text, target, position in the
    list): comparing several methods on the same texts then computes the random baseline once.
    """
    from .._adapters import adapt

    check_common(n_random=n_random, seed=seed, mode=mode, batch_size=batch_size)
    adapter = adapt(model, tokenizer)
    items = metric_items(adapter, explanations)
    if mode is None:  # the task's metric score (probability for the built-in tasks)
        mode = items[0].task.metric_score
    jobs: list[MaskJob] = []
    xs: list[list[np.ndarray]] = []
    # per item, per target: (method job, random jobs, full job)
    layout: list[list[tuple[int, list[int] | tuple[np.ndarray, float], int]]] = []
    for k, item in enumerate(items):
        xs.append([])
        layout.append([])
        for t in range(item.n_targets):
            if not item.visible[t].any():
                raise InputError(f"explanation {item.index}: target {t} has no element that can influence it")
            visible = item.visible[t]
            masks, x = masks_for(method_order(item, t), visible)
            jobs.append(MaskJob(item=k, target=t, masks=masks))
            m_job = len(jobs) - 1
            key = _cache_key(item, t, n_random, seed, baseline, mode)
            r_jobs: list[int] | tuple[np.ndarray, float]
            if random_cache is not None and key in random_cache:
                r_jobs = random_cache[key]
            else:
                fresh: list[int] = []
                for order in random_orders(item, t, n=n_random, seed=seed):
                    jobs.append(MaskJob(item=k, target=t, masks=masks_for(order, visible)[0]))
                    fresh.append(len(jobs) - 1)
                r_jobs = fresh
            jobs.append(MaskJob(item=k, target=t, masks=np.ones((1, item.n_elements))))
            layout[-1].append((m_job, r_jobs, len(jobs) - 1))
            xs[-1].append(np.asarray(x, dtype=np.float64))
    scores = score_masks(adapter, items, jobs, baseline=baseline, mode=mode, batch_size=batch_size,
                         progress=progress, desc=desc)
    method = [[scores[m] for m, _, _ in per] for per in layout]
    random = [
        [rs[0] if isinstance(rs, tuple) else np.mean([scores[r] for r in rs], axis=0) for _, rs, _ in per]
        for per in layout
    ]
    full = [np.array([scores[f][0] for _, _, f in per]) for per in layout]
    if random_cache is not None:
        for k, item in enumerate(items):
            for t in range(item.n_targets):
                random_cache[_cache_key(item, t, n_random, seed, baseline, mode)] = (random[k][t], full[k][t])
    return OrderCurves(items=items, x=xs, method=method, random=random, full=full, mode=mode)


def _cache_key(item: MetricItem, t: int, n_random: int, seed: int, baseline: str, mode: str) -> tuple:
    # random orders depend on the text's position in the list (item.index), the target and the seed
    return (item.index, item.ids, item.target_index[t], item.target_position[t], item.visible[t].tobytes(),
            n_random, seed, baseline, mode)

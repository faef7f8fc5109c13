"""Base class of the perturbation-curve metrics: parameters, the batched run, the result."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np

from .._errors import InputError
from ._curves import check_common, order_curves
from ._results import CurveResult

__all__ = ["CurveMetric", "EraserMetric", "OrderCurveMetric", "moved_masks", "curve_steps", "top_k_counts", "area"]


def curve_steps(n_visible: int, n_steps: int | None) -> np.ndarray:
    """Numbers of elements moved at each point of a curve: every count ``0..n`` (``n_steps=None``),
    or ``n_steps + 1`` counts evenly spread over ``0..n`` (duplicates dropped for short texts)."""
    if n_steps is None or n_steps >= n_visible:
        return np.arange(n_visible + 1)
    return np.unique(np.round(np.linspace(0, n_visible, n_steps + 1)).astype(int))


def top_k_counts(n_visible: int, fractions: Sequence[float]) -> np.ndarray:
    """``ceil(fraction * n)`` elements for each fraction, at least 1 and at most ``n``."""
    return np.array([min(n_visible, max(1, math.ceil(f * n_visible - 1e-9))) for f in fractions])


def area(x: np.ndarray, y: np.ndarray) -> float:
    """Trapezoid area under ``y(x)``."""
    if len(x) < 2:
        return float(y[0]) if len(y) else float("nan")
    return float(np.sum((x[1:] - x[:-1]) * (y[1:] + y[:-1]) / 2.0))


class CurveMetric:
    """A metric read off target scores of element-masked inputs, beside a random-order baseline.

    Subclasses set ``name`` and ``higher_is_better`` and define ``masks_for(order, visible)``
    (keep-masks ``(R, E)`` and abscissa ``(R,)``) and ``reduce(x, curve, full)`` (one number).

    Parameters
    ----------
    n_random:
        Random element orders per target for the baseline (their curves are averaged).
    seed:
        Seed of the random orders.
    baseline:
        Embedding that replaces a masked element: ``auto`` (the mask token, else pad, else zero:
        what the perturbation methods use), ``mask``, ``pad``, ``unk`` or ``zero``.
    mode:
        Score read on each perturbed input: a score name (``probability``, ``logit`` ...) or a
        former mode (``softmax`` ...). Default: the task's ``metric_score`` (``probability`` for
        every built-in task; a task whose output is no distribution names another).
    batch_size:
        Perturbed inputs per forward pass (rows of all texts are packed together).
    progress:
        Progress bar (default: when there is more than one batch and stderr is a terminal).
    """

    name: ClassVar[str] = "curve"
    higher_is_better: ClassVar[bool] = True

    def __init__(
        self,
        *,
        n_random: int = 1,
        seed: int = 0,
        baseline: str = "auto",
        mode: str | None = None,
        batch_size: int = 64,
        progress: bool | None = None,
    ) -> None:
        check_common(n_random=n_random, seed=seed, mode=mode, batch_size=batch_size)
        self.n_random, self.seed, self.baseline = n_random, seed, baseline
        self.mode, self.batch_size, self.progress = mode, batch_size, progress
        # random curves per (text, target): reusing one metric object across methods on the same
        # texts computes the random baseline once
        self._random_cache: dict = {}

    @property
    def parameters(self) -> dict[str, Any]:
        return {"n_random": self.n_random, "seed": self.seed, "baseline": self.baseline, "mode": self.mode}

    def masks_for(self, order: np.ndarray, visible: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        raise NotImplementedError

    def reduce(self, x: np.ndarray, curve: np.ndarray, full: float) -> float:
        raise NotImplementedError

    def compute(self, explanations: Sequence[Any], *, model: Any, tokenizer: Any = None) -> CurveResult:
        """Evaluate ``explanations`` (from :func:`interpreto_core.explain`) on ``model``.

        Each text's value is the mean over its targets; the random baseline is computed the same
        way along random element orders.
        """
        from ._engine import method_name

        if not isinstance(explanations, Sequence) or isinstance(explanations, str):
            explanations = [explanations]
        curves = order_curves(
            explanations, model=model, tokenizer=tokenizer, masks_for=self.masks_for, n_random=self.n_random,
            seed=self.seed, baseline=self.baseline, mode=self.mode, batch_size=self.batch_size,
            progress=self.progress, desc=self.name, random_cache=self._random_cache,
        )
        values, random_values, xs, method_curves, random_curves = [], [], [], [], []
        for i in range(len(curves.items)):
            per_target = zip(curves.x[i], curves.method[i], curves.random[i], curves.full[i], strict=True)
            vals = [(self.reduce(x, m, f), self.reduce(x, r, f)) for x, m, r, f in per_target]
            values.append(np.mean([v for v, _ in vals]))
            random_values.append(np.mean([r for _, r in vals]))
            x, m, r = curves.stacked(i)
            xs.append(x)
            method_curves.append(m)
            random_curves.append(r)
        return CurveResult(
            metric=self.name, method=method_name(explanations), values=values, random_values=random_values,
            higher_is_better=self.higher_is_better, parameters=self.parameters | {"mode": curves.mode},
            x=xs, curves=method_curves,
            random_curves=random_curves,
        )


def check_fractions(fractions: Any) -> tuple[float, ...]:
    try:
        out = tuple(float(f) for f in fractions)
    except TypeError:
        raise InputError(f"fractions must be a list of numbers in (0, 1], got {fractions!r}") from None
    if not out or any(not 0 < f <= 1 for f in out):
        raise InputError(f"fractions must be a non-empty list of numbers in (0, 1], got {fractions!r}")
    return out


def check_n_steps(n_steps: Any) -> None:
    if n_steps is not None and (not isinstance(n_steps, int) or n_steps < 1):
        raise InputError(f"n_steps must be None (every element) or a positive integer, got {n_steps!r}")


class OrderCurveMetric(CurveMetric):
    """Area under the target score as elements are moved one by one in attribution order.

    ``inserting = False`` (deletion): start from the full input and replace elements by the baseline;
    ``inserting = True`` (insertion): start from the baseline (elements that cannot influence the target
    stay) and put elements back.

    Parameters
    ----------
    n_steps:
        Points on the curve besides the start: ``None`` (default) moves one element at a time;
        an integer spreads that many steps evenly (long texts).
    n_random, seed, baseline, mode, batch_size, progress:
        See :class:`CurveMetric`.
    """

    inserting: ClassVar[bool] = False

    def __init__(
        self,
        *,
        n_steps: int | None = None,
        n_random: int = 1,
        seed: int = 0,
        baseline: str = "auto",
        mode: str | None = None,
        batch_size: int = 64,
        progress: bool | None = None,
    ) -> None:
        check_n_steps(n_steps)
        super().__init__(n_random=n_random, seed=seed, baseline=baseline, mode=mode, batch_size=batch_size,
                         progress=progress)
        self.n_steps = n_steps

    @property
    def parameters(self) -> dict:
        return super().parameters | {"n_steps": self.n_steps}

    def masks_for(self, order: np.ndarray, visible: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        ks = curve_steps(len(order), self.n_steps)
        return moved_masks(order, visible, ks, keep_moved=self.inserting), ks / len(order)

    def reduce(self, x: np.ndarray, curve: np.ndarray, full: float) -> float:
        return area(x, curve)


ERASER_FRACTIONS = (0.01, 0.05, 0.1, 0.2, 0.5)


class EraserMetric(CurveMetric):
    """ERASER AOPC: mean over top-k fractions b of p(x) - p(x'), where x' is the input without its top
    ceil(b n) elements (``keeping = False``, comprehensiveness) or with only those (``keeping = True``,
    sufficiency).

    Parameters
    ----------
    fractions:
        The top-k fractions averaged over (ERASER's 1, 5, 10, 20, 50 % by default).
    n_random, seed, baseline, mode, batch_size, progress:
        See :class:`CurveMetric`.
    """

    keeping: ClassVar[bool] = False

    def __init__(
        self,
        *,
        fractions: Sequence[float] = ERASER_FRACTIONS,
        n_random: int = 1,
        seed: int = 0,
        baseline: str = "auto",
        mode: str | None = None,
        batch_size: int = 64,
        progress: bool | None = None,
    ) -> None:
        self.fractions = check_fractions(fractions)
        super().__init__(n_random=n_random, seed=seed, baseline=baseline, mode=mode, batch_size=batch_size,
                         progress=progress)

    @property
    def parameters(self) -> dict:
        return super().parameters | {"fractions": list(self.fractions)}

    def masks_for(self, order: np.ndarray, visible: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        ks = top_k_counts(len(order), self.fractions)
        return moved_masks(order, visible, ks, keep_moved=self.keeping), np.array(self.fractions)

    def reduce(self, x: np.ndarray, curve: np.ndarray, full: float) -> float:
        return float(np.mean(full - curve))


def moved_masks(order: np.ndarray, visible: np.ndarray, counts: np.ndarray, *, keep_moved: bool) -> np.ndarray:
    """One mask per count k: the first k elements of ``order`` kept (``keep_moved``, others removed
    except those that cannot influence the target) or removed (``keep_moved=False``, others kept)."""
    start, moved = (np.where(visible, 0.0, 1.0), 1.0) if keep_moved else (np.ones(len(visible)), 0.0)
    masks = np.tile(start, (len(counts), 1))
    for r, k in enumerate(counts):
        masks[r, order[:k]] = moved
    return masks

"""Adaptive sampling budgets for perturbation methods (``n_samples="auto"``: KernelSHAP, LIME, Sobol).

A perturbator with ``adaptive = True`` has ``rounds(n_elements, rng=...)``: a generator whose first
``next()`` gives a first plan and whose ``send(wanted)`` gives a larger plan of at least ``wanted``
samples (in the perturbator's own unit, ``plan.info["n_samples"]``) whose first rows are the rows
already given (only the new rows are scored). The aggregator's ``estimate(plan, outputs)`` returns
the scores and their standard error, both ``(T, E)``. Per input, the loop stops when the relative
standard error

    rse = max_t ||se_t||_2 / ||scores_t||_2

is at most ``part.tolerance``, the plan reaches ``part.max_samples``, or the generator ends (an
exact plan). Between rounds, ``se ~ 1 / sqrt(n)`` predicts the samples needed,
``n * (rse / tolerance)^2``, bounded to [1.5 n, 4 n]. Every round scores the new rows of all the
inputs still running together, in one engine call.
"""

from __future__ import annotations

import math
from collections.abc import Generator
from typing import Any

import attrs
import numpy as np
import torch

from ._engine import Engine, MaskJob
from ._errors import InputError
from ._parts import PerturbationPlan
from ._tasks import TaskItem

__all__ = ["run_adaptive_sampling", "relative_standard_error", "next_budget"]

#: growth of the budget between two rounds: at least x1.5 (few rounds), at most x4 (little overshoot)
GROWTH = (1.5, 4.0)


def relative_standard_error(scores: np.ndarray, se: np.ndarray) -> float:
    """max_t ||se_t|| / ||scores_t|| (0 where both are 0, inf where only the scores are 0)."""
    num = np.linalg.norm(np.asarray(se, dtype=np.float64), axis=-1)
    den = np.linalg.norm(np.asarray(scores, dtype=np.float64), axis=-1)
    ratio = np.divide(num, den, out=np.where(num > 0, np.inf, 0.0), where=den > 0)
    return float(ratio.max()) if ratio.size else 0.0


def next_budget(n: int, rse: float, tolerance: float) -> int:
    """The samples predicted to reach ``tolerance`` (se ~ 1/sqrt(n)), bounded to [1.5 n, 4 n]."""
    want = n * (rse / tolerance) ** 2 * 1.1 if math.isfinite(rse) else GROWTH[1] * n
    return int(math.ceil(min(max(want, GROWTH[0] * n), GROWTH[1] * n)))


def _checked(name: str, plan: Any, n_elements: int, before: int) -> PerturbationPlan:
    if not isinstance(plan, PerturbationPlan):
        raise InputError(f"perturbator {name!r} returned {type(plan).__name__}, not a PerturbationPlan")
    masks = np.asarray(plan.masks, dtype=np.float32)
    if masks.ndim != 2 or masks.shape[1] != n_elements or masks.shape[0] < max(before, 1):
        raise InputError(f"perturbator {name!r} returned masks of shape {masks.shape} in an adaptive round, expected "
                         f"(n >= {max(before, 1)}, {n_elements}): a round keeps the rows of the rounds before")
    if not np.isfinite(masks).all() or masks.min() < 0 or masks.max() > 1:
        raise InputError(f"perturbator {name!r} returned masks outside [0, 1] (or NaN)")
    if not isinstance(plan.info.get("n_samples"), int | np.integer):
        raise InputError(f"perturbator {name!r}: an adaptive plan must record info['n_samples'] (an integer)")
    return attrs.evolve(plan, masks=masks)


def run_adaptive_sampling(part: Any, aggregator: Any, engine: Engine, items: list[TaskItem],
                          rngs: list[np.random.Generator], baseline: torch.Tensor, *, name: str = "perturbator",
                          agg_name: str = "aggregator") -> list[tuple[np.ndarray, dict[str, Any]]]:
    """Per item: the scores of the plan it stopped at, and extras ``n_samples``, ``evaluations``,
    ``rounds``, ``standard_error`` (T x E), ``relative_standard_error`` and ``converged``."""
    if not callable(getattr(aggregator, "estimate", None)):
        raise InputError(f"aggregator {agg_name!r} has no estimate(plan, outputs) -> (scores, standard_error): "
                         "n_samples='auto' needs one; pass an integer n_samples")
    tol, cap = float(part.tolerance), int(part.max_samples)
    gens: list[Generator[PerturbationPlan, int, None]] = [
        part.rounds(len(item.elements), rng=rng) for item, rng in zip(items, rngs, strict=True)]
    plans: list[PerturbationPlan | None] = [None] * len(items)
    outs: list[np.ndarray | None] = [None] * len(items)
    wanted: list[int | None] = [None] * len(items)  # None: the first round
    n_rounds = [0] * len(items)
    done: list[tuple[np.ndarray, dict[str, Any]] | None] = [None] * len(items)
    pending = list(range(len(items)))
    while pending:
        jobs, running = [], []
        for i in pending:
            before = 0 if plans[i] is None else len(plans[i].masks)  # type: ignore[union-attr]
            try:
                new = next(gens[i]) if wanted[i] is None else gens[i].send(wanted[i])  # type: ignore[arg-type]
            except StopIteration:  # exact: nothing more to draw
                new = None
            if new is None:
                running.append((i, False))
                continue
            plan = _checked(name, new, len(items[i].elements), before)
            plans[i] = plan
            n_rounds[i] += 1
            jobs.append((i, plan.masks[before:]))
            running.append((i, True))
        scored = engine.score_masks(items, [MaskJob(item=i, masks=m) for i, m in jobs], baseline) if jobs else []
        for (i, _), new_out in zip(jobs, scored, strict=True):
            prev = outs[i]
            outs[i] = new_out if prev is None else np.concatenate([prev, new_out], axis=0)
        still = []
        for i, grew in running:
            current, out = plans[i], outs[i]
            assert current is not None and out is not None
            scores, se = aggregator.estimate(current, out)
            scores = np.asarray(scores, dtype=np.float64)
            se = np.asarray(se, dtype=np.float64)
            shape = (len(items[i].targets), len(items[i].elements))
            if scores.shape != shape or se.shape != shape:
                raise InputError(f"aggregator {agg_name!r}: estimate() returned scores {scores.shape} and standard "
                                 f"error {se.shape}, expected {shape} each")
            rse = relative_standard_error(scores, se)
            n = int(current.info["n_samples"])
            exact = bool(current.info.get("exact", False))
            if rse <= tol or n >= cap or exact or not grew:
                gens[i].close()
                done[i] = (scores, {**dict(current.info.get("extras", {})),  # the part's own, e.g. the estimator
                                    "n_samples": n, "evaluations": len(current.masks), "rounds": n_rounds[i],
                                    "standard_error": se.tolist(), "relative_standard_error": rse,
                                    "converged": bool(rse <= tol), "exact": exact})
            else:
                wanted[i] = min(next_budget(n, rse, tol), cap)
                still.append(i)
        pending = still
    assert all(d is not None for d in done)
    return done  # type: ignore[return-value]

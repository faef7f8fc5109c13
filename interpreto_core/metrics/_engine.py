"""Metric inputs: explanations back to task items, scored through the attribution engine.

An explanation keeps the task item it was made from (token ids, each element's tokens, the
targets and which elements can influence them), so a metric masks exactly the tokens the
method masked, with no re-tokenization, and its rows go through the same packed engine
(``interpreto_core._engine.Engine``) as the attribution methods. A masked element's tokens get
the baseline embedding; tokens in no element (special and template tokens) are never masked.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import attrs
import numpy as np

from .._errors import InputError

__all__ = ["MetricItem", "MaskJob", "metric_items", "prepare_items", "score_masks", "method_order", "random_orders",
           "method_name"]


@attrs.frozen(kw_only=True, eq=False)
class MetricItem:
    """One explanation, ready to be perturbed: its task item, scores and bound task."""

    index: int
    item: Any  # TaskItem
    task: Any  # the bound Task that scores it
    scores: np.ndarray  # (T, E)

    @property
    def visible(self) -> np.ndarray:
        """``(T, E)`` bool: element e can influence target t."""
        return self.item.visible

    @property
    def ids(self) -> tuple[int, ...]:
        return self.item.ids

    @property
    def n_targets(self) -> int:
        return len(self.item.targets)

    @property
    def n_elements(self) -> int:
        return len(self.item.elements)

    @property
    def target_index(self) -> tuple[int, ...]:
        return tuple(t.index for t in self.item.targets)

    @property
    def target_position(self) -> tuple[int | None, ...]:
        return tuple(t.position for t in self.item.targets)


@attrs.frozen(kw_only=True)
class MaskJob:
    """Rows of element keep-masks ``(R, E)`` (1 keeps, 0 replaces by the baseline), scored on one target."""

    item: int
    target: int
    masks: np.ndarray


def method_name(explanations: Sequence[Any]) -> str:
    names = {e.method for e in explanations}
    return names.pop() if len(names) == 1 else "mixed"


def _task_for(adapter: Any, explanations: Sequence[Any]) -> Any:
    from .._attribution import resolve_task
    from .._registry import get_registry

    registry = get_registry()
    names = {e.task for e in explanations if e.task is not None}
    if len(names) > 1:
        raise InputError(f"the explanations come from several tasks ({', '.join(sorted(names))}): evaluate each "
                         "task's explanations on its own model")
    name = names.pop() if names else None
    try:
        claimed = resolve_task(registry, adapter.model)
    except InputError:
        claimed = None  # no task claims the model: the explanations' task was forced
    if name is None:  # format 1: no task recorded, only the model kind
        if claimed is None:
            raise InputError("the explanations record no task and no task claims the model")
        kinds = {e.model_kind for e in explanations}
        expected = {"sequence_classification": "classifier"}.get(claimed.name, claimed.name)
        if kinds != {expected}:
            raise InputError(f"the explanations were made for a {', '.join(sorted(kinds))}, but the model is a "
                             f"{expected}: evaluate an explanation with the model that made it")
        rec = claimed
    else:
        try:
            rec = registry.get("task", name)
        except KeyError:
            raise InputError(f"the explanations were made by task {name!r}, which is not installed") from None
        if claimed is not None and claimed.name != rec.name and not rec.obj.claims(adapter.model):
            raise InputError(f"the explanations were made by task {name!r}, but {type(adapter.model).__name__} is a "
                             f"model of task {claimed.name!r}: evaluate an explanation with the model that made it")
    params: dict[str, Any] = {}
    for e in explanations:  # the task's options the explanation was made with (e.g. chat roles)
        params |= {k: v for k, v in e.parameters.items() if k in rec.params}
    from .._parts import build_part

    return build_part(rec.obj, params, kind="task", name=rec.name).bind(adapter)


def metric_items(adapter: Any, explanations: Sequence[Any]) -> list[MetricItem]:
    """One :class:`MetricItem` per explanation, checked against ``adapter``'s model.

    Explanations saved by version 1 (no token ids) are re-encoded by the task from their text
    and targets; their elements must then come out identical.
    """
    from .._explanation import Explanation

    if isinstance(explanations, Explanation):
        explanations = [explanations]
    if not isinstance(explanations, Sequence) or not explanations:
        raise InputError("no explanations to evaluate: pass a non-empty list of Explanation objects")
    for i, expl in enumerate(explanations):
        if not isinstance(expl, Explanation):
            raise InputError(f"metrics take Explanation objects (from interpreto_core.explain); item {i} is "
                             f"a {type(expl).__name__}")
        bad = int((~np.isfinite(expl.scores)).sum())
        if bad:
            raise InputError(
                f"explanation {i} ({expl.method} of {_short(expl.text)}) has {bad} non-finite score(s) (NaN or inf) "
                f"of {expl.scores.size}: a metric of such scores means nothing; re-explain the text, or drop it"
            )
    task = _task_for(adapter, explanations)
    vocab = adapter.vocab_size
    out = []
    for i, expl in enumerate(explanations):
        if expl.token_ids:
            if max(expl.token_ids) >= vocab:
                raise InputError(f"explanation {i} has token ids outside the model's vocabulary ({vocab}): evaluate "
                                 "an explanation with the model and tokenizer that made it")
            item = expl.to_item()
        else:
            item = _reencode(task, expl, i)
        out.append(MetricItem(index=i, item=item, task=task, scores=np.asarray(expl.scores, dtype=np.float64)))
    return out


def _short(text: str, n: int = 40) -> str:
    return repr(text if len(text) <= n else text[: n - 3] + "...")


def _reencode(task: Any, expl: Any, i: int) -> Any:
    lm = expl.model_kind == "causal_lm"
    target = [t.index for t in expl.targets]
    (item,) = task.prepare([expl.text], targets=[target], contrasts=[None], granularity=expl.granularity)
    if tuple(item.elements.texts) != tuple(expl.elements) or (lm and len(item.targets) != len(expl.targets)):
        raise InputError(
            f"explanation {i}: re-tokenizing its text at granularity {expl.granularity!r} gives elements "
            f"{list(item.elements.texts)[:8]}..., not the explanation's {list(expl.elements)[:8]}...; evaluate an "
            "explanation with the model and tokenizer that made it"
        )
    return item


def prepare_items(adapter: Any, explanations: Sequence[Any]) -> list[MetricItem]:
    """Former name of :func:`metric_items`."""
    return metric_items(adapter, explanations)


def method_order(item: MetricItem, target: int) -> np.ndarray:
    """Visible elements by decreasing score (ties: first element first)."""
    vis = np.flatnonzero(item.visible[target])
    return vis[np.argsort(-item.scores[target, vis], kind="stable")]


def random_orders(item: MetricItem, target: int, *, n: int, seed: int) -> list[np.ndarray]:
    """``n`` random permutations of the visible elements, reproducible from ``seed``."""
    vis = np.flatnonzero(item.visible[target])
    rng = np.random.default_rng([seed, item.index, target])
    return [rng.permutation(vis) for _ in range(n)]


def score_masks(
    adapter: Any,
    items: Sequence[MetricItem],
    jobs: Sequence[MaskJob],
    *,
    baseline: str = "auto",
    mode: str | None = None,
    batch_size: int = 64,
    progress: bool | None = None,
    desc: str = "metric",
) -> list[np.ndarray]:
    """Target score of every mask row of every job: a list of ``(R,)`` arrays, one per job.

    ``mode``: a score name (``probability`` ...) or a former mode (``softmax`` ...); default: the
    task's ``metric_score``. Rows of all
    jobs are packed (shortest texts first) into forward passes of ``batch_size`` rows by the
    attribution engine.
    """
    from .._engine import Engine
    from .._engine import MaskJob as RowJob
    from .._parts import build_part
    from .._registry import get_registry
    from .._scores import MODE_ALIASES, as_score

    if not items:
        return [np.zeros(0) for _ in jobs]
    task = items[0].task
    mode = mode if mode is not None else task.metric_score
    rec = get_registry().get("score", MODE_ALIASES.get(mode, mode))
    score = as_score(build_part(rec.obj, {}, kind="score", name=rec.name), rec.name)
    engine = Engine(task, score, batch_size=batch_size, progress=progress, desc=desc)
    base = adapter.baseline_vector(baseline)
    with adapter.evaluating():
        out = engine.score_masks([it.item for it in items],
                                 [RowJob(item=j.item, masks=j.masks, targets=(j.target,)) for j in jobs], base)
    return [o[:, 0] for o in out]

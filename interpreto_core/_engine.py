"""The engine: element-masked rows and gradient points, packed into batched passes through a task.

Both the attribution methods and the metrics score their rows here. A row is one input of one
:class:`TaskItem` (its tokens embedded, masked elements replaced by the baseline embedding, or
an interpolation point); rows of all items are packed, shortest first, into forward passes of
``batch_size`` rows. The task scores each row's targets; the engine never knows which task.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

import attrs
import numpy as np
import torch
from tqdm.auto import tqdm

from ._errors import InputError
from ._memory import AUTO_MAX_ROWS, DEFAULT_MEMORY_BUDGET, rows_for
from ._scores import Score
from ._tasks import RowBatch, Task, TaskItem

__all__ = ["MaskJob", "Engine", "pack_rows", "check_batch_size", "GRADIENT_LAYOUT"]

#: gradient rows: "auto" (the cheaper layout per item), "cut" or "shared" (see Engine.gradients)
GRADIENT_LAYOUT = "auto"


def check_batch_size(batch_size: Any) -> None:
    """Raise InputError unless ``batch_size`` is a positive integer or ``"auto"``."""
    if batch_size == "auto":
        return
    if isinstance(batch_size, bool) or not isinstance(batch_size, int | np.integer) or batch_size < 1:
        raise InputError(f"batch_size must be a positive integer or 'auto', got {batch_size!r}")


@attrs.frozen(kw_only=True, eq=False)
class MaskJob:
    """Keep-masks ``(R, E)`` of one item (1 keeps an element, 0 puts the baseline in its place),
    scored on the item's ``targets`` (indices into ``item.targets``; None: all of them)."""

    item: int
    masks: np.ndarray
    targets: tuple[int, ...] | None = None


def pack_rows(lengths: Sequence[int], rows: Sequence[int], batch_size: int,
              cap: Callable[[int], int] | None = None) -> Iterator[list[tuple[int, np.ndarray, int]]]:
    """Chunks of at most ``batch_size`` rows, shortest sequences first.

    ``lengths[k]`` / ``rows[k]``: sequence length and number of rows of job k. ``cap(length)``:
    at most that many rows in a chunk whose longest row has ``length`` tokens (a memory budget).
    A chunk is ``[(job, its row indices, where they start in the chunk)]``.
    """
    chunk: list[tuple[int, np.ndarray, int]] = []
    used = 0
    for k in sorted(range(len(rows)), key=lambda k: lengths[k]):
        room_of = batch_size if cap is None else max(1, min(batch_size, int(cap(lengths[k]))))
        if used >= room_of:  # a longer job lowers the cap of the chunk being filled
            yield chunk
            chunk, used = [], 0
        done = 0
        while done < rows[k]:
            take = min(room_of - used, rows[k] - done)
            chunk.append((k, np.arange(done, done + take), used))
            done, used = done + take, used + take
            if used == room_of:
                yield chunk
                chunk, used = [], 0
    if chunk:
        yield chunk


class Engine:
    """Scores rows of :class:`TaskItem` objects through ``task`` under ``score``.

    Parameters
    ----------
    task, score:
        A bound task and a score.
    batch_size:
        Rows per forward pass, or ``"auto"`` (default): up to 32, fewer when long rows would hold
        more than ``memory_budget`` bytes of activations (``interpreto_core._memory``).
    memory_budget:
        Bytes of activations one pass may hold under ``batch_size="auto"`` (default 256 MiB).
    progress:
        Progress bar: True, False, or None (when there is more than one batch and stderr is a TTY).
    desc:
        The progress bar's label.
    """

    def __init__(self, task: Task, score: Score, *, batch_size: int | str = "auto", progress: bool | None = None,
                 desc: str = "explain", memory_budget: int | None = None) -> None:
        check_batch_size(batch_size)
        if memory_budget is not None and (isinstance(memory_budget, bool) or not isinstance(memory_budget, int)
                                          or memory_budget < 1):
            raise InputError(f"memory_budget must be a positive number of bytes, got {memory_budget!r}")
        self.task, self.score, self.progress, self.desc = task, score, progress, desc
        self.auto = batch_size == "auto"
        self.batch_size = AUTO_MAX_ROWS if self.auto else int(batch_size)
        self.memory_budget = DEFAULT_MEMORY_BUDGET if memory_budget is None else memory_budget
        self.adapter = task.adapter
        self.forward_calls = 0
        self.rows = 0
        self.tokens = 0  # real (unpadded) tokens the forward passes carried

    # -- helpers ----------------------------------------------------------------------------------
    def _cap(self, grad: bool) -> Callable[[int], int] | None:
        """Rows allowed per pass for a longest row of ``length`` tokens (None: ``batch_size`` alone)."""
        if not self.auto:
            return None
        model, budget, itemsize = self.adapter.model, self.memory_budget, torch.empty((), dtype=self.adapter.dtype)
        size = itemsize.element_size()
        return lambda length: rows_for(model, length, grad=grad, budget=budget, itemsize=size,
                                       max_rows=self.batch_size)

    def _chunks(self, lengths: Sequence[int], rows: Sequence[int],
                grad: bool) -> list[list[tuple[int, np.ndarray, int]]]:
        return list(pack_rows(lengths, rows, self.batch_size, self._cap(grad)))

    def embed(self, item: TaskItem) -> torch.Tensor:
        """``(L, H)`` input embeddings of the item's tokens."""
        return self.adapter.embed(torch.tensor(item.ids, dtype=torch.long))

    def _bar(self, total: int) -> tqdm:
        show = self.progress
        disable: bool | None = (total <= 1) if show is None else not show
        if show is None and not disable:
            disable = None  # tqdm: off when not a TTY
        return tqdm(total=total, desc=self.desc, unit="batch", disable=disable, leave=False)

    def row_length(self, item: TaskItem, targets: Sequence[int]) -> int:
        """The task's :meth:`Task.row_length`, checked: rows are cut to the tokens their targets need."""
        n = self.task.row_length(item, [int(t) for t in targets])
        if isinstance(n, bool) or not isinstance(n, int | np.integer) or not 1 <= int(n) <= item.length:
            raise InputError(f"task {self.task.name!r} returned row length {n!r} for an input of {item.length} "
                             "tokens; expected an integer in 1..length")
        return int(n)

    def _batch(self, items: Sequence[TaskItem], segments: list[tuple[int, np.ndarray, int]], item_of: Sequence[int],
               width: int, lengths: Sequence[int] | None = None, prefix: bool = False) -> RowBatch:
        """The RowBatch frame of a chunk: zero embeddings to fill, the mask, row items, -1 targets.

        ``lengths[k]``: the tokens job k's rows carry (default: its item's length)."""
        adapter = self.adapter
        n_rows = sum(len(rs) for _, rs, _ in segments)
        used = sorted({item_of[k] for k, _, _ in segments})
        local = {i: n for n, i in enumerate(used)}
        size = [items[item_of[k]].length if lengths is None else lengths[k] for k, _, _ in segments]
        length = max(size)
        emb = torch.zeros((n_rows, length, adapter.hidden_size), dtype=adapter.dtype, device=adapter.device)
        mask = torch.zeros((n_rows, length), dtype=torch.long)
        row_item = torch.zeros(n_rows, dtype=torch.long)
        target = torch.full((n_rows, width), -1, dtype=torch.long)
        segs = []
        for (k, rs, j), n in zip(segments, size, strict=True):
            i = item_of[k]
            mask[j : j + len(rs), :n] = 1
            row_item[j : j + len(rs)] = local[i]
            segs.append((local[i], j, len(rs)))
        batch = RowBatch(inputs_embeds=emb, attention_mask=mask.to(adapter.device), items=tuple(items[i] for i in used),
                         row_item=row_item, target=target, segments=tuple(segs),
                         prefix=torch.zeros(n_rows, dtype=torch.long) if prefix else None)
        return batch

    def _scores(self, batch: RowBatch) -> torch.Tensor:
        computed = self.adapter.computed_tokens
        out = self.task.scores(batch, self.score)
        computed = self.adapter.computed_tokens - computed  # 0 when the task runs the model itself
        self.forward_calls += 1
        self.rows += int(batch.inputs_embeds.shape[0])
        self.tokens += computed if computed > 0 else int(batch.attention_mask.sum())
        expected = tuple(batch.target.shape)
        if not isinstance(out, torch.Tensor) or tuple(out.shape) != expected:
            got = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
            raise InputError(f"task {self.task.name!r} returned scores of shape {got}, expected {expected} "
                             "(rows, targets)")
        real = batch.target.to(out.device) >= 0
        if not bool(torch.isfinite(out.detach()[real]).all()):
            bad = int((~torch.isfinite(out.detach()) & real).any(1).sum())
            raise InputError(
                f"the model gave non-finite scores (NaN or inf) on {bad} of {len(out)} rows under score "
                f"{self.score.name!r}; check the model's weights and dtype (fp16 overflows), or the inputs"
            )
        return out

    # -- masked rows ------------------------------------------------------------------------------
    @torch.inference_mode()
    def score_masks(self, items: Sequence[TaskItem], jobs: Sequence[MaskJob],
                    baseline: torch.Tensor) -> list[np.ndarray]:
        """Scores ``(R, W)`` of every job's rows on its targets (W: its number of targets)."""
        embeds: dict[int, torch.Tensor] = {}
        membership = {job.item: items[job.item].membership() for job in jobs}
        covered = {i: torch.from_numpy(m.sum(0) > 0) for i, m in membership.items()}
        widths = [len(items[job.item].targets) if job.targets is None else len(job.targets) for job in jobs]
        job_targets = [torch.arange(w) if job.targets is None else torch.tensor(job.targets, dtype=torch.long)
                       for job, w in zip(jobs, widths, strict=True)]
        for job in jobs:
            m = np.asarray(job.masks)
            if m.ndim != 2 or m.shape[1] != len(items[job.item].elements):
                raise InputError(f"masks of shape {m.shape} for an input of {len(items[job.item].elements)} elements")
        out = [np.zeros((len(job.masks), w), dtype=np.float64) for job, w in zip(jobs, widths, strict=True)]
        rows = [len(job.masks) for job in jobs]
        item_of = [job.item for job in jobs]
        # a row carries only the tokens its targets need (a causal LM's last target stops there)
        lengths = [self.row_length(items[job.item], t.tolist()) for job, t in zip(jobs, job_targets, strict=True)]
        reuse = bool(getattr(self.task, "reuses_prefix", False))
        chunks = self._chunks(lengths, rows, grad=False)
        with self._bar(len(chunks)) as bar:
            for segments in chunks:
                width = max(widths[k] for k, _, _ in segments)
                batch = self._batch(items, segments, item_of, width, lengths, prefix=reuse)
                emb = batch.inputs_embeds
                for k, rs, j in segments:  # a few tensor ops per job, not per row
                    i, n, cut = item_of[k], len(rs), lengths[k]
                    if i not in embeds:
                        embeds[i] = self.embed(items[i])
                    keep = torch.from_numpy(np.asarray(jobs[k].masks, dtype=np.float32)[rs] @ membership[i][:, :cut])
                    keep[:, ~covered[i][:cut]] = 1.0
                    keep = keep.to(self.adapter.device, self.adapter.dtype)[:, :, None]
                    emb[j : j + n, :cut] = keep * embeds[i][:cut] + (1 - keep) * baseline
                    if reuse:  # tokens before the first masked one equal the input's
                        changed = keep[:, :, 0] < 1
                        none = torch.full((n,), cut, device=changed.device)
                        first = torch.where(changed.any(1), changed.int().argmax(1), none)
                        batch.prefix[j : j + n] = first.cpu()
                    batch.target[j : j + n, : widths[k]] = job_targets[k]
                scores = self._scores(batch).float().cpu().numpy()
                for k, rs, j in segments:
                    out[k][rs] = scores[j : j + len(rs), : widths[k]]
                bar.update(1)
        return out

    # -- gradient rows ----------------------------------------------------------------------------
    def gradients(self, items: Sequence[TaskItem], points: Sequence[torch.Tensor],
                  sink: Callable[[int, int, torch.Tensor, torch.Tensor], None] | None = None) -> list[torch.Tensor]:
        """Gradients ``(S, T, L, H)`` of each target's score at each of an item's points ``(S, L, H)``.

        Two layouts, chosen per item by their cost (a backward pass counted as two forwards):
        **cut rows**, one row per (point, target) cut to the tokens that target needs
        (:meth:`Task.row_length`: a causal LM's first target carries the prompt only), cost
        ``3 sum_t cut_t`` per point; or **shared rows**, one row per point carrying every target, one
        backward pass per target on the retained graph, cost ``(1 + 2T) max_t cut_t``. Gradients at
        the tokens after a target's cut are zero (they cannot change its score).

        ``sink(item, target, point indices (n,), gradients (n, cut, H))``: called after each pass
        instead of keeping every gradient (memory stays at one pass's); then nothing is returned.
        """
        n_targets = [len(it.targets) for it in items]
        grads = [] if sink is not None else [
            torch.zeros((len(p), t, it.length, self.adapter.hidden_size), dtype=torch.float32)
            for p, t, it in zip(points, n_targets, items, strict=True)]
        # a job is (item, targets): its rows are the item's points, scored on those targets
        jobs: list[tuple[int, tuple[int, ...]]] = []
        cuts: list[list[int]] = []
        for i, it in enumerate(items):
            item_cuts = [self.row_length(it, [t]) for t in range(n_targets[i])]
            cuts.append(item_cuts)
            shared = (1 + 2 * n_targets[i]) * max(item_cuts) < 3 * sum(item_cuts) if GRADIENT_LAYOUT == "auto" else \
                GRADIENT_LAYOUT == "shared"
            if n_targets[i] > 1 and shared:
                jobs.append((i, tuple(range(n_targets[i]))))  # shared rows
            else:
                jobs += [(i, (t,)) for t in range(n_targets[i])]  # cut rows
        item_of = [i for i, _ in jobs]
        lengths = [max(cuts[i][t] for t in ts) for i, ts in jobs]
        rows = [len(points[i]) for i, _ in jobs]
        chunks = self._chunks(lengths, rows, grad=True)
        with self._bar(len(chunks)) as bar:
            for segments in chunks:
                width = max(len(jobs[k][1]) for k, _, _ in segments)
                batch = self._batch(items, segments, item_of, width, lengths)
                emb = batch.inputs_embeds
                for k, rs, j in segments:
                    (i, ts), cut = jobs[k], lengths[k]
                    pts = points[i]
                    s_idx = torch.from_numpy(rs).to(pts.device)
                    emb[j : j + len(rs), :cut] = pts[s_idx, :cut].to(self.adapter.device, self.adapter.dtype)
                    batch.target[j : j + len(rs), : len(ts)] = torch.tensor(ts)
                emb.requires_grad_(True)
                real = batch.target >= 0
                with torch.enable_grad():
                    scores = self._scores(batch)
                    for w in range(width):  # one backward per target column, the graph kept until the last
                        (g,) = torch.autograd.grad(scores[:, w][real[:, w].to(scores.device)].sum(), emb,
                                                   retain_graph=w < width - 1)
                        g = g.float().cpu()
                        for k, rs, j in segments:
                            (i, ts) = jobs[k]
                            if w >= len(ts):
                                continue
                            t, cut = ts[w], cuts[i][ts[w]]
                            if sink is not None:
                                sink(i, t, torch.from_numpy(rs), g[j : j + len(rs), :cut])
                            else:
                                grads[i][torch.from_numpy(rs), t, :cut] = g[j : j + len(rs), :cut]
                        del g
                bar.update(1)
        return grads

    @torch.no_grad()
    def point_scores(self, item: TaskItem, points: Sequence[torch.Tensor]) -> np.ndarray:
        """Scores ``(P, T)`` of all the item's targets at embedded inputs ``points`` (each ``(L, H)``)."""
        n = len(points)
        batch = self._batch([item], [(0, np.arange(n), 0)], [0], len(item.targets))
        emb = batch.inputs_embeds
        for r, x in enumerate(points):
            emb[r, : item.length] = x
        batch.target[:] = torch.arange(len(item.targets))
        return self._scores(batch).float().cpu().numpy().astype(np.float64)



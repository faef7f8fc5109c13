"""The metrics engine: target scores of element-masked inputs, packed into batched forward passes.

An explanation is re-tokenized with the model's tokenizer to recover which tokens each element
covers (its elements must come out identical, else the explanation was made with another
tokenizer or granularity). A masked element's tokens get the baseline embedding, exactly as the
attribution engine masks them; special tokens ([CLS], [SEP], BOS) are never masked.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import attrs
import numpy as np

from .._errors import InputError

__all__ = ["MetricItem", "MaskJob", "prepare_items", "score_masks", "method_order", "random_orders", "method_name"]


@attrs.frozen(kw_only=True, eq=False)
class MetricItem:
    """One explanation, ready to be perturbed."""

    index: int
    ids: tuple[int, ...]
    membership: np.ndarray  # (E, L) 0/1: element e covers token l
    covered: np.ndarray  # (L,) bool: token belongs to some element
    target_index: tuple[int, ...]
    target_position: tuple[int | None, ...]
    scores: np.ndarray  # (T, E)
    visible: np.ndarray  # (T, E) bool: element can influence target t (causal LMs: not after it)

    @property
    def n_targets(self) -> int:
        return len(self.target_index)

    @property
    def n_elements(self) -> int:
        return self.membership.shape[0]


@attrs.frozen(kw_only=True)
class MaskJob:
    """Rows of element keep-masks ``(R, E)`` (1 keeps, 0 replaces by the baseline), scored on one target."""

    item: int
    target: int
    masks: np.ndarray


def method_name(explanations: Sequence[Any]) -> str:
    names = {e.method for e in explanations}
    return names.pop() if len(names) == 1 else "mixed"


def prepare_items(adapter: Any, explanations: Sequence[Any]) -> list[MetricItem]:
    """Re-tokenize each explanation's text and check its elements match."""
    from .._explanation import Explanation

    if isinstance(explanations, Explanation):
        explanations = [explanations]
    if not explanations:
        raise InputError("no explanations to evaluate: pass a non-empty list of Explanation objects")
    items = []
    for i, expl in enumerate(explanations):
        if not isinstance(expl, Explanation):
            raise InputError(f"metrics take Explanation objects (from interpreto_core.explain); item {i} is "
                             f"a {type(expl).__name__}")
        if expl.model_kind != adapter.kind:
            raise InputError(f"explanation {i} was made for a {expl.model_kind}, but the model is a {adapter.kind}")
        enc = adapter.encode(expl.text)
        prompt = enc.elements(expl.granularity)
        ids = list(enc.input_ids)
        groups = list(prompt.token_groups)
        n_gen = sum(expl.generated) if expl.generated else 0
        if adapter.kind == "causal_lm":
            cont = [t.index for t in expl.targets]
            if any(t.position is None for t in expl.targets):
                raise InputError(f"explanation {i} has causal-LM targets without positions")
            p = len(ids)
            ids += cont
            groups += [(p + j,) for j in range(len(cont) - 1)]
            expected = prompt.texts
            got = expl.elements[: len(expl.elements) - n_gen]
        else:
            expected, got = prompt.texts, expl.elements
        if tuple(expected) != tuple(got) or len(groups) != len(expl.elements):
            raise InputError(
                f"explanation {i}: re-tokenizing its text at granularity {expl.granularity!r} gives elements "
                f"{list(expected)[:8]}..., not the explanation's {list(got)[:8]}...; evaluate an explanation "
                "with the model and tokenizer that made it"
            )
        membership = np.zeros((len(groups), len(ids)), dtype=np.float32)
        for e, g in enumerate(groups):
            membership[e, list(g)] = 1.0
        last_token = np.array([max(g) for g in groups])
        positions = tuple(t.position for t in expl.targets)
        if adapter.kind == "causal_lm":
            visible = np.array([last_token <= q for q in positions], dtype=bool)
        else:
            visible = np.ones(expl.scores.shape, dtype=bool)
        items.append(
            MetricItem(
                index=i,
                ids=tuple(ids),
                membership=membership,
                covered=membership.sum(0) > 0,
                target_index=tuple(t.index for t in expl.targets),
                target_position=positions,
                scores=np.asarray(expl.scores, dtype=np.float64),
                visible=visible,
            )
        )
    return items


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
    mode: str = "softmax",
    batch_size: int = 64,
    progress: bool | None = None,
    desc: str = "metric",
) -> list[np.ndarray]:
    """Target score of every mask row of every job: a list of ``(R,)`` arrays, one per job.

    Rows of all jobs are packed (shortest texts first) into forward passes of ``batch_size`` rows.
    """
    import torch
    from tqdm.auto import tqdm

    if not isinstance(batch_size, int) or batch_size < 1:
        raise InputError(f"batch_size must be a positive integer, got {batch_size!r}")
    base = adapter.baseline_vector(baseline)
    out = [np.zeros(len(j.masks), dtype=np.float64) for j in jobs]
    order = sorted(range(len(jobs)), key=lambda k: len(items[jobs[k].item].ids))
    n_rows = sum(len(j.masks) for j in jobs)
    n_batches = -(-n_rows // batch_size)
    disable: bool | None = (n_batches <= 1) if progress is None else not progress
    if progress is None and not disable:
        disable = None  # tqdm: shown only when stderr is a terminal
    embeds: dict[int, torch.Tensor] = {}

    def rows_of(k: int) -> torch.Tensor:
        job = jobs[k]
        item = items[job.item]
        if job.item not in embeds:
            embeds[job.item] = adapter.embed(torch.tensor(item.ids))
        x = embeds[job.item]
        keep = np.asarray(job.masks, dtype=np.float32) @ item.membership  # (R, L)
        keep = np.where(item.covered[None, :], keep, 1.0)
        w = torch.from_numpy(keep).to(adapter.device, adapter.dtype)[:, :, None]
        return w * x + (1 - w) * base

    pending: list[tuple[int, int, torch.Tensor]] = []  # (job, row, embeddings (L, H))

    def flush(bar: Any) -> None:
        chunk = pending[:batch_size]
        del pending[:batch_size]
        length = max(r.shape[0] for _, _, r in chunk)
        emb = torch.zeros((len(chunk), length, base.shape[0]), dtype=adapter.dtype, device=adapter.device)
        mask = torch.zeros((len(chunk), length), dtype=torch.long, device=adapter.device)
        index = torch.zeros((len(chunk), 1), dtype=torch.long)
        position = torch.zeros((len(chunk), 1), dtype=torch.long) if adapter.kind == "causal_lm" else None
        for b, (k, _, r) in enumerate(chunk):
            emb[b, : r.shape[0]] = r
            mask[b, : r.shape[0]] = 1
            item = items[jobs[k].item]
            index[b, 0] = item.target_index[jobs[k].target]
            if position is not None:
                position[b, 0] = item.target_position[jobs[k].target]
        scores = adapter.target_scores(
            emb, mask, index.to(adapter.device), None if position is None else position.to(adapter.device), mode=mode
        )
        scores = scores[:, 0].float().cpu().numpy()
        for b, (k, r, _) in enumerate(chunk):
            out[k][r] = scores[b]
        bar.update(1)

    with adapter.evaluating(), torch.inference_mode(), tqdm(
        total=n_batches, desc=desc, unit="batch", disable=disable, leave=False
    ) as bar:
        for k in order:
            rows = rows_of(k)
            pending.extend((k, r, rows[r]) for r in range(rows.shape[0]))
            while len(pending) >= batch_size:
                flush(bar)
        while pending:
            flush(bar)
    return out

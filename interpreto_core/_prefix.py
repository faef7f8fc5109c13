"""Masked causal-LM rows that share a prefix with their unperturbed input reuse its key/value cache.

A row whose first masked token is at position ``k`` equals the input on tokens ``0..k-1``; under
causal attention their keys, values and logits are the input's own. The rows of one item in a pass
are sorted by ``k`` and split into groups of consecutive ``k``; the input's prefix runs once, chunk
by chunk (batch 1, ``use_cache=True``), and each group's rows run from their group's smallest ``k``
on, over a copy of the cache at that point. Targets read before a row's ``k`` take the prefix
pass's logits. The groups minimise the tokens computed plus a fixed cost per pass
(:data:`PASS_COST_TOKENS`): forward tokens ``K + sum_g n_g (L - k_g)`` instead of ``n L`` — for
occlusion, element ``j``'s row never recomputes the positions before it, so about half the tokens
of the whole rows.
"""

from __future__ import annotations

import copy
from typing import Any

import torch

__all__ = ["MIN_SHARED_PREFIX", "PASS_COST_TOKENS", "prefix_cached_logits", "prefix_groups"]

#: below this many shared tokens (none), or for a single row, rows are run whole
MIN_SHARED_PREFIX = 1
#: the fixed cost of one more pass (a prefix chunk and a group's rows), in token-equivalents;
#: one pass of SmolLM2-135M on a CPU thread reads all its weights: ~0.13 s, ~30 tokens of compute (x2 margin)
PASS_COST_TOKENS = 64


def prefix_groups(prefix: list[int], length: int, *, pass_cost: int = PASS_COST_TOKENS) -> list[tuple[int, int, int]]:
    """Consecutive groups ``(first, end, k)`` of rows sorted by ``prefix`` (ascending), each run
    from position ``k`` on (``k = 0``: whole, no cache), minimising ``sum_g n_g (length - k_g)`` plus
    ``pass_cost`` per group (dynamic programming over the split points, O(n^2))."""
    n = len(prefix)
    start = [min(int(p), length - 1) for p in prefix]  # at least one token left to run
    start = [k if k >= MIN_SHARED_PREFIX else 0 for k in start]
    best = [0.0] + [float("inf")] * n
    cut = [0] * (n + 1)
    for end in range(1, n + 1):
        for first in range(end):
            k = start[first]
            cost = best[first] + (end - first) * (length - k) + pass_cost
            if cost < best[end]:
                best[end], cut[end] = cost, first
    groups = []
    end = n
    while end > 0:
        first = cut[end]
        groups.append((first, end, start[first]))
        end = first
    return groups[::-1]


def _cache_argument(model: Any) -> str:
    """The forward's name for a key/value cache: ``cache`` (transformers >= 5.2x) or ``past_key_values``."""
    import inspect

    try:
        params = inspect.signature(model.forward).parameters
    except (TypeError, ValueError):
        return "past_key_values"
    return "cache" if "cache" in params else "past_key_values"


def _forward(adapter: Any, keep: torch.Tensor, **inputs: Any) -> Any:
    """The model's output, its logits at positions ``keep`` only where the model takes ``logits_to_keep``."""
    adapter.computed_tokens += int(inputs["inputs_embeds"].shape[0] * inputs["inputs_embeds"].shape[1])
    if adapter.keeps_logits:
        return adapter.model(**inputs, logits_to_keep=keep)
    return adapter.model(**inputs)


def _pick(adapter: Any, logits: torch.Tensor, keep: torch.Tensor, position: torch.Tensor) -> torch.Tensor:
    """``(B, W, V)`` logits at ``position (B, W)`` from the logits ``(b, K, V)`` of the positions
    ``keep`` (sorted), or from full logits ``(b, L, V)`` when the model takes no ``logits_to_keep``;
    ``b`` is 1 (broadcast) or B. Positions not kept pick a kept one (the caller discards them)."""
    index = torch.searchsorted(keep, position).clamp_max(len(keep) - 1) if adapter.keeps_logits else position
    if logits.shape[0] == 1 and position.shape[0] > 1:
        logits = logits.expand(position.shape[0], -1, -1)
    return logits.gather(1, index.unsqueeze(-1).expand(-1, -1, logits.shape[-1]))


def _cache_of(output: Any) -> Any:
    cache = getattr(output, "cache", None) or getattr(output, "past_key_values", None)
    return cache if callable(getattr(cache, "batch_repeat_interleave", None)) else None


def _croppable(cache: Any) -> bool:
    """Whether copies of ``cache`` can be cut back to fewer tokens: every layer a plain dynamic
    (full-attention) layer; sliding-window or recurrent layers are only ever extended."""
    layers: Any = getattr(cache, "layers", None)
    return bool(layers) and callable(getattr(cache, "crop", None)) and all(
        type(layer).__name__ == "DynamicLayer" for layer in layers)


class _Prefix:
    """The unperturbed input's prefix: the cache at each group's ``k`` (a copy for the group's rows)
    and the logits at the positions read before it. With a croppable cache the prefix runs in one
    pass up to the largest ``k`` (``last``) and copies are cut back; otherwise it runs chunk by chunk."""

    def __init__(self, adapter: Any, emb: torch.Tensor, mask: torch.Tensor, needed: torch.Tensor, last: int) -> None:
        self.adapter, self.emb, self.mask, self.needed, self.last = adapter, emb, mask, needed, last  # (1, >= last)
        self.done, self.failed = 0, False
        self.cache: Any = None
        self.logits: dict[int, torch.Tensor] = {}  # position -> (V,)

    def _run(self, k: int) -> None:
        a, model = self.done, self.adapter.model
        want = self.needed[(self.needed >= a) & (self.needed < k)]
        keep = want - a if len(want) else torch.tensor([k - 1 - a], device=want.device)
        extra: dict[str, Any] = {} if self.cache is None else {_cache_argument(model): self.cache}
        out = _forward(self.adapter, keep, inputs_embeds=self.emb[:, a:k], attention_mask=self.mask[:, :k],
                       use_cache=True, **extra)
        self.cache = _cache_of(out)
        if self.cache is None:
            self.failed = True  # the model gives no reusable cache: rows run whole
            return
        for p in want.tolist():
            picked = _pick(self.adapter, out.logits, keep, torch.tensor([[p - a]], device=keep.device))
            self.logits[p] = picked[0, 0]
        self.done = k

    def at(self, k: int) -> Any:
        """A copy of the cache of tokens ``0..k-1`` (None when the model gives no reusable cache)."""
        if self.done == 0 and not self.failed:
            self._run(k)
            if not self.failed and _croppable(self.cache) and self.last > k:
                self._run(self.last)  # the rest of the prefix in one more pass, copies cut back
        elif k > self.done and not self.failed:
            self._run(k)
        if self.failed:
            return None
        cache = copy.deepcopy(self.cache)
        if self.done > k:
            cache.crop(k - self.done)  # a negative count removes tokens (transformers 4.x and 5.x alike)
        return cache


def prefix_cached_logits(adapter: Any, batch: Any, position: torch.Tensor) -> torch.Tensor:
    """Logits ``(B, W, V)`` at ``position (B, W)`` of a :class:`RowBatch`'s rows, reusing the
    unperturbed prefix of each item's rows (``batch.prefix (B,)``: tokens each row shares with its
    input). Without ``batch.prefix`` (gradient rows, a task that did not ask) every row runs whole."""
    emb, mask = batch.inputs_embeds, batch.attention_mask
    prefix = getattr(batch, "prefix", None)
    if prefix is None or torch.is_grad_enabled():
        return adapter.logits_at(position, inputs_embeds=emb, attention_mask=mask, use_cache=False)
    parts: list[tuple[torch.Tensor, torch.Tensor]] = []  # (row indices, logits)
    for _i, start, n in batch.segments:
        rows = torch.arange(start, start + n)
        length = int(mask[rows].sum(1).max())
        shared = prefix[rows].cpu()
        order = torch.argsort(shared, stable=True)
        groups = prefix_groups(shared[order].tolist(), length) if n >= 2 else [(0, n, 0)]
        # the row sharing the most tokens holds the unperturbed prefix up to every group's k
        top = rows[order[-1]]
        first_k = torch.full((n,), 0, dtype=torch.long)
        for first, end, k in groups:
            first_k[order[first:end]] = k
        early = position[rows] < first_k.to(position.device)[:, None]
        needed = torch.unique(position[rows][early]) if bool(early.any()) else position.new_zeros(0)
        head = _Prefix(adapter, emb[top : top + 1], mask[top : top + 1], needed, max(k for _, _, k in groups))
        for first, end, k in groups:
            sel = rows[order[first:end]]
            pos = position[sel]
            cache = head.at(k) if k > 0 else None  # the prefix runs only once a group needs it
            if cache is None:  # no shared prefix, or no reusable cache: the rows run whole
                parts.append((sel, adapter.logits_at(pos, inputs_embeds=emb[sel, :length],
                                                     attention_mask=mask[sel, :length], use_cache=False)))
                continue
            cache.batch_repeat_interleave(len(sel))
            tail_pos = torch.unique((pos - k).clamp_min(0))
            tail = _forward(adapter, tail_pos, inputs_embeds=emb[sel, k:length], attention_mask=mask[sel, :length],
                            use_cache=True, **{_cache_argument(adapter.model): cache})
            logits = _pick(adapter, tail.logits, tail_pos, (pos - k).clamp_min(0))
            before = pos < k
            if bool(before.any()):
                table = torch.stack([head.logits[p] for p in sorted(head.logits)])  # (P, V)
                keys = torch.tensor(sorted(head.logits), device=pos.device)
                index = torch.searchsorted(keys, pos.clamp_max(k - 1)).clamp_max(len(keys) - 1)
                logits = torch.where(before.unsqueeze(-1), table[index], logits)
            parts.append((sel, logits))
    rows_all = torch.cat([r for r, _ in parts])
    logits_all = torch.cat([x for _, x in parts])
    result = torch.empty_like(logits_all)
    result[rows_all.to(result.device)] = logits_all
    return result

"""Masked causal-LM rows that share a prefix with their unperturbed input reuse its key/value cache.

A row whose first masked token is at position ``k`` equals the input on tokens ``0..k-1``; under
causal attention their keys, values and logits are the input's own. The rows of one item in a pass
share the smallest such ``k``: the prefix ``0..k-1`` runs once (batch 1, ``use_cache=True``), its
cache is repeated for the rows, and the rows run from ``k`` on. Targets read before ``k`` take the
prefix pass's logits. Forward tokens: ``k + n (L - k)`` instead of ``n L``: occluding element ``j``
never recomputes the positions before it (a pass of consecutive elements starts at the first).
"""

from __future__ import annotations

from typing import Any

import torch

__all__ = ["MIN_SHARED_PREFIX", "prefix_cached_logits"]

#: below this many shared tokens, or for a single row, a pass is run whole
MIN_SHARED_PREFIX = 8


def _run_whole(adapter: Any, emb: torch.Tensor, mask: torch.Tensor, position: torch.Tensor) -> torch.Tensor:
    return adapter.logits_at(position, inputs_embeds=emb, attention_mask=mask, use_cache=False)


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


def prefix_cached_logits(adapter: Any, batch: Any, position: torch.Tensor) -> torch.Tensor:
    """Logits ``(B, W, V)`` at ``position (B, W)`` of a :class:`RowBatch`'s rows, reusing the
    unperturbed prefix of each item's rows (``batch.prefix (B,)``: tokens each row shares with its
    input). Without ``batch.prefix`` (gradient rows, a task that did not ask) every row runs whole."""
    emb, mask = batch.inputs_embeds, batch.attention_mask
    prefix = getattr(batch, "prefix", None)
    if prefix is None or torch.is_grad_enabled():
        return _run_whole(adapter, emb, mask, position)
    parts: list[torch.Tensor] = []
    model = adapter.model
    for _i, start, n in batch.segments:
        rows = slice(start, start + n)
        length = int(mask[rows].sum(1).max())
        pos = position[rows]
        k = min(int(prefix[rows].min()), length - 1)
        if n < 2 or k < MIN_SHARED_PREFIX:
            parts.append(_run_whole(adapter, emb[rows, :length], mask[rows, :length], pos))
            continue
        before = pos < k
        head_pos = torch.unique(pos[before]) if bool(before.any()) else torch.tensor([k - 1], device=pos.device)
        head = _forward(adapter, head_pos, inputs_embeds=emb[start : start + 1, :k],
                        attention_mask=mask[start : start + 1, :k], use_cache=True)
        cache = getattr(head, "cache", None) or getattr(head, "past_key_values", None)
        if cache is None or not callable(getattr(cache, "batch_repeat_interleave", None)):
            parts.append(_run_whole(adapter, emb[rows, :length], mask[rows, :length], pos))  # no reusable cache
            continue
        cache.batch_repeat_interleave(n)
        tail_pos = torch.unique((pos - k).clamp_min(0))
        tail = _forward(adapter, tail_pos, inputs_embeds=emb[rows, k:length], attention_mask=mask[rows, :length],
                        use_cache=True, **{_cache_argument(model): cache})
        out = _pick(adapter, tail.logits, tail_pos, (pos - k).clamp_min(0))
        if bool(before.any()):
            early = _pick(adapter, head.logits, head_pos, pos.clamp_max(k - 1))  # (n, W, V)
            out = torch.where(before.unsqueeze(-1), early, out)
        parts.append(out)
    return torch.cat(parts)

"""Collect activations at split points over a data set, at a chosen granularity.

Rows are written into storage allocated once up front (the number of rows is known after
tokenization): a tensor in RAM, or a memory-mapped file when it would exceed ``ram_budget``.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from typing import Any

import attrs
import numpy as np
import torch
from tqdm.auto import tqdm

from .._errors import InputError
from ._split import SplitModel

__all__ = ["Activations", "collect_activations", "ACTIVATION_GRANULARITIES"]

ACTIVATION_GRANULARITIES = ("token", "word", "sentence", "sample", "first_token", "last_token")
REDUCES = ("mean", "max", "last")


@attrs.frozen(kw_only=True, eq=False)
class Activations:
    """Activations of one split point, one row per unit (token, word, sentence or text).

    ``values (N, H)``; ``text_index (N,)``: the text each row comes from; ``spans (N, 2)``: the
    unit's character span in its text (``-1, -1`` when it has none); ``units``: the unit's text.
    ``path``: the memory-mapped file backing ``values``, if any.
    """

    values: torch.Tensor
    text_index: np.ndarray
    spans: np.ndarray
    units: tuple[str, ...]
    texts: tuple[str, ...]
    granularity: str
    split_point: str
    path: str | None = None

    def __len__(self) -> int:
        return int(self.values.shape[0])

    @property
    def hidden_size(self) -> int:
        return int(self.values.shape[1])

    def context(self, row: int, *, chars: int = 60) -> tuple[str, str, str]:
        """``(left, unit, right)``: the unit of ``row`` with up to ``chars`` characters each side."""
        text = self.texts[int(self.text_index[row])]
        start, end = (int(v) for v in self.spans[row])
        if start < 0:
            return "", self.units[row], ""
        left = text[max(0, start - chars) : start]
        right = text[end : end + chars]
        return ("…" if start > chars else "") + left, text[start:end], right + ("…" if end + chars < len(text) else "")


def _units(enc: Any, granularity: str, kind: str) -> tuple[list[tuple[int, ...]], list[tuple[int, int]], list[str]]:
    """Token groups, character spans and texts of the units of one encoding."""
    text, n = enc.text, len(enc.input_ids)
    real = [i for i in range(n) if not enc.special[i]] or list(range(n))
    if granularity in ("token", "word", "sentence"):
        el = enc.elements(granularity)
        spans = [s if s is not None else (-1, -1) for s in el.spans]
        return [tuple(g) for g in el.token_groups], spans, list(el.texts)
    if granularity == "sample":
        return [tuple(real)], [(0, len(text))], [text]
    pos = 0 if granularity == "first_token" else n - 1
    if granularity == "last_token" and kind == "classifier" and enc.special[pos]:
        pos = real[-1]  # the [SEP] of a classifier carries little: take the last real token
    span = enc.offsets[pos] if enc.offsets is not None and not enc.special[pos] else (-1, -1)
    return [(pos,)], [tuple(span)], [enc.tokens[pos] if span[0] < 0 else text[span[0] : span[1]]]


def _storage(
    n: int, h: int, dtype: torch.dtype, ram_budget: float, memmap_dir: str | os.PathLike | None
) -> tuple[torch.Tensor, str | None]:
    nbytes = n * h * torch.empty((), dtype=dtype).element_size()
    if nbytes <= ram_budget:
        return torch.empty((n, h), dtype=dtype), None
    np_dtype = {torch.float32: np.float32, torch.float16: np.float16}[dtype]
    assert memmap_dir is not None
    folder = os.fspath(memmap_dir)
    os.makedirs(folder, exist_ok=True)
    fd, path = tempfile.mkstemp(suffix=".f32" if dtype == torch.float32 else ".f16", dir=folder)
    os.close(fd)
    mm = np.memmap(path, dtype=np_dtype, mode="w+", shape=(n, h))
    return torch.from_numpy(mm), path


def collect_activations(
    split: SplitModel,
    texts: Sequence[str],
    *,
    granularity: str = "token",
    reduce: str = "mean",
    batch_size: int = 32,
    dtype: torch.dtype = torch.float32,
    ram_budget: float = 2 * 1024**3,
    memmap_dir: str | os.PathLike | None = None,
    progress: bool | None = None,
) -> dict[str, Activations]:
    """Activations of every split point of ``split`` over ``texts``, one row per unit.

    Parameters
    ----------
    split:
        A :class:`SplitModel`.
    texts:
        The data set (strings).
    granularity:
        ``token`` (each non-special token), ``word``, ``sentence``, ``sample`` (the whole text),
        ``first_token`` (e.g. BERT's [CLS]) or ``last_token`` (the last real token: a causal LM's
        summary of the text).
    reduce:
        How the tokens of a word / sentence / sample become one row: ``mean``, ``max`` or
        ``last`` (the unit's last token: what a causal LM has read of it once it is complete).
    batch_size:
        Texts per forward pass (texts are sorted by length to limit padding).
    dtype:
        ``torch.float32`` or ``torch.float16`` storage.
    ram_budget:
        Bytes of activations kept in RAM per split point; beyond it, rows go to a memory-mapped file in
        ``memmap_dir`` (default: a new temporary folder).
    progress:
        Show a progress bar (default: tqdm's choice, on a terminal).

    Returns
    -------
    ``{split point: Activations}``.
    """
    if granularity not in ACTIVATION_GRANULARITIES:
        raise InputError(f"unknown granularity {granularity!r}; choose one of {', '.join(ACTIVATION_GRANULARITIES)}")
    if reduce not in REDUCES:
        raise InputError(f"unknown reduce {reduce!r}; choose one of {', '.join(REDUCES)}")
    if dtype not in (torch.float32, torch.float16):
        raise InputError(f"dtype must be torch.float32 or torch.float16, got {dtype}")
    if isinstance(texts, str):
        texts = [texts]
    texts = list(texts)
    if not texts:
        raise InputError("no texts to collect activations from")
    if not isinstance(batch_size, int) or batch_size < 1:
        raise InputError(f"batch_size must be a positive integer, got {batch_size!r}")
    adapter = split.adapter
    encodings = [adapter.encode(t) for t in texts]
    per_text = [_units(e, granularity, split.kind) for e in encodings]
    counts = np.array([len(g) for g, _, _ in per_text])
    if counts.sum() == 0:
        raise InputError(f"the texts have no {granularity} units")
    offsets = np.concatenate([[0], np.cumsum(counts)])
    n_rows = int(offsets[-1])
    text_index = np.repeat(np.arange(len(texts)), counts)
    spans = np.array([s for _, sp, _ in per_text for s in sp], dtype=np.int64).reshape(n_rows, 2)
    units = tuple(u for _, _, us in per_text for u in us)

    storage: dict[str, torch.Tensor] = {}
    paths: dict[str, str | None] = {}
    order = sorted(range(len(texts)), key=lambda i: len(encodings[i].input_ids))
    batches = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
    with adapter.evaluating(), tqdm(
        total=len(texts), desc="activations", unit="text", disable=None if progress is None else not progress
    ) as bar:
        for batch in batches:
            inputs = split.inputs([encodings[i].input_ids for i in batch])
            hidden = split.hidden_states(inputs)
            # one (row, batch item, token, weight) entry per token that contributes to a row
            rows, items, toks, weights = [], [], [], []
            for b, i in enumerate(batch):
                for u, group in enumerate(per_text[i][0]):
                    row = offsets[i] + u
                    chosen = (group[-1],) if reduce == "last" else group
                    rows += [row] * len(chosen)
                    items += [b] * len(chosen)
                    toks += list(chosen)
                    weights += [1.0 / len(chosen)] * len(chosen)
            rows_t = torch.tensor(rows)
            for point, h in hidden.items():
                if point not in storage:
                    itemsize = torch.empty((), dtype=dtype).element_size()
                    if n_rows * h.shape[-1] * itemsize > ram_budget and memmap_dir is None:
                        memmap_dir = tempfile.mkdtemp(prefix="interpreto-acts-")  # one folder for all points
                    storage[point], paths[point] = _storage(n_rows, h.shape[-1], dtype, ram_budget, memmap_dir)
                # gathered where the model runs, pooled and stored on the CPU
                picked = h[torch.tensor(items, device=h.device), torch.tensor(toks, device=h.device)].float().cpu()
                target_rows = torch.tensor(sorted(set(rows)))
                local = torch.searchsorted(target_rows, rows_t)
                if reduce == "max":
                    pooled = torch.full((len(target_rows), h.shape[-1]), -torch.inf)
                    pooled.scatter_reduce_(0, local[:, None].expand_as(picked), picked, reduce="amax")
                else:
                    pooled = torch.zeros((len(target_rows), h.shape[-1]))
                    pooled.index_add_(0, local, picked * torch.tensor(weights)[:, None])
                storage[point][target_rows] = pooled.to(dtype).cpu()
            bar.update(len(batch))
    return {
        point: Activations(
            values=values, text_index=text_index, spans=spans, units=units, texts=tuple(texts),
            granularity=granularity, split_point=point, path=paths[point],
        )
        for point, values in storage.items()
    }

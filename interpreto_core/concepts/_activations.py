"""Collect activations at split points over a data set, at a chosen granularity.

Rows are written into storage allocated once up front (the number of rows is known after
tokenization): a tensor in RAM, or a memory-mapped file when it would exceed ``ram_budget``.

Activation hygiene (on by default): tokens whose hidden state has an outlier norm -- the "massive
activations" of attention-sink positions (Sun et al., 2024; Xiao et al., 2024), e.g. the first token
of Llama-family models, ~100x the norm of the others -- are left out of the rows. They dominate any
dictionary fitted on them (dead concepts, every concept's top inputs the first words of the texts).
What was left out is recorded on the :class:`Activations` (:class:`ActivationHygiene`).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Sequence
from typing import Any

import attrs
import numpy as np
import torch
from tqdm.auto import tqdm

from .._errors import InputError
from ._split import SplitModel

__all__ = ["Activations", "ActivationHygiene", "collect_activations", "ACTIVATION_GRANULARITIES"]

ACTIVATION_GRANULARITIES = ("token", "word", "sentence", "sample", "first_token", "last_token")
REDUCES = ("mean", "max", "last")
#: granularities whose rows hold one chosen position: the outlier rule does not apply to them
_ONE_POSITION = ("first_token", "last_token")
DEFAULT_OUTLIER_FACTOR = 10.0


@attrs.frozen(kw_only=True, eq=False)
class ActivationHygiene:
    """What :func:`collect_activations` left out of the rows of one split point, and why.

    Rule: a token is an outlier when ``||h_t|| > factor * median_{t' in text} ||h_t'||`` (the lower
    median over the text's non-special tokens, so a text of 2 tokens can still show one; a text of 1
    token cannot; special tokens, which are no rows, are not judged). Outlier tokens, and tokens
    at ``exclude_positions``, are left out of their unit
    (its mean / max / last token is taken over the other tokens); a unit left with no token is dropped.

    ``text_index`` / ``positions`` / ``tokens`` / ``norms`` / ``reasons`` (``"outlier"`` or
    ``"position"``): one entry per left-out token. ``rows_before`` / ``rows_after``: units before and
    after (token granularity: one row per token). ``median_norm``: the median norm of the tokens kept.
    ``mean`` / ``std``: the per-unit statistics when ``standardized`` (rows are ``(x - mean) / std``).
    """

    rule: str
    factor: float | None
    exclude_positions: str | None
    text_index: np.ndarray
    positions: np.ndarray
    tokens: tuple[str, ...]
    norms: np.ndarray
    reasons: tuple[str, ...]
    rows_before: int
    rows_after: int
    median_norm: float
    standardized: bool = False
    mean: torch.Tensor | None = None
    std: torch.Tensor | None = None
    #: the ``exclude_positions`` argument itself (a tuple of ints or a callable), to apply it again
    exclude_rule: Any = None

    @property
    def n_excluded(self) -> int:
        """Number of tokens left out."""
        return len(self.reasons)

    def by_position(self) -> dict[int, int]:
        """``{position in the text: tokens left out there}``, most frequent first."""
        pos, counts = np.unique(self.positions, return_counts=True)
        return {int(p): int(c) for p, c in sorted(zip(pos, counts, strict=True), key=lambda pc: (-pc[1], pc[0]))}

    def by_token(self) -> dict[str, int]:
        """``{token: times left out}``, most frequent first."""
        out: dict[str, int] = {}
        for t in self.tokens:
            out[t] = out.get(t, 0) + 1
        return dict(sorted(out.items(), key=lambda tc: (-tc[1], tc[0])))

    def summary(self) -> str:
        """One line: what was left out, where, how large, by which rule (plain text: escape it for HTML)."""
        if self.factor is None and self.exclude_positions is None:
            head = "activation hygiene off (keep_outliers=True): every token kept"
        elif not self.n_excluded:
            head = f"no token left out ({self.rule})"
        else:
            where = ", ".join(f"{p} ({c})" for p, c in list(self.by_position().items())[:4])
            tokens = ", ".join(f"{t!r} ({c})" for t, c in list(self.by_token().items())[:4])
            head = (f"left out {self.n_excluded:,} token(s), {self.rows_before - self.rows_after:,} of "
                    f"{self.rows_before:,} rows ({self.rule}); median norm {float(np.median(self.norms)):,.4g} "
                    f"vs {self.median_norm:,.4g} kept; positions {where}; tokens {tokens}")
        return head + ("; rows standardised per unit" if self.standardized else "")

    def to_json(self) -> dict[str, Any]:
        """A JSON-able summary (counts, rule, positions, tokens; not the per-token arrays)."""
        return {"rule": self.rule, "factor": self.factor, "exclude_positions": self.exclude_positions,
                "excluded_tokens": self.n_excluded, "rows_before": self.rows_before, "rows_after": self.rows_after,
                "median_norm_kept": self.median_norm,
                "median_norm_excluded": float(np.median(self.norms)) if self.n_excluded else None,
                "by_position": {str(k): v for k, v in list(self.by_position().items())[:20]},
                "by_token": dict(list(self.by_token().items())[:20]), "standardized": self.standardized,
                "summary": self.summary()}


@attrs.frozen(kw_only=True, eq=False, repr=False)
class Activations:
    """Activations of one split point, one row per unit (token, word, sentence or text).

    ``values (N, H)``; ``text_index (N,)``: the text each row comes from; ``spans (N, 2)``: the
    unit's character span in its text (``-1, -1`` when it has none); ``units``: the unit's text.
    ``path``: the memory-mapped file backing ``values``, if any. ``hygiene``: the tokens left out
    of the rows and the rule (:class:`ActivationHygiene`); rows left out are absent from every
    per-row array, so row ``i`` of ``values`` is always unit ``units[i]`` of text ``text_index[i]``.
    """

    values: torch.Tensor
    text_index: np.ndarray
    spans: np.ndarray
    units: tuple[str, ...]
    texts: tuple[str, ...]
    granularity: str
    split_point: str
    path: str | None = None
    hygiene: ActivationHygiene | None = None

    def summary(self) -> str:
        """Rows, width, granularity, split point and what activation hygiene left out (one line each)."""
        head = (f"{len(self):,} {self.granularity} rows x {self.hidden_size} at {self.split_point} "
                f"from {len(self.texts):,} texts")
        return head if self.hygiene is None else f"{head}\n{self.hygiene.summary()}"

    def __repr__(self) -> str:
        return f"Activations({self.summary()})".replace("\n", "; ")

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


def outlier_positions(norms: np.ndarray, reference: np.ndarray, factor: float | None,
                      candidates: np.ndarray | None = None) -> np.ndarray:
    """The positions among ``candidates`` (default ``reference``) of one text whose norm exceeds
    ``factor`` times the lower median of ``norms`` over ``reference`` (the text's non-special
    positions); none when ``factor`` is None or the text has one reference token. ``norms``: one
    number per position of the text."""
    if factor is None or len(reference) < 2:
        return np.zeros(0, dtype=np.int64)
    ref = norms[reference]
    low_median = float(np.sort(ref)[(len(ref) - 1) // 2])
    cand = np.asarray(reference if candidates is None else candidates, dtype=np.int64)
    return cand[norms[cand] > factor * low_median]


def reference_positions(enc: Any) -> np.ndarray:
    """The positions whose norms are a text's reference for the outlier rule: its non-special tokens
    (all of them, if it has none)."""
    n = len(enc.input_ids)
    return np.array([p for p in range(n) if not enc.special[p]] or list(range(n)), dtype=np.int64)


def _excluded_positions(exclude_positions: Any, enc: Any) -> set[int]:
    """The positions of ``enc`` that ``exclude_positions`` names (ints, negative from the end, or a callable)."""
    n = len(enc.input_ids)
    if exclude_positions is None:
        return set()
    if callable(exclude_positions):
        chosen = exclude_positions(list(enc.tokens))
    else:
        chosen = exclude_positions
    out = set()
    for p in chosen:
        if isinstance(p, bool) or not isinstance(p, int | np.integer):
            raise InputError(f"exclude_positions must give integer token positions, got {p!r}")
        if -n <= p < n:
            out.add(int(p) % n)
    return out


def _compact(values: torch.Tensor, path: str | None, keep: np.ndarray) -> tuple[torch.Tensor, str | None]:
    """``values[keep]``: in RAM, or (memory-mapped storage) a new file holding only the kept rows."""
    if path is None:
        return values[torch.from_numpy(keep)].contiguous(), None
    folder = os.path.dirname(path)
    fd, new = tempfile.mkstemp(suffix=os.path.splitext(path)[1], dir=folder)
    os.close(fd)
    np_dtype = np.float32 if values.dtype == torch.float32 else np.float16
    mm = np.memmap(new, dtype=np_dtype, mode="w+", shape=(int(keep.sum()), values.shape[1]))
    index = np.flatnonzero(keep)
    for start in range(0, len(index), 65536):
        chunk = index[start : start + 65536]
        mm[start : start + len(chunk)] = values[torch.from_numpy(chunk)].numpy()
    mm.flush()
    del values
    os.remove(path)
    return torch.from_numpy(mm), new


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
    keep_outliers: bool = False,
    outlier_factor: float = DEFAULT_OUTLIER_FACTOR,
    exclude_positions: Sequence[int] | Callable[[list[str]], Sequence[int]] | None = None,
    standardize: bool = False,
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
    keep_outliers:
        False (default): leave out tokens whose norm at the split point exceeds ``outlier_factor``
        times the median token norm of their text (attention-sink / massive activations, e.g.
        SmolLM2's first token at layer 15: ~23,900 vs ~178), decided per text and split point.
        True: keep every token. The rule does not apply to ``first_token`` / ``last_token`` (the
        position is the one asked for).
    outlier_factor:
        The factor of that rule (default 10).
    exclude_positions:
        Token positions to leave out in every text (``(0,)``: the first token; negative counts from
        the end), or a callable ``tokens -> positions`` given each text's token strings. Positions
        index the tokenized text, special tokens included.
    standardize:
        Standardise each hidden unit over the kept rows: ``(x - mean) / std`` (the statistics are
        kept in ``hygiene.mean`` / ``hygiene.std``; a learner fitted on them models standardised
        activations).

    Returns
    -------
    ``{split point: Activations}``; each records what was left out in ``.hygiene`` (``.summary()``).
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
    if isinstance(outlier_factor, bool) or not isinstance(outlier_factor, int | float) or not outlier_factor > 1:
        raise InputError(f"outlier_factor must be a number above 1, got {outlier_factor!r}")
    if exclude_positions is not None and not callable(exclude_positions):
        if isinstance(exclude_positions, int | str) or not isinstance(exclude_positions, Sequence):
            raise InputError(f"exclude_positions must be a sequence of token positions such as (0,) or a "
                             f"callable tokens -> positions, got {exclude_positions!r}")
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
    detect = not keep_outliers and granularity not in _ONE_POSITION
    factor = float(outlier_factor) if detect else None
    fixed = [_excluded_positions(exclude_positions, e) for e in encodings]
    # the tokens whose norm is the text's reference: its non-special ones (all, if it has none)
    reference = [reference_positions(e) for e in encodings]

    storage: dict[str, torch.Tensor] = {}
    paths: dict[str, str | None] = {}
    keep: dict[str, np.ndarray] = {}
    left_out: dict[str, list[tuple[int, int, float, str]]] = {}  # (text, position, norm, reason)
    kept_norms: dict[str, list[np.ndarray]] = {}
    order = sorted(range(len(texts)), key=lambda i: len(encodings[i].input_ids))
    batches = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
    with adapter.evaluating(), tqdm(
        total=len(texts), desc="activations", unit="text", disable=None if progress is None else not progress
    ) as bar:
        for batch in batches:
            inputs = split.inputs([encodings[i].input_ids for i in batch])
            hidden = split.hidden_states(inputs)
            for point, h in hidden.items():
                if point not in storage:
                    itemsize = torch.empty((), dtype=dtype).element_size()
                    if n_rows * h.shape[-1] * itemsize > ram_budget and memmap_dir is None:
                        memmap_dir = tempfile.mkdtemp(prefix="interpreto-acts-")  # one folder for all points
                    storage[point], paths[point] = _storage(n_rows, h.shape[-1], dtype, ram_budget, memmap_dir)
                    keep[point] = np.ones(n_rows, dtype=bool)
                    left_out[point], kept_norms[point] = [], []
                norms = h.float().norm(dim=-1).cpu().numpy()  # (B, L): one number per token
                # one (row, batch item, token, weight) entry per token that contributes to a row
                rows, items, toks, weights = [], [], [], []
                for b, i in enumerate(batch):
                    out = {p: "position" for p in fixed[i]}
                    for big in outlier_positions(norms[b], reference[i], factor):  # special tokens are no rows
                        out.setdefault(int(big), "outlier")
                    for pos, why in sorted(out.items()):
                        left_out[point].append((i, pos, float(norms[b, pos]), why))
                    kept_ref = [p for p in reference[i] if p not in out]
                    kept_norms[point].append(norms[b, kept_ref])
                    for u, group in enumerate(per_text[i][0]):
                        row = offsets[i] + u
                        group = tuple(t for t in group if t not in out) if out else group
                        if not group:
                            keep[point][row] = False
                            continue
                        chosen = (group[-1],) if reduce == "last" else group
                        rows += [row] * len(chosen)
                        items += [b] * len(chosen)
                        toks += list(chosen)
                        weights += [1.0 / len(chosen)] * len(chosen)
                if not rows:
                    continue
                rows_t = torch.tensor(rows)
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
    rule_parts = []
    if detect:
        rule_parts.append(f"token norm > {factor:g} x its text's median token norm")
    if exclude_positions is not None:
        rule_parts.append(f"positions {_describe(exclude_positions)}")
    rule = "; ".join(rule_parts) or ("keep_outliers=True" if granularity not in _ONE_POSITION else
                                     f"no outlier rule at {granularity} granularity")
    result = {}
    for point, values in storage.items():
        kept = keep[point]
        if not kept.any():
            raise InputError(f"activation hygiene left no {granularity} row at {point} ({rule}): pass "
                             "keep_outliers=True or fewer exclude_positions")
        path = paths[point]
        if not kept.all():
            values, path = _compact(values, path, kept)
        mean = std = None
        if standardize:
            mean = values.float().mean(0)
            std = values.float().std(0, correction=0).clamp_min(1e-6)
            for start in range(0, values.shape[0], 65536):  # in place: the storage may be memory-mapped
                block = values[start : start + 65536].float()
                values[start : start + 65536] = ((block - mean) / std).to(dtype)
        entries = left_out[point]
        all_kept = np.concatenate(kept_norms[point]) if kept_norms[point] else np.zeros(0)
        hygiene = ActivationHygiene(
            rule=rule, factor=factor, exclude_positions=None if exclude_positions is None else _describe(
                exclude_positions), text_index=np.array([e[0] for e in entries], dtype=np.int64),
            positions=np.array([e[1] for e in entries], dtype=np.int64),
            tokens=tuple(_token_text(encodings[e[0]], e[1]) for e in entries),
            norms=np.array([e[2] for e in entries], dtype=np.float64), reasons=tuple(e[3] for e in entries),
            rows_before=n_rows, rows_after=int(kept.sum()),
            median_norm=float(np.median(all_kept)) if len(all_kept) else float("nan"),
            standardized=standardize, mean=mean, std=std,
            exclude_rule=exclude_positions if exclude_positions is None or callable(exclude_positions)
            else tuple(int(p) for p in exclude_positions),
        )
        result[point] = Activations(
            values=values, text_index=text_index[kept], spans=spans[kept],
            units=units if kept.all() else tuple(u for u, k in zip(units, kept, strict=True) if k),
            texts=tuple(texts), granularity=granularity, split_point=point, path=path, hygiene=hygiene,
        )
    return result


def _describe(exclude_positions: Any) -> str:
    if callable(exclude_positions):
        return getattr(exclude_positions, "__name__", type(exclude_positions).__name__)
    return repr(tuple(int(p) for p in exclude_positions))


def _token_text(enc: Any, position: int) -> str:
    """The text of token ``position`` (its characters when offsets are known, else the token string)."""
    if enc.offsets is not None and not enc.special[position]:
        start, end = enc.offsets[position]
        if end > start:
            return str(enc.text[start:end])
    return str(enc.tokens[position])

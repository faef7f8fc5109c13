"""Granularity: group tokens into the elements that are scored (tokens, words, sentences)."""

from __future__ import annotations

import re
from collections.abc import Sequence

import attrs
import numpy as np

from ._errors import InputError

__all__ = ["GRANULARITIES", "Elements", "split_elements"]

GRANULARITIES = ("token", "word", "sentence", "all_tokens")

# A word is a run of word characters (with inner apostrophes: "don't"), or a run of punctuation.
_WORD = re.compile(r"\w+(?:['’]\w+)*|[^\w\s]+")
# A sentence ends at . ! ? (possibly repeated, possibly followed by quotes/brackets) before whitespace.
_SENTENCE = re.compile(r"\S.*?(?:[.!?…]+[\"')\]]*(?=\s|$)|$)", re.S)


@attrs.frozen(kw_only=True)
class Elements:
    """The scored units of one text: their text, character span and the tokens they group."""

    texts: tuple[str, ...]
    spans: tuple[tuple[int, int] | None, ...]
    token_groups: tuple[tuple[int, ...], ...]
    granularity: str

    def __len__(self) -> int:
        return len(self.texts)

    def membership(self, n_tokens: int) -> np.ndarray:
        """``(n_elements, n_tokens)`` 0/1 matrix: element e covers token t."""
        m = np.zeros((len(self.texts), n_tokens), dtype=np.float32)
        for e, group in enumerate(self.token_groups):
            m[e, list(group)] = 1.0
        return m


def _token_spans_from_offsets(offsets: Sequence[tuple[int, int]], text: str) -> list[tuple[int, int] | None]:
    spans: list[tuple[int, int] | None] = []
    for start, end in offsets:
        # Byte-level BPE offsets may include the leading space: trim it.
        while start < end and text[start].isspace():
            start += 1
        spans.append((start, end) if end > start else None)
    return spans


def split_elements(
    *,
    text: str,
    tokens: Sequence[str],
    special: Sequence[bool],
    offsets: Sequence[tuple[int, int]] | None,
    granularity: str,
) -> Elements:
    """Group token indices into elements at ``granularity``.

    ``token`` and ``all_tokens`` need no offsets; ``word`` and ``sentence`` need a fast tokenizer.
    Special tokens belong to no element except at ``all_tokens``.
    """
    if granularity not in GRANULARITIES:
        raise InputError(f"unknown granularity {granularity!r}; choose one of {', '.join(GRANULARITIES)}")
    n = len(tokens)
    if granularity in ("token", "all_tokens"):
        keep = [i for i in range(n) if granularity == "all_tokens" or not special[i]]
        spans = _token_spans_from_offsets(offsets, text) if offsets is not None else [None] * n
        texts = tuple(text[s[0]:s[1]] if (s := spans[i]) is not None else tokens[i] for i in keep)
        return Elements(
            texts=texts, spans=tuple(spans[i] for i in keep), token_groups=tuple((i,) for i in keep),
            granularity=granularity,
        )
    if offsets is None:
        raise InputError(
            f"granularity={granularity!r} needs character offsets, which only fast tokenizers give; "
            "load the tokenizer with AutoTokenizer.from_pretrained(..., use_fast=True) or use granularity='token'"
        )
    pattern = _WORD if granularity == "word" else _SENTENCE
    units = [(m.start(), m.end()) for m in pattern.finditer(text)]
    token_spans = _token_spans_from_offsets(offsets, text)
    groups: list[list[int]] = [[] for _ in units]
    starts = np.array([u[0] for u in units])
    for i, span in enumerate(token_spans):
        if special[i] or span is None or not units:
            continue
        # The unit containing the token's first character (tokens never straddle units we care about;
        # a straddling token goes to the unit where it starts).
        u = int(np.searchsorted(starts, span[0], side="right") - 1)
        groups[max(u, 0)].append(i)
    # a unit's span is cut to the tokens it holds: punctuation written against a special token
    # ("[MASK].", "?<|im_end|>") is one regex unit, but only its own characters are the element
    kept = []
    for u, g in enumerate(groups):
        if not g:
            continue
        covered = [c for i in g if (c := token_spans[i]) is not None]
        start = max(units[u][0], min(c[0] for c in covered))
        end = min(units[u][1], max(c[1] for c in covered))
        kept.append(((start, end), tuple(g)))
    return Elements(
        texts=tuple(text[s:e] for (s, e), _ in kept),
        spans=tuple(span for span, _ in kept),
        token_groups=tuple(g for _, g in kept),
        granularity=granularity,
    )

"""Granularity: group tokens into the elements that are scored (tokens, words, sentences)."""

from __future__ import annotations

import re
from collections.abc import Sequence

import attrs
import numpy as np

from ._errors import InputError

__all__ = ["GRANULARITIES", "PAIR_SEPARATOR", "Elements", "split_elements", "split_pair_elements"]

GRANULARITIES = ("token", "word", "sentence", "all_tokens")

#: a pair of texts is shown (and its spans point into) ``text_a + PAIR_SEPARATOR + text_b``
PAIR_SEPARATOR = "\n\n"

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


def split_pair_elements(
    *,
    text_a: str,
    text_b: str,
    tokens: Sequence[str],
    sequence_ids: Sequence[int | None],
    offsets: Sequence[tuple[int, int]],
    granularity: str,
) -> tuple[str, list[tuple[int, int]], Elements, tuple[int, ...]]:
    """Elements of a tokenized text pair (``tokenizer(text_a, text_b)``), none spanning both texts.

    ``sequence_ids``: the encoding's ``sequence_ids()`` (0, 1, or None for added tokens);
    ``offsets``: its offsets, relative to each text. Returns ``(joined text, offsets into it,
    elements, segment of each element)``; the joined text is ``text_a + PAIR_SEPARATOR + text_b``.
    """
    shift = len(text_a) + len(PAIR_SEPARATOR)
    joined = [(0, 0) if s is None else (o[0] + shift * s, o[1] + shift * s)
              for s, o in zip(sequence_ids, offsets, strict=True)]
    text = text_a + PAIR_SEPARATOR + text_b
    special = [s is None for s in sequence_ids]
    elements = split_elements(text=text, tokens=tokens, special=special, offsets=joined, granularity=granularity)
    # a sentence of text_a without final punctuation would run into text_b: cut it at the texts' border
    texts, spans, groups, segments = [], [], [], []
    for t, span, group in zip(elements.texts, elements.spans, elements.token_groups, strict=True):
        for s in (0, 1):
            part = tuple(g for g in group if sequence_ids[g] == s)
            if not part:
                continue
            if len(part) == len(group):
                texts.append(t)
                spans.append(span)
            else:
                start, end = joined[part[0]][0], joined[part[-1]][1]
                texts.append(text[start:end])
                spans.append((start, end))
            groups.append(part)
            segments.append(s)
    out = Elements(texts=tuple(texts), spans=tuple(spans), token_groups=tuple(groups), granularity=granularity)
    return text, joined, out, tuple(segments)

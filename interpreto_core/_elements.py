"""Granularity: group tokens into the elements that are scored (tokens, words, sentences, or the
user's own segments)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import attrs
import numpy as np

from ._errors import InputError

__all__ = ["GRANULARITIES", "PAIR_SEPARATOR", "CustomSegments", "Elements", "custom_segments", "segment_spans",
           "split_elements", "split_pair_elements"]

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
    granularity: str = attrs.field(converter=str)  # a CustomSegments is recorded as plain "custom"

    def __len__(self) -> int:
        return len(self.texts)

    def membership(self, n_tokens: int) -> np.ndarray:
        """``(n_elements, n_tokens)`` 0/1 matrix: element e covers token t."""
        m = np.zeros((len(self.texts), n_tokens), dtype=np.float32)
        for e, group in enumerate(self.token_groups):
            m[e, list(group)] = 1.0
        return m


Span = tuple[int, int]


class CustomSegments(str):
    """``granularity="custom"``: the user's segments of each input, as character spans by text.

    A ``str`` equal to ``"custom"``, so a task passes it on to :func:`split_elements` (or
    ``Encoding.elements``, :func:`split_pair_elements`) like any granularity, and records it as
    ``"custom"``; :func:`split_elements` reads the spans of the text it splits from it. Built by
    :func:`custom_segments` from ``explain(..., segments=...)``.
    """

    spans_by_text: dict[str, tuple[Span, ...]]

    def __new__(cls, spans_by_text: dict[str, tuple[Span, ...]]) -> CustomSegments:
        obj = super().__new__(cls, "custom")
        obj.spans_by_text = dict(spans_by_text)
        return obj

    def __reduce__(self) -> tuple[Any, ...]:
        return (CustomSegments, (self.spans_by_text,))

    def spans_for(self, text: str) -> tuple[Span, ...]:
        try:
            return self.spans_by_text[text]
        except KeyError:
            raise InputError(
                f"custom segments: the task split the text {_clip(text)}, which is none of the inputs the segments "
                "were given for; this task or input form (chat messages: the rendered template) takes no custom "
                "segments: use a granularity (token, word, sentence) for it"
            ) from None


def _clip(text: str, n: int = 40) -> str:
    return repr(text if len(text) <= n else text[: n - 3] + "...")


def _is_int(x: Any) -> bool:
    return isinstance(x, int | np.integer) and not isinstance(x, bool)


def segment_spans(text: str, spec: Any) -> tuple[Span, ...]:
    """The ``(start, end)`` character spans of one text's custom segments.

    ``spec``: a list of strings that concatenate to ``text`` (every character is in a segment), or
    a list of ``(start, end)`` spans in text order, without overlap (characters outside every span
    are never masked). Anything else is an ``InputError`` saying what is wrong.
    """
    if isinstance(spec, str) or not isinstance(spec, Sequence) or len(spec) == 0:
        raise InputError(
            f"segments of {_clip(text)} must be a non-empty list of strings that concatenate to it, or of "
            f"(start, end) character spans; got {spec!r:.60}"
        )
    if all(isinstance(p, str) for p in spec):
        spans, at = [], 0
        for k, part in enumerate(spec):
            if not part:
                raise InputError(f"segment {k} is an empty string: every segment needs at least one character")
            if text[at : at + len(part)] != part:
                if at >= len(text):
                    raise InputError(f"the segments run past the end of the text ({len(text)} characters): segment "
                                     f"{k} {_clip(part)} is left over")
                c = at + next((j for j, (x, y) in enumerate(zip(part, text[at:], strict=False)) if x != y),
                              min(len(part), len(text) - at))
                if c >= len(text):
                    raise InputError(f"the segments run past the end of the text ({len(text)} characters): segment "
                                     f"{k} ends with {_clip(part[c - at :])} more")
                raise InputError(
                    f"the segments do not concatenate to the text: at character {c} the text has "
                    f"{_clip(text[c : c + 20])}, segment {k} has {_clip(part[c - at : c - at + 20])}"
                )
            spans.append((at, at + len(part)))
            at += len(part)
        if at != len(text):
            raise InputError(f"the segments stop at character {at} of {len(text)}: the text's end "
                             f"{_clip(text[at:])} is in no segment (give it a segment, or use (start, end) spans)")
        return tuple(spans)
    if all(isinstance(p, Sequence) and not isinstance(p, str) and len(p) == 2 and all(_is_int(x) for x in p)
           for p in spec):
        spans = [(int(p[0]), int(p[1])) for p in spec]
        for k, (a, b) in enumerate(spans):
            if not 0 <= a < b <= len(text):
                raise InputError(f"span {k} {(a, b)} is empty or outside the text of {len(text)} characters: a span "
                                 "is (start, end) with 0 <= start < end <= len(text)")
            if k and a < spans[k - 1][1]:
                raise InputError(f"spans {k - 1} {spans[k - 1]} and {k} {(a, b)} overlap or are out of order: give "
                                 "the spans in text order, without overlap")
        return tuple(spans)
    raise InputError(
        f"segments of {_clip(text)} must all be strings (that concatenate to the text) or all (start, end) "
        f"character spans; got {spec!r:.60}"
    )


def custom_segments(inputs: Sequence[Any], segments: Any, granularity: str = "custom") -> CustomSegments:
    """The ``granularity="custom"`` of one call: ``segments[i]`` splits ``inputs[i]``.

    A text takes a segment list (:func:`segment_spans`); a ``(text_a, text_b)`` pair takes a pair of
    segment lists, one per text (an element never spans both texts). Chat messages take none.
    ``granularity``: the one asked besides (only the default ``word``, or ``custom``, go with segments).
    """
    if granularity not in ("word", "custom"):
        raise InputError(f"segments= gives the elements (granularity 'custom'), so granularity={granularity!r} "
                         "cannot apply too: leave granularity unset")
    if isinstance(segments, str) or not isinstance(segments, Sequence):
        raise InputError(f"segments must be a list with one entry per input, got {type(segments).__name__}")
    if len(segments) != len(inputs):
        raise InputError(f"segments must have one entry per input ({len(inputs)} inputs, got {len(segments)})")
    by_text: dict[str, tuple[Span, ...]] = {}
    for i, (raw, spec) in enumerate(zip(inputs, segments, strict=True)):
        if isinstance(raw, str):
            text, spans = raw, segment_spans(raw, spec)
        elif isinstance(raw, tuple | list) and len(raw) == 2 and all(isinstance(t, str) for t in raw):
            if isinstance(spec, str) or not isinstance(spec, Sequence) or len(spec) != 2 or any(
                    isinstance(s, str) or _is_int(s) or (isinstance(s, Sequence) and len(s) == 2 and all(
                        _is_int(x) for x in s)) for s in spec):
                raise InputError(f"input {i} is a (text_a, text_b) pair: give its segments as a pair of lists, one per "
                                 f"text, e.g. (['first part', ' of a'], ['b']); got {spec!r:.60}")
            a, b = raw
            shift = len(a) + len(PAIR_SEPARATOR)
            text = a + PAIR_SEPARATOR + b
            spans = segment_spans(a, spec[0]) + tuple((s + shift, e + shift) for s, e in segment_spans(b, spec[1]))
        elif isinstance(raw, list) and raw and all(isinstance(m, dict) for m in raw):
            raise InputError(f"input {i} is chat messages, which take no custom segments (the elements are the "
                             "messages' words, or tokens / sentences); pass the prompt as a plain string to segment it")
        else:
            raise InputError(f"custom segments take a text or a (text_a, text_b) pair per input; input {i} is "
                             f"{type(raw).__name__}")
        if by_text.get(text, spans) != spans:
            raise InputError(f"input {i} {_clip(text)} was given twice with different segments: explain them in "
                             "separate calls")
        by_text[text] = spans
    return CustomSegments(by_text)


def _custom_elements(text: str, special: Sequence[bool], offsets: Sequence[tuple[int, int]],
                     spans: tuple[Span, ...]) -> Elements:
    """A token belongs to the segment that holds its characters (a leading space of a byte-level BPE
    token is not its own); a token outside every segment stays fixed; one that straddles a
    segment's edge is an error, as is a segment that holds no token."""
    starts = np.array([s for s, _ in spans])
    groups: list[list[int]] = [[] for _ in spans]
    last_end = 0
    for i, (o_start, o_end) in enumerate(offsets):
        if special[i] or o_end <= o_start:
            continue
        last_end = max(last_end, o_end)
        s, e = o_start, o_end
        while s < e and text[s].isspace():
            s += 1
        if s == e:  # a whitespace token ("\n"): all its characters
            s = o_start
        k = int(np.searchsorted(starts, s, side="right") - 1)
        if k >= 0 and spans[k][0] <= s and e <= spans[k][1]:
            groups[k].append(i)
            continue
        hit = [j for j, (a, b) in enumerate(spans) if a < e and s < b]
        if not hit:
            continue  # in no segment: never masked, like a special token
        where = (f"segments {hit[0]} and {hit[1]}" if len(hit) > 1
                 else f"the edge of segment {hit[0]} {spans[hit[0]]}")
        raise InputError(
            f"token {text[o_start:o_end]!r} (characters {s}-{e}) straddles {where}: a token belongs to one segment; "
            "move the boundary to a token boundary"
        )
    for k, g in enumerate(groups):
        if not g:
            a, b = spans[k]
            why = ("it lies after the last token (the text was cut to the model's maximum length)" if a >= last_end
                   else "it is whitespace only or inside a special token")
            raise InputError(f"segment {k} {_clip(text[a:b])} holds no token of its own ({why}): merge it with a "
                             "neighbouring segment")
    return Elements(texts=tuple(text[a:b] for a, b in spans), spans=spans,
                    token_groups=tuple(tuple(g) for g in groups), granularity="custom")


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

    ``token`` and ``all_tokens`` need no offsets; ``word``, ``sentence`` and custom segments (a
    :class:`CustomSegments`) need a fast tokenizer. Special tokens belong to no element except at
    ``all_tokens``.
    """
    if isinstance(granularity, CustomSegments):
        if offsets is None:
            raise InputError(
                "custom segments need character offsets, which only fast tokenizers give; load the tokenizer with "
                "AutoTokenizer.from_pretrained(..., use_fast=True)"
            )
        return _custom_elements(text, special, offsets, granularity.spans_for(text))
    if granularity == "custom":
        raise InputError("granularity='custom' needs the segments: pass explain(..., segments=[...]) (one list of "
                         "strings or (start, end) spans per input)")
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

"""Read a data set of texts from CSV, TSV, JSONL or plain-text files, or from Python objects.

Every row carries its id (the 1-based line number in the file where it starts, unless an id column
is named) so that results can be matched to inputs and a resumed run can skip finished rows. A row
that cannot be read (bad UTF-8, bad JSON, wrong number of fields, missing or empty text) becomes a
:class:`BadRow` with its line number; readers never stop on one.
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import attrs

from .._errors import InputError

__all__ = ["BadRow", "Row", "FORMATS", "read_rows", "count_rows", "as_input"]

FORMATS = ("csv", "tsv", "jsonl", "txt")
_SUFFIXES = {".csv": "csv", ".tsv": "tsv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".txt": "txt"}
_TEXT_KEYS = ("text", "sentence", "content", "prompt", "messages")
#: how a pair's two texts are joined in ``Row.text`` (as the pair tasks join them for display)
PAIR_SEPARATOR = "\n\n"

Column = str | int


@attrs.frozen(kw_only=True)
class Row:
    """One input of a data set. ``id`` is an ``int`` (line number / position) or a ``str`` (id column).

    ``text`` is the row's text; for a text pair or chat messages it is a readable rendering
    (a pair's texts joined by a blank line, ``role: content`` lines for a chat) and ``input``
    holds the input itself: a ``(text_a, text_b)`` tuple or a list of ``{"role", "content"}``
    messages (``None`` for a plain text). ``target`` / ``contrast``: what to explain for this row
    and its foil (``None``: the default).
    """

    id: int | str
    text: str
    line: int | None = None
    target: Any = None
    contrast: Any = None
    input: Any = None

    @property
    def value(self) -> Any:
        """What the explainer is given: ``input`` if set, else ``text``."""
        return self.text if self.input is None else self.input


def as_input(value: Any) -> Any:
    """A row's input back from JSON: a list of two strings is a pair (a tuple); other values as they are."""
    if isinstance(value, list) and len(value) == 2 and all(isinstance(v, str) for v in value):
        return tuple(value)
    return value


def pair_text(pair: Sequence[str]) -> str:
    return PAIR_SEPARATOR.join(pair)


def chat_text(messages: Sequence[dict[str, Any]]) -> str:
    return "\n".join(f"{m['role']}: {m['content']}" for m in messages)


def _chat_or_pair(value: list[Any], column: Column, line: int | None) -> tuple[str, Any] | BadRow:
    """A list-valued field: chat messages (a list of objects) or a pair (two strings)."""
    if value and all(isinstance(m, dict) for m in value):
        for k, m in enumerate(value):
            if not isinstance(m.get("role"), str) or not isinstance(m.get("content"), str):
                return BadRow(line=line, reason=f"message {k} of column {column!r} needs string 'role' and 'content'")
        if not any(m["content"].strip() for m in value):
            return BadRow(line=line, reason="empty chat (no message has content)")
        return chat_text(value), [dict(m) for m in value]
    if len(value) == 2 and all(isinstance(v, str) for v in value):
        if not all(v.strip() for v in value):
            return BadRow(line=line, reason=f"empty text in the pair of column {column!r}")
        return pair_text(value), tuple(value)
    return BadRow(line=line, reason=f"column {column!r} is a list but neither a (text_a, text_b) pair of strings nor "
                                    "chat messages [{'role': ..., 'content': ...}]")


@attrs.frozen(kw_only=True)
class BadRow:
    """A row that could not be read: where it is and why."""

    line: int | None
    reason: str

    def __str__(self) -> str:
        where = f"line {self.line}" if self.line is not None else "a row"
        return f"{where}: {self.reason}"


def _format_of(path: Path, format: str | None) -> str:
    if format is not None:
        if format not in FORMATS:
            raise InputError(f"unknown format {format!r}; choose one of {', '.join(FORMATS)}")
        return format
    fmt = _SUFFIXES.get(path.suffix.lower())
    if fmt is None:
        raise InputError(
            f"cannot tell the format of {str(path)!r} from its suffix; name files .csv, .tsv, .jsonl or .txt, "
            f"or pass format= one of {', '.join(FORMATS)}"
        )
    return fmt


def _utf8_error(exc: UnicodeDecodeError, offset: int) -> str:
    at = offset + exc.start
    return f"not valid UTF-8 ({exc.reason} at byte {exc.start} of the line, byte offset {at} in the file)"


def _decoded_lines(path: Path, bad: list[BadRow], numbers: list[int]) -> Iterator[str]:
    """The file's lines as text; an undecodable line becomes a BadRow (with its byte offset) and is left out."""
    offset = 0
    with path.open("rb") as f:
        for n, raw in enumerate(f, start=1):
            try:
                line = raw.decode("utf-8-sig" if n == 1 else "utf-8")
            except UnicodeDecodeError as exc:
                bad.append(BadRow(line=n, reason=_utf8_error(exc, offset)))
                offset += len(raw)
                continue
            offset += len(raw)
            numbers.append(n)
            yield line


class _Lines:
    """The decoded lines of a delimited file, for ``csv.reader``: remembers the lines (and their
    numbers) of the record being read, and can be given lines back to read again."""

    def __init__(self, path: Path, bad: list[BadRow]) -> None:
        self._numbers: list[int] = []
        self._source = _decoded_lines(path, bad, self._numbers)
        self._again: list[tuple[int, str]] = []  # lines given back, the next one last
        self.taken: list[tuple[int, str]] = []  # the lines of the current record

    def __iter__(self) -> _Lines:
        return self

    def __next__(self) -> str:
        if self._again:
            item = self._again.pop()
        else:
            text = next(self._source)
            item = (self._numbers[-1], text)
        self.taken.append(item)
        return item[1]

    def give_back(self, lines: list[tuple[int, str]]) -> None:
        self._again.extend(reversed(lines))


def _text_of(values: Any, columns: Sequence[Column], line: int | None, *, pair: bool = False
             ) -> tuple[str, Any] | BadRow:
    """``(text, input)`` of a row: one column (a text; in JSON also a pair or chat messages),
    several joined by a space, or, with ``pair``, two columns read as a ``(text_a, text_b)`` pair."""
    parts = []
    for c in columns:
        try:
            v = values[c]
        except (KeyError, IndexError):
            return BadRow(line=line, reason=f"no column {c!r}")
        if isinstance(v, list) and len(columns) == 1 and not pair:
            return _chat_or_pair(v, c, line)
        if not isinstance(v, str):
            return BadRow(line=line, reason=f"column {c!r} is {type(v).__name__}, not text")
        parts.append(v)
    if pair:
        empty = [c for c, p in zip(columns, parts, strict=True) if not p.strip()]
        if empty:
            return BadRow(line=line, reason=f"empty text in pair column {empty[0]!r}")
        return pair_text(parts), tuple(parts)
    text = " ".join(p.strip() for p in parts if p.strip())
    if not text:
        return BadRow(line=line, reason="empty text")
    return text, None


def _target_of(value: Any) -> Any:
    if isinstance(value, str):
        s = value.strip()
        if s.lstrip("-").isdigit():
            return int(s)
        return value
    return value


def _cell(value: str) -> Any:
    """A target / contrast cell of a CSV row: an integer, a string, or None when the cell is empty
    (no target: the prediction / a generation; no contrast)."""
    return None if value == "" else _target_of(value)


def _columns(text_column: Column | Sequence[Column] | None) -> list[Column] | None:
    if text_column is None:
        return None
    if isinstance(text_column, str | int):
        return [text_column]
    return list(text_column)


@attrs.frozen(kw_only=True)
class _Spec:
    """Which columns a reader reads: the text (or the pair's two), the id, target and contrast."""

    text: list[Column] | None = None
    pair: bool = False
    id: Column | None = None
    target: Column | None = None
    contrast: Column | None = None

    def others(self) -> list[Column]:
        return [c for c in (self.id, self.target, self.contrast) if c is not None]

    def renamed(self, rename: Any) -> _Spec:
        def opt(c: Column | None) -> Column | None:
            return None if c is None else rename(c)

        return attrs.evolve(self, text=None if self.text is None else [rename(c) for c in self.text],
                            id=opt(self.id), target=opt(self.target), contrast=opt(self.contrast))


def _strictly(taken: list[tuple[int, str]], delimiter: str, fields: list[str] | None) -> bool:
    """Whether a record's lines read under strict quoting as that one record (``fields``)."""
    try:
        return list(csv.reader(io.StringIO("".join(t for _, t in taken)), delimiter=delimiter, strict=True)) == [
            fields
        ]
    except csv.Error:
        return False


def _read_delimited(path: Path, delimiter: str, *, header: bool, spec: _Spec) -> Iterator[Row | BadRow]:
    """Rows of a CSV / TSV file.

    A record may span several lines (a quoted field holding line breaks), but only if its lines
    read under strict quoting as that one record: each closing quote followed by the delimiter or
    the line end, and the file not ending inside quotes. Otherwise (a stray quote that swallowed
    the lines after it, a field over the size limit) its first line is a bad row and the lines
    after it are read again as rows of their own, so no row is lost into another's text.
    """
    bad: list[BadRow] = []
    lines = _Lines(path, bad)
    kind = path.suffix[1:] or "csv"
    reader = csv.reader(lines, delimiter=delimiter)
    names: list[str] | None = None
    width: int | None = None
    used = 0
    while True:
        lines.taken = []
        try:
            fields = next(reader)
            error = None
        except StopIteration:
            break
        except csv.Error as exc:
            fields, error = None, str(exc)
        taken = lines.taken
        used += 1
        if header and names is None and (bad or (len(taken) > 1 and not _strictly(taken, delimiter, fields))
                                         or error is not None):
            what = bad[0] if bad else BadRow(line=taken[0][0] if taken else None, reason=error or "a stray quote")
            raise InputError(f"the header of {str(path)!r} cannot be read ({what}): fix the file, or pass header=False")
        if len(taken) > 1 and (error is not None or not _strictly(taken, delimiter, fields)):
            yield from bad
            bad.clear()
            last = taken[-1][0]
            why = error or "an unbalanced quote"
            yield BadRow(line=taken[0][0], reason=(
                f"a quoted field runs from line {taken[0][0]} to line {last} ({why}): a stray quote? "
                f"this line is skipped; lines {taken[1][0]}-{last} are read as rows of their own"))
            lines.give_back(taken[1:])
            continue
        yield from bad
        bad.clear()
        line = taken[0][0] if taken else None
        if error is not None:
            yield BadRow(line=line, reason=f"unreadable {kind} row: {error}")
            continue
        assert fields is not None
        if not fields or (len(fields) == 1 and not fields[0].strip()):
            continue  # blank line
        if header and names is None:
            names = [f.strip() for f in fields]
            width = len(names)

            def as_name(c: Column, names: list[str] = names) -> Column:
                return names[c] if isinstance(c, int) and -len(names) <= c < len(names) else c

            spec = spec.renamed(as_name)
            if spec.text is None:
                found = [k for k in _TEXT_KEYS if k in names]
                if not found and len(names) != 1:
                    raise InputError(
                        f"{str(path)!r} has columns {names}; say which holds the text with text_column="
                    )
                spec = attrs.evolve(spec, text=[found[0] if found else names[0]])
            assert spec.text is not None
            for c in [*spec.text, *spec.others()]:
                if c not in names:
                    raise InputError(f"{str(path)!r} has no column {c!r}; its columns are {names}")
            continue
        if width is None:
            width = len(fields)
            if spec.text is None:
                if width != 1:
                    raise InputError(
                        f"{str(path)!r} has {width} columns and no header; give text_column= (a column index)"
                    )
                spec = attrs.evolve(spec, text=[0])
            assert spec.text is not None
            for c in [*spec.text, *spec.others()]:
                if not isinstance(c, int) or not -width <= c < width:
                    raise InputError(
                        f"{str(path)!r} has {width} columns and no header: columns are indices 0..{width - 1}, "
                        f"got {c!r}"
                    )
        if len(fields) != width:
            yield BadRow(line=line, reason=f"expected {width} fields, found {len(fields)}")
            continue
        values: Any = dict(zip(names, fields, strict=True)) if names is not None else fields
        assert spec.text is not None
        text = _text_of(values, spec.text, line, pair=spec.pair)
        if isinstance(text, BadRow):
            yield text
            continue
        ident: int | str = line if line is not None else used
        if spec.id is not None:
            ident = str(values[spec.id]).strip()
            if not ident:
                yield BadRow(line=line, reason=f"empty id in column {spec.id!r}")
                continue
        target = _cell(values[spec.target]) if spec.target is not None else None
        contrast = _cell(values[spec.contrast]) if spec.contrast is not None else None
        yield Row(id=ident, text=text[0], input=text[1], line=line, target=target, contrast=contrast)
    yield from bad


def _read_jsonl(path: Path, *, spec: _Spec) -> Iterator[Row | BadRow]:
    bad: list[BadRow] = []
    numbers: list[int] = []
    for raw in _decoded_lines(path, bad, numbers):
        yield from bad
        bad.clear()
        line = numbers[-1]
        if not raw.strip():
            continue
        try:
            value = json.loads(raw)
        except ValueError as exc:
            yield BadRow(line=line, reason=f"invalid JSON ({exc})")
            continue
        except RecursionError:
            yield BadRow(line=line, reason="JSON nested too deeply to read")
            continue
        try:
            yield _row_of(value, line, line, spec=spec)
        except RecursionError:  # pragma: no cover - a value json could read but not compare
            yield BadRow(line=line, reason="JSON nested too deeply to read")
    yield from bad


def _row_of(value: Any, default_id: int, line: int | None, *, spec: _Spec) -> Row | BadRow:
    """A row from a string, a mapping or an ``(id, text)`` pair."""
    if isinstance(value, str):
        if spec.text is not None:
            return BadRow(line=line, reason="a bare string, but text_column was given")
        return Row(id=default_id, text=value, line=line) if value.strip() else BadRow(line=line, reason="empty text")
    if isinstance(value, tuple) and len(value) == 2 and spec.text is None:
        given, plain = value
        if not isinstance(given, int | str) or isinstance(given, bool):
            return BadRow(line=line, reason=f"an id must be an int or a string, got {type(given).__name__}")
        if not isinstance(plain, str) or not plain.strip():
            return BadRow(line=line, reason="empty text" if isinstance(plain, str) else "the text is not a string")
        return Row(id=given, text=plain, line=line)
    if not isinstance(value, dict):
        return BadRow(line=line, reason=f"expected an object with a text field, got {type(value).__name__}")
    columns = spec.text
    if columns is None:
        found = [k for k in _TEXT_KEYS if k in value]
        if not found:
            return BadRow(line=line, reason=f"no text field (looked for {', '.join(_TEXT_KEYS)}; give text_column=)")
        columns = [found[0]]
    text = _text_of(value, columns, line, pair=spec.pair)
    if isinstance(text, BadRow):
        return text
    ident: Any = default_id
    if spec.id is not None:
        if spec.id not in value:
            return BadRow(line=line, reason=f"no id field {spec.id!r}")
        ident = value[spec.id]
        if not isinstance(ident, int | str) or isinstance(ident, bool):
            return BadRow(line=line, reason=f"an id must be an int or a string, got {type(ident).__name__}")
    target = value.get(spec.target) if spec.target is not None else None
    contrast = value.get(spec.contrast) if spec.contrast is not None else None
    return Row(id=ident, text=text[0], input=text[1], line=line, target=target, contrast=contrast)


def _read_txt(path: Path) -> Iterator[Row | BadRow]:
    bad: list[BadRow] = []
    numbers: list[int] = []
    for raw in _decoded_lines(path, bad, numbers):
        yield from bad
        bad.clear()
        text = raw.rstrip("\r\n")
        if text.strip():
            yield Row(id=numbers[-1], text=text, line=numbers[-1])
    yield from bad


def read_rows(
    source: str | os.PathLike[str] | Iterable[Any],
    *,
    format: str | None = None,
    text_column: Column | Sequence[Column] | None = None,
    id_column: Column | None = None,
    target_column: Column | None = None,
    header: bool = True,
    pair_columns: Sequence[Column] | None = None,
    contrast_column: Column | None = None,
) -> Iterator[Row | BadRow]:
    """Rows of a data set, read lazily, as :class:`Row` or :class:`BadRow` (never raised).

    Parameters
    ----------
    source:
        A file (``.csv``, ``.tsv``, ``.jsonl``/``.ndjson``: one JSON object or string per line,
        ``.txt``: one text per line), or an iterable of strings, ``(id, text)`` pairs or dicts.
    format:
        Force a file format (``csv``, ``tsv``, ``jsonl``, ``txt``) instead of the suffix's.
    text_column:
        The column (name, or index without header) holding the text; several are joined by a
        space (e.g. ``["title", "description"]``). Default: ``text``, ``sentence``, ``content``,
        ``prompt`` or ``messages``, or the only column. In JSON rows (JSONL, dicts) the field may
        also hold a ``[text_a, text_b]`` pair or chat messages ``[{"role": ..., "content": ...}]``.
    id_column:
        A column holding unique ids. Default: the row's line number in the file (1-based, the
        header is line 1), or its position in an iterable (0-based).
    target_column:
        A column holding the target to explain (a class index or label for classifiers, a
        continuation for causal LMs and seq2seq models). Default: none (the predicted class / a
        greedy generation); so is an empty CSV/TSV cell.
    header:
        CSV/TSV: whether the first line names the columns.
    pair_columns:
        Two columns read as a ``(text_a, text_b)`` pair (NLI premise and hypothesis, a QA
        question and context), instead of ``text_column``.
    contrast_column:
        A column holding the row's contrast (the foil: a class, a continuation); an empty cell
        or a missing field means none.
    """
    columns = _columns(text_column)
    if pair_columns is not None:
        if columns is not None:
            raise InputError("give text_column or pair_columns, not both")
        columns = _columns(pair_columns)
        if columns is None or len(columns) != 2:
            raise InputError(f"pair_columns names the two columns of a text pair, got {pair_columns!r}")
    spec = _Spec(text=columns, pair=pair_columns is not None, id=id_column, target=target_column,
                 contrast=contrast_column)
    if isinstance(source, str | os.PathLike):
        path = Path(source).expanduser()
        if not path.is_file():
            raise InputError(f"no data file {str(path)!r}")
        fmt = _format_of(path, format)
        if fmt in ("csv", "tsv"):
            yield from _read_delimited(path, "," if fmt == "csv" else "\t", header=header, spec=spec)
        elif fmt == "jsonl":
            yield from _read_jsonl(path, spec=spec)
        else:
            if columns or spec.others():
                raise InputError("a .txt file has one text per line: it has no columns")
            yield from _read_txt(path)
        return
    if not isinstance(source, Iterable):
        raise InputError(f"source must be a file path or an iterable of texts, got {type(source).__name__}")
    for i, value in enumerate(source):
        yield _row_of(value, i, None, spec=spec)


def count_rows(source: Any) -> int | None:
    """A quick upper bound on the number of rows (lines of a file, length of a sequence), for progress bars."""
    if isinstance(source, str | os.PathLike):
        try:
            with open(source, "rb") as f:
                return sum(chunk.count(b"\n") for chunk in iter(lambda: f.read(1 << 20), b"")) or None
        except OSError:
            return None
    if isinstance(source, Sequence):
        return len(source)
    return None

"""Where results go: append-only stores that survive an interruption.

A store holds one record per (text id, method). It is written a chunk at a time, each chunk
flushed and ``fsync``-ed before the next starts, so after a crash it holds every finished chunk
and at most one partial last line, which reopening discards. ``done()`` gives the keys already
written: a resumed run skips them and so never writes a text twice.

* :class:`JsonlStore` — one JSON object per line (``.jsonl``).
* :class:`ParquetStore` — a folder of Parquet parts (``.parquet``), one per chunk, each written
  to a temporary name and renamed into place (needs ``pyarrow``).
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from .._errors import InputError

__all__ = ["JsonlStore", "ParquetStore", "open_store", "record_key", "read_records"]

META = "interpreto-run.json"


def record_key(ident: Any, method: str) -> tuple[str, str]:
    """The dedup key of a record: ids compare as JSON (``3`` and ``"3"`` differ)."""
    return json.dumps(ident), method


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _check_meta(meta_path: Path, meta: dict[str, Any], *, resume: bool) -> None:
    """Refuse to resume a run whose settings differ from this one's."""
    if resume and meta_path.exists():
        try:
            old = json.loads(meta_path.read_text(encoding="utf-8"))
        except ValueError:
            old = None
        if old is not None and old != json.loads(json.dumps(meta)):
            diff = sorted(k for k in set(old) | set(meta) if old.get(k) != json.loads(json.dumps(meta.get(k))))
            raise InputError(
                f"{str(meta_path)!r} records a run with other settings ({', '.join(diff)} differ); "
                "resume it with the same settings, or write to another output (or pass overwrite=True)"
            )
    tmp = meta_path.with_name(f".{meta_path.name}.{uuid.uuid4().hex}.tmp")
    tmp.write_text(json.dumps(meta, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(tmp, meta_path)


class JsonlStore:
    """Records appended to a JSON Lines file."""

    def __init__(self, path: Path, *, meta: dict[str, Any], resume: bool) -> None:
        self.path = path
        self.meta_path = path.with_name(path.name + ".meta.json")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if resume and path.exists() and path.stat().st_size and not self.meta_path.exists():
            raise InputError(
                f"{str(path)!r} exists but has no {self.meta_path.name}: it was not written by explain_dataset; "
                "write to another output"
            )
        _check_meta(self.meta_path, meta, resume=resume)
        self._done: set[tuple[str, str]] = set()
        self.discarded_partial = False
        if resume and path.exists():
            self._recover()
        else:
            path.write_bytes(b"")
        self._file = path.open("ab")

    def _recover(self) -> None:
        """Read the finished keys; cut a partial last line (a crash mid-write) off the file."""
        size = self.path.stat().st_size
        good_end = 0
        with self.path.open("rb") as f:
            for n, raw in enumerate(f, start=1):
                try:
                    rec = json.loads(raw) if raw.endswith(b"\n") else None
                    key = record_key(rec["id"], rec["method"]) if rec is not None else None
                except (ValueError, KeyError, TypeError):
                    key = None
                if key is None:
                    if good_end + len(raw) < size:  # not the last line: not a crash mid-write
                        raise InputError(
                            f"line {n} of {str(self.path)!r} is not a result record; "
                            "fix or remove that line, or write to another output"
                        )
                    break
                self._done.add(key)
                good_end += len(raw)
        if good_end != size:
            self.discarded_partial = True
            with self.path.open("r+b") as f:
                f.truncate(good_end)
                f.flush()
                os.fsync(f.fileno())

    def done(self) -> set[tuple[str, str]]:
        return set(self._done)

    def write(self, records: list[dict[str, Any]]) -> int:
        """Append ``records`` (skipping keys already written), flush and fsync. Returns how many were written."""
        lines = []
        for rec in records:
            key = record_key(rec["id"], rec["method"])
            if key in self._done:
                continue
            self._done.add(key)
            lines.append(json.dumps(rec, ensure_ascii=False, allow_nan=True).encode("utf-8") + b"\n")
        if lines:
            self._file.write(b"".join(lines))
            self._file.flush()
            os.fsync(self._file.fileno())
        return len(lines)

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> JsonlStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class ParquetStore:
    """Records written as Parquet parts in a folder; the explanation is a JSON string column."""

    def __init__(self, path: Path, *, meta: dict[str, Any], resume: bool) -> None:
        try:
            import pyarrow  # noqa: F401
            import pyarrow.parquet  # noqa: F401
        except ImportError as exc:
            raise InputError("Parquet output needs pyarrow (pip install pyarrow); or write .jsonl") from exc
        self.path = path
        if path.exists() and not path.is_dir():
            raise InputError(f"{str(path)!r} is a file; Parquet output is a folder of parts")
        path.mkdir(parents=True, exist_ok=True)
        self.meta_path = path / META
        self.discarded_partial = False
        if not resume:
            for part in path.glob("part-*.parquet"):
                part.unlink()
        _check_meta(self.meta_path, meta, resume=resume)
        for tmp in path.glob(".part-*.tmp"):
            tmp.unlink()  # an interrupted write never became a part
            self.discarded_partial = True
        self._done: set[tuple[str, str]] = set()
        self._next = 0
        for part in sorted(path.glob("part-*.parquet")):
            import pyarrow.parquet as pq

            table = pq.read_table(part, columns=["id", "method"])
            self._done.update(zip(table.column("id").to_pylist(), table.column("method").to_pylist(), strict=True))
            self._next = max(self._next, int(part.stem.split("-")[1]) + 1)

    def done(self) -> set[tuple[str, str]]:
        return set(self._done)

    def write(self, records: list[dict[str, Any]]) -> int:
        import pyarrow as pa
        import pyarrow.parquet as pq

        rows = []
        for rec in records:
            key = record_key(rec["id"], rec["method"])
            if key in self._done:
                continue
            self._done.add(key)
            rows.append(
                {
                    "id": key[0],  # the id as JSON, so int and str ids round-trip
                    "line": rec.get("line"),
                    "text": rec["text"],
                    "method": rec["method"],
                    "target": json.dumps(rec.get("target")),
                    "contrast": json.dumps(rec.get("contrast")),
                    "task": rec.get("task"),
                    "input": json.dumps(rec.get("input"), ensure_ascii=False),
                    "explanation": json.dumps(rec["explanation"], ensure_ascii=False),
                }
            )
        if not rows:
            return 0
        schema = pa.schema(
            [("id", pa.string()), ("line", pa.int64()), ("text", pa.string()), ("method", pa.string()),
             ("target", pa.string()), ("contrast", pa.string()), ("task", pa.string()), ("input", pa.string()),
             ("explanation", pa.string())]
        )
        table = pa.Table.from_pylist(rows, schema=schema)
        name = f"part-{self._next:06d}.parquet"
        tmp = self.path / f".{name}.{uuid.uuid4().hex}.tmp"
        with tmp.open("wb") as f:
            pq.write_table(table, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.path / name)
        _fsync_dir(self.path)
        self._next += 1
        return len(rows)

    def close(self) -> None:
        pass

    def __enter__(self) -> ParquetStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_store(
    out: str | os.PathLike[str], *, meta: dict[str, Any], resume: bool, overwrite: bool
) -> JsonlStore | ParquetStore:
    """The store for ``out`` (``.jsonl`` or ``.parquet``)."""
    path = Path(out).expanduser()
    suffix = path.suffix.lower()
    if suffix not in (".jsonl", ".parquet"):
        raise InputError(f"out must end in .jsonl or .parquet, got {str(path)!r}")
    if path.exists() and not resume and not overwrite:
        raise InputError(
            f"{str(path)!r} already exists; pass resume=True to finish that run, or overwrite=True to start over"
        )
    cls = JsonlStore if suffix == ".jsonl" else ParquetStore
    return cls(path, meta=meta, resume=resume)


def read_records(path: str | os.PathLike[str]) -> Iterator[dict[str, Any]]:
    """The records of a results file (``.jsonl``) or folder (``.parquet``), as written.

    Each record has ``id``, ``line``, ``text``, ``method``, ``target``, ``contrast``, ``task``
    and ``explanation`` (the ``Explanation.to_json()`` dict; rebuild with
    ``Explanation.from_json``), and ``input`` when the row was a text pair or chat messages
    (records written before these fields existed lack them). A partial last line of an
    interrupted JSONL run is left out.
    """
    p = Path(path).expanduser()
    if p.suffix.lower() == ".parquet":
        import pyarrow.parquet as pq

        for part in sorted(p.glob("part-*.parquet")):
            for row in pq.read_table(part).to_pylist():
                rec = row | {
                    "id": json.loads(row["id"]),
                    "target": json.loads(row["target"]),
                    "explanation": json.loads(row["explanation"]),
                }
                for key in ("contrast", "input"):  # parts written before these columns lack them
                    if key in rec:
                        rec[key] = json.loads(rec[key]) if rec[key] is not None else None
                if rec.get("input", 0) is None:
                    del rec["input"]  # as in JSONL: only pairs and chats keep their input
                yield rec
        return
    with p.open("rb") as f:
        for raw in f:
            if not raw.endswith(b"\n"):
                return
            yield json.loads(raw)


def iter_chunks(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    chunk: list[Any] = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk

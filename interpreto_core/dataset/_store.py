"""Where results go: append-only stores that survive an interruption.

A store holds one record per (text id, method). It is written a chunk at a time, each chunk
flushed and ``fsync``-ed before the next starts, so after a crash it holds every finished chunk
and at most one partial last line, which reopening discards. ``done()`` gives the keys already
written: a resumed run skips them and so never writes a text twice.

* :class:`JsonlStore` — one JSON object per line (``.jsonl``).
* :class:`ParquetStore` — a folder of Parquet parts (``.parquet``), one per chunk, each written
  to a temporary name and renamed into place (needs ``pyarrow``).

One writer at a time: :func:`open_store` takes an exclusive, non-blocking ``flock`` on
``<out>.lock`` (next to ``out``, holding the writer's pid) for as long as the store is open; a
second writer refuses at once, naming ``out`` and the holder's pid. The lock is the kernel's, so
it goes with the process however that ends (exception, kill, crash): no stale lock to clean up.
A run's settings (``<out>.meta.json``, or ``interpreto-run.json`` in a Parquet folder) that
cannot be read or have the wrong shape make a resume refuse: they are never taken as absent.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from .._errors import InputError

__all__ = ["JsonlStore", "ParquetStore", "OutputLock", "open_store", "record_key", "read_records"]

META = "interpreto-run.json"


class OutputLock:
    """An exclusive ``flock`` on ``<out>.lock``, taken without waiting; :meth:`release` (or the
    process's end, however it ends) lets it go. The lock file holds the holder's pid."""

    def __init__(self, out: Path) -> None:
        self.out = out
        self.path = out.with_name(out.name + ".lock")
        self._fd: int | None = None
        try:
            import fcntl
        except ImportError:  # pragma: no cover - not POSIX: no advisory locks, one writer is on trust
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                holder = _read_pid(fd)
                os.close(fd)
                who = f"pid {holder}" if holder else "another process"
                raise InputError(
                    f"{str(out)!r} is being written by {who} (it holds {str(self.path)!r}); "
                    "wait for that run to end, or write to another output"
                ) from None
            try:  # the file may have been removed by a holder releasing it after we opened it: retry
                same = os.path.samestat(os.fstat(fd), os.stat(self.path))
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd

    def release(self) -> None:
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        try:
            os.unlink(self.path)  # while still held: a waiting opener sees another inode and retries
        except OSError:
            pass
        os.close(fd)

    def __del__(self) -> None:
        self.release()


def _read_pid(fd: int) -> int | None:
    try:
        text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


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


def _read_meta(meta_path: Path, out: Path) -> dict[str, Any]:
    """The recorded settings of a run; ``InputError`` when they cannot be read or verified."""

    def refuse(why: str) -> InputError:
        return InputError(
            f"cannot verify the settings of the run in {str(out)!r}: {str(meta_path)!r} {why}; "
            f"delete {str(out)!r} and {str(meta_path)!r} to start over, or pass another out"
        )

    try:
        old = json.loads(meta_path.read_bytes().decode("utf-8"))
    except (OSError, ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
        raise refuse(f"is unreadable ({type(exc).__name__}: {str(exc)[:120]})") from None
    if not isinstance(old, dict):
        raise refuse(f"holds a {type(old).__name__}, not an object")
    types = {"format": int, "granularity": str, "methods": dict, "task": str}
    for key, kind in types.items():
        if key in old and (not isinstance(old[key], kind) or isinstance(old[key], bool)):
            raise refuse(f"has {key!r} of type {type(old[key]).__name__}, expected {kind.__name__}")
    for key in ("format", "granularity", "methods"):
        if key not in old:
            raise refuse(f"lacks {key!r}")
    if not all(isinstance(v, dict) for v in old["methods"].values()):
        raise refuse("has a method whose parameters are not an object")
    return old


def _check_meta(meta_path: Path, meta: dict[str, Any], *, resume: bool, out: Path, has_records: bool) -> None:
    """Refuse to resume a run whose settings differ from this one's or cannot be verified.

    Settings are checked only when there are records to resume (``has_records``): a run that
    never wrote one has nothing its settings could contradict.
    """
    if resume and has_records:
        if not meta_path.exists():
            raise InputError(
                f"{str(out)!r} holds records but no {meta_path.name}: its settings cannot be verified; "
                "write to another output (or pass overwrite=True with resume=False)"
            )
        old = _read_meta(meta_path, out)
        if old != json.loads(json.dumps(meta)):
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

    _lock: OutputLock | None = None

    def __init__(self, path: Path, *, meta: dict[str, Any], resume: bool) -> None:
        self.path = path
        self.meta_path = path.with_name(path.name + ".meta.json")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        has_records = path.exists() and path.stat().st_size > 0
        if resume and has_records and not self.meta_path.exists():
            raise InputError(
                f"{str(path)!r} exists but has no {self.meta_path.name}: it was not written by explain_dataset; "
                "write to another output"
            )
        _check_meta(self.meta_path, meta, resume=resume, out=path, has_records=has_records)
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
        _release(self)

    def __enter__(self) -> JsonlStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class ParquetStore:
    """Records written as Parquet parts in a folder; the explanation is a JSON string column."""

    _lock: OutputLock | None = None

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
        has_records = any(path.glob("part-*.parquet"))
        _check_meta(self.meta_path, meta, resume=resume, out=path, has_records=has_records)
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
        _release(self)

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
    lock = OutputLock(path)  # before anything of out is read or changed
    try:
        if path.exists() and not resume and not overwrite:
            raise InputError(
                f"{str(path)!r} already exists; pass resume=True to finish that run, or overwrite=True to start over"
            )
        cls = JsonlStore if suffix == ".jsonl" else ParquetStore
        store = cls(path, meta=meta, resume=resume)
    except BaseException:
        lock.release()
        raise
    store._lock = lock
    return store


def _release(store: Any) -> None:
    lock = getattr(store, "_lock", None)
    if lock is not None:
        lock.release()


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

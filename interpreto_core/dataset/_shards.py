"""Activations over a large data set, streamed to sharded files, and read back in mini-batches.

:func:`collect_activation_shards` runs the concepts package's
:func:`~interpreto_core.concepts.collect_activations` on ``shard_texts`` texts at a time and writes
each result to a safetensors shard, so memory holds one shard, never the whole set. A
``manifest.json`` written after each shard makes the collection resumable. :class:`ActivationShards`
reads the shards back: all rows, a random sample, or shuffled mini-batches with a bounded buffer;
:func:`fit_from_shards` trains a sparse autoencoder learner from those mini-batches.

Activation hygiene: the manifest records the options (``settings.hygiene``) and, for each shard and
split point, the tokens left out (``hygiene.excluded``: ``[text, position, reason]``). The outlier
rule is decided per text (a token's norm against its own text's median), so cutting the data into
shards changes nothing: the rows are those of one :func:`collect_activations` call over all texts.
"""

from __future__ import annotations

import json
import os
import time
import uuid
import zlib
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from .._errors import InputError

__all__ = ["ActivationShards", "collect_activation_shards", "fit_from_shards", "read_texts"]

MANIFEST = "manifest.json"


def _point_dir(point: str) -> str:
    return point.replace("/", "_")


def _write_json(path: Path, data: Any) -> None:
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    with tmp.open("w", encoding="utf-8") as f:
        json.dump(data, f, indent=1)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _bad(path: Path, why: str) -> InputError:
    return InputError(f"{str(path)!r} is not a valid activation-shard manifest: {why}")


def _is_count(v: Any, *, positive: bool = False) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and v >= (1 if positive else 0)


def _read_manifest(root: Path) -> dict[str, Any]:
    """``manifest.json`` of ``root``, checked: its shape, and every file it names is a file inside
    ``root`` (no absolute path, no ``..``, no symlink out of the folder)."""
    path = root / MANIFEST
    try:
        manifest = json.loads(path.read_bytes().decode("utf-8"))
    except (OSError, ValueError, RecursionError) as exc:
        raise _bad(path, f"unreadable ({type(exc).__name__}: {str(exc)[:120]})") from None
    if not isinstance(manifest, dict):
        raise _bad(path, f"a {type(manifest).__name__}, not an object")
    settings = manifest.get("settings")
    if not isinstance(settings, dict):
        raise _bad(path, "no 'settings' object")
    points = settings.get("split_points")
    if not isinstance(points, list) or not points or not all(isinstance(x, str) for x in points):
        raise _bad(path, "'settings.split_points' is not a list of names")
    if not isinstance(settings.get("granularity"), str):
        raise _bad(path, "'settings.granularity' is not a string")
    if not _is_count(manifest.get("n_texts")) or not _is_count(manifest.get("texts_crc32")):
        raise _bad(path, "'n_texts' / 'texts_crc32' are not non-negative integers")
    shards = manifest.get("shards")
    if not isinstance(shards, list):
        raise _bad(path, "'shards' is not a list")
    base = root.resolve()
    total = 0
    for k, entry in enumerate(shards):
        if not isinstance(entry, dict) or not _is_count(entry.get("n_texts")) or not isinstance(entry.get("files"),
                                                                                               dict):
            raise _bad(path, f"shard {k} is not an object with 'n_texts' and 'files'")
        if entry.get("first_text") != total:
            raise _bad(path, f"shard {k} starts at text {entry.get('first_text')!r}, expected {total}")
        total += entry["n_texts"]
        for point in points:
            f = entry["files"].get(point)
            if not isinstance(f, dict) or not isinstance(f.get("file"), str):
                raise _bad(path, f"shard {k} has no file for split point {point!r}")
            if not _is_count(f.get("rows")) or not _is_count(f.get("hidden"), positive=True):
                raise _bad(path, f"shard {k} of {point!r}: 'rows' / 'hidden' are not integers")
            name = f["file"]
            if not name or Path(name).is_absolute() or ".." in Path(name).parts or "\\" in name:
                raise _bad(path, f"shard {k} of {point!r} names {name!r}, not a path inside the folder")
            target = (root / name).resolve()
            if not target.is_relative_to(base):
                raise _bad(path, f"shard {k} of {point!r}: {name!r} leads outside the folder (a symlink?)")
    if total != manifest["n_texts"]:
        raise _bad(path, f"its shards hold {total} texts, but 'n_texts' says {manifest['n_texts']}")
    _check_hygiene(path, manifest)
    return manifest


def _check_hygiene(path: Path, manifest: dict[str, Any]) -> None:
    """``settings.hygiene`` and each shard's ``hygiene`` record (absent together: written before they
    were recorded), checked against each other and the shard's rows and texts."""
    hygiene = manifest["settings"].get("hygiene")
    shards = manifest["shards"]
    if hygiene is None:
        if any("hygiene" in f for e in shards for f in e["files"].values() if isinstance(f, dict)):
            raise _bad(path, "shards record hygiene but 'settings.hygiene' is missing")
        return
    if not isinstance(hygiene, dict) or set(hygiene) != {"keep_outliers", "outlier_factor", "exclude_positions"}:
        raise _bad(path, "'settings.hygiene' is not an object with keep_outliers, outlier_factor, exclude_positions")
    factor, positions = hygiene["outlier_factor"], hygiene["exclude_positions"]
    if not isinstance(hygiene["keep_outliers"], bool):
        raise _bad(path, "'settings.hygiene.keep_outliers' is not true / false")
    if isinstance(factor, bool) or not isinstance(factor, int | float) or not factor > 1:
        raise _bad(path, f"'settings.hygiene.outlier_factor' is {factor!r}, not a number above 1")
    if positions is not None and (not isinstance(positions, list) or not all(
            isinstance(p, int) and not isinstance(p, bool) for p in positions)):
        raise _bad(path, "'settings.hygiene.exclude_positions' is not a list of integers or null")
    reasons = set()
    if not hygiene["keep_outliers"] and manifest["settings"].get("granularity") not in ("first_token", "last_token"):
        reasons.add("outlier")
    if positions:
        reasons.add("position")
    for k, entry in enumerate(shards):
        first, n = entry["first_text"], entry["n_texts"]
        for point, f in entry["files"].items():
            where = f"shard {k} of {point!r}"
            record = f.get("hygiene")
            if not isinstance(record, dict) or not _is_count(record.get("rows_before")) or not isinstance(
                    record.get("excluded"), list):
                raise _bad(path, f"{where} has no 'hygiene' object with 'rows_before' and 'excluded'")
            if record["rows_before"] < f["rows"]:
                raise _bad(path, f"{where}: hygiene 'rows_before' {record['rows_before']} < its {f['rows']} rows")
            for item in record["excluded"]:
                if (not isinstance(item, list) or len(item) != 3 or not _is_count(item[0]) or not _is_count(item[1])
                        or item[2] not in ("outlier", "position")):
                    raise _bad(path, f"{where}: hygiene entry {str(item)[:60]} is not [text, position, reason]")
                if not first <= item[0] < first + n:
                    raise _bad(path, f"{where}: hygiene names text {item[0]}, outside the shard's texts "
                                     f"{first}..{first + n - 1}")
                if item[2] not in reasons:
                    raise _bad(path, f"{where}: a token left out as {item[2]!r}, which settings.hygiene does not do")
            if record["rows_before"] > f["rows"] and not record["excluded"]:
                raise _bad(path, f"{where}: {record['rows_before'] - f['rows']} rows left out but no token excluded")


def collect_activation_shards(
    split: Any,
    texts: Iterable[str],
    out_dir: str | os.PathLike[str],
    *,
    granularity: str = "token",
    reduce: str = "mean",
    shard_texts: int = 1024,
    batch_size: int = 32,
    dtype: Any = None,
    resume: bool = True,
    progress: bool | None = None,
    keep_outliers: bool = False,
    outlier_factor: float = 10.0,
    exclude_positions: Iterable[int] | None = None,
) -> dict[str, ActivationShards]:
    """Collect activations of every split point of ``split`` over ``texts`` into shards on disk.

    Parameters
    ----------
    split:
        A :class:`~interpreto_core.concepts.SplitModel`.
    texts:
        Any iterable of strings (read lazily: a generator over a file works).
    out_dir:
        Folder of the shards: ``<out_dir>/<split point>/shard-00000.safetensors`` (tensors
        ``values (N, H)``, ``text_index (N,)`` = the text's position in ``texts``, ``spans (N, 2)``;
        the units' strings in the metadata) and ``<out_dir>/manifest.json``.
    granularity, reduce, batch_size, dtype:
        As in :func:`~interpreto_core.concepts.collect_activations` (``dtype`` default float32).
    shard_texts:
        Texts per shard: memory holds this many texts' activations at a time.
    resume:
        If ``out_dir`` holds a manifest from an interrupted collection with the same settings,
        skip the texts already collected (checked by a checksum of those texts) and go on.
    progress:
        Progress bar over texts (texts/s).
    keep_outliers, outlier_factor, exclude_positions:
        Activation hygiene, as in :func:`~interpreto_core.concepts.collect_activations` (positions:
        integers only, so that the manifest can record them). The rule is decided per text, so shards
        hold the rows one collection over all texts would. Per-unit standardisation is not offered:
        each shard would use its own statistics (``fit_from_shards`` centres and scales globally).

    Returns
    -------
    ``{split point: ActivationShards}``.
    """
    import torch
    from safetensors.torch import save_file
    from tqdm.auto import tqdm

    from ..concepts import collect_activations

    dtype = torch.float32 if dtype is None else dtype
    if not isinstance(shard_texts, int) or shard_texts < 1:
        raise InputError(f"shard_texts must be a positive integer, got {shard_texts!r}")
    if isinstance(texts, str):
        raise InputError("texts must be an iterable of strings, not one string")
    if not isinstance(keep_outliers, bool):
        raise InputError(f"keep_outliers must be True or False, got {keep_outliers!r}")
    if isinstance(outlier_factor, bool) or not isinstance(outlier_factor, int | float) or not outlier_factor > 1:
        raise InputError(f"outlier_factor must be a number above 1, got {outlier_factor!r}")
    if exclude_positions is not None:
        if callable(exclude_positions) or isinstance(exclude_positions, str | int):
            raise InputError("exclude_positions must be a sequence of integer token positions such as (0,) for "
                             "shards (a callable cannot be recorded in the manifest)")
        exclude_positions = list(exclude_positions)
        if not all(isinstance(p, int) and not isinstance(p, bool) for p in exclude_positions):
            raise InputError(f"exclude_positions must hold integer token positions, got {exclude_positions!r}")
    root = Path(out_dir).expanduser()
    root.mkdir(parents=True, exist_ok=True)
    settings = {
        "format": 1, "granularity": granularity, "reduce": reduce, "dtype": str(dtype).removeprefix("torch."),
        "split_points": list(split.split_points), "model": type(split.model).__name__,
        "hygiene": {"keep_outliers": keep_outliers, "outlier_factor": float(outlier_factor),
                    "exclude_positions": exclude_positions},
    }
    manifest: dict[str, Any] = {"settings": settings, "n_texts": 0, "texts_crc32": 0, "shards": []}
    path = root / MANIFEST
    if path.exists():
        if not resume:
            raise InputError(f"{str(root)!r} already holds activation shards; pass resume=True or use another folder")
        old = _read_manifest(root)
        if old.get("settings") != settings:
            raise InputError(
                f"{str(root)!r} holds shards collected with other settings ({old.get('settings')}); "
                "use another folder or the same settings"
            )
        manifest = old
    skip, crc = manifest["n_texts"], 0
    for point in split.split_points:
        (root / _point_dir(point)).mkdir(exist_ok=True)
    with tqdm(desc="activations", unit="text", dynamic_ncols=True,
              disable=None if progress is None else not progress) as bar:
        chunk: list[str] = []
        position = 0
        skipped: list[str] = []
        sizes = [e["n_texts"] for e in manifest["shards"]]

        def flush() -> None:
            nonlocal chunk
            acts = collect_activations(split, chunk, granularity=granularity, reduce=reduce,
                                       batch_size=batch_size, dtype=dtype, progress=False,
                                       keep_outliers=keep_outliers, outlier_factor=outlier_factor,
                                       exclude_positions=exclude_positions)
            index = len(manifest["shards"])
            first = manifest["n_texts"]
            entry: dict[str, Any] = {"index": index, "first_text": first, "n_texts": len(chunk), "files": {}}
            for point, a in acts.items():
                name = f"{_point_dir(point)}/shard-{index:05d}.safetensors"
                tmp = root / f"{name}.{uuid.uuid4().hex}.tmp"
                save_file(
                    {"values": a.values.contiguous(),
                     "text_index": torch.from_numpy(a.text_index.astype("int64") + first),
                     "spans": torch.from_numpy(a.spans.astype("int64"))},
                    str(tmp), metadata={"units": json.dumps(a.units, ensure_ascii=False)},
                )
                with tmp.open("rb") as f:
                    os.fsync(f.fileno())
                os.replace(tmp, root / name)
                hy = a.hygiene
                excluded = [] if hy is None else [[int(t) + first, int(p), str(r)] for t, p, r in zip(
                    hy.text_index, hy.positions, hy.reasons, strict=True)]
                entry["files"][point] = {"file": name, "rows": len(a), "hidden": a.hidden_size, "hygiene": {
                    "rows_before": len(a) if hy is None else int(hy.rows_before), "excluded": excluded}}
            manifest["shards"].append(entry)
            manifest["n_texts"] = first + len(chunk)
            manifest["texts_crc32"] = zlib.crc32("\n".join(chunk).encode(), manifest["texts_crc32"])
            _write_json(path, manifest)  # the shard exists before the manifest names it
            bar.update(len(chunk))
            chunk = []

        for text in texts:
            if not isinstance(text, str):
                raise InputError(f"text {position} is a {type(text).__name__}, not a string")
            if position < skip:  # collected by an interrupted run: check it is the same data
                skipped.append(text)
                position += 1
                if len(skipped) == sizes[0]:
                    crc = zlib.crc32("\n".join(skipped).encode(), crc)
                    skipped, sizes = [], sizes[1:]
                if position == skip:
                    if crc != manifest["texts_crc32"]:
                        raise InputError(
                            f"the first {skip} texts differ from those already collected in {str(root)!r}; "
                            "use another folder"
                        )
                    bar.update(skip)
                continue
            chunk.append(text)
            position += 1
            if len(chunk) == shard_texts:
                flush()
        if position < skip:
            raise InputError(f"{str(root)!r} already holds {skip} texts, but only {position} were given")
        if chunk:
            flush()
    return {point: ActivationShards(root, split_point=point) for point in split.split_points}


class ActivationShards:
    """The activation shards of one split point in a folder written by :func:`collect_activation_shards`.

    Parameters
    ----------
    folder:
        The ``out_dir`` of the collection.
    split_point:
        Which split point (needed only when several were collected).
    """

    def __init__(self, folder: str | os.PathLike[str], *, split_point: str | None = None) -> None:
        self.folder = Path(folder).expanduser()
        path = self.folder / MANIFEST
        if not path.is_file():
            raise InputError(f"{str(self.folder)!r} has no {MANIFEST}: not a folder of activation shards")
        self.manifest = _read_manifest(self.folder)
        points = self.manifest["settings"]["split_points"]
        if split_point is None:
            if len(points) != 1:
                raise InputError(f"{str(self.folder)!r} holds several split points ({', '.join(points)}); choose one")
            split_point = points[0]
        if split_point not in points:
            raise InputError(f"no split point {split_point!r} in {str(self.folder)!r}; it has {', '.join(points)}")
        self.split_point = split_point
        self.files = [s["files"][split_point] for s in self.manifest["shards"]]
        self.granularity: str = self.manifest["settings"]["granularity"]
        widths = {f["hidden"] for f in self.files}
        if len(widths) > 1:
            raise _bad(path, f"the shards of {split_point!r} disagree on the hidden size ({sorted(widths)})")
        for i in range(len(self.files)):
            with self._open(i):  # every shard is there and holds what the manifest says
                pass

    def _open(self, i: int) -> Any:
        """Shard ``i`` opened with ``safe_open``, its tensors' shapes checked against the manifest."""
        from safetensors import safe_open

        entry = self.files[i]
        path = self.folder / entry["file"]
        where = f"shard {i} ({str(path)!r}) of {str(self.folder / MANIFEST)!r}"
        if not path.resolve().is_relative_to(self.folder.resolve()):  # checked again: links may change
            raise InputError(f"{where} leads outside the folder: refused")
        if not path.is_file():
            raise InputError(f"{where} is missing")
        try:
            f = safe_open(str(path), framework="pt")
        except Exception as exc:  # noqa: BLE001 - safetensors raises its own error types
            raise InputError(f"{where} is not a readable safetensors file: {str(exc)[:200]}") from None
        rows, hidden = entry["rows"], entry["hidden"]
        expected = {"values": [rows, hidden], "text_index": [rows], "spans": [rows, 2]}
        keys = set(f.keys())
        if not set(expected) <= keys:
            raise InputError(f"{where} lacks tensors {sorted(set(expected) - keys)}")
        for key, shape in expected.items():
            got = list(f.get_slice(key).get_shape())
            if got != shape:
                raise InputError(f"{where}: {key!r} has shape {tuple(got)}, the manifest says {tuple(shape)}")
        return f

    def __len__(self) -> int:
        return sum(f["rows"] for f in self.files)

    @property
    def hygiene_settings(self) -> dict[str, Any] | None:
        """The hygiene options of the collection (``keep_outliers``, ``outlier_factor``,
        ``exclude_positions``); None for a folder written before they were recorded."""
        return self.manifest["settings"].get("hygiene")

    def excluded(self) -> list[tuple[int, int, str]]:
        """Every token left out at this split point: ``(text, position, reason)`` over all shards."""
        return [(int(t), int(p), str(r)) for f in self.files
                for t, p, r in (f.get("hygiene") or {}).get("excluded", [])]

    def hygiene_rule(self) -> Any:
        """The :class:`~interpreto_core.concepts._hygiene.HygieneRule` of these rows (what a learner
        fitted on them records); None when the manifest predates hygiene records."""
        from ..concepts._hygiene import HygieneRule

        settings = self.hygiene_settings
        if settings is None:
            return None
        one_position = self.granularity in ("first_token", "last_token")
        positions = settings["exclude_positions"]
        return HygieneRule(
            factor=None if settings["keep_outliers"] or one_position else float(settings["outlier_factor"]),
            exclude_positions=None if positions is None else tuple(positions),
            exclude_description=None if positions is None else repr(tuple(positions)),
            granularity=self.granularity, split_point=self.split_point)

    @property
    def n_shards(self) -> int:
        return len(self.files)

    @property
    def hidden_size(self) -> int:
        if not self.files:
            raise InputError(f"{str(self.folder)!r} holds no shard yet")
        return int(self.files[0]["hidden"])

    @property
    def nbytes(self) -> int:
        """Bytes of activation values over all shards."""
        return sum(os.path.getsize(self.folder / f["file"]) for f in self.files)

    def shard(self, i: int) -> dict[str, Any]:
        """Shard ``i``: ``values``, ``text_index``, ``spans`` tensors and ``units`` strings."""
        with self._open(i) as f:
            out: dict[str, Any] = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118
            try:
                units = json.loads((f.metadata() or {}).get("units", "[]"))
            except (ValueError, RecursionError):
                units = None
            if not isinstance(units, list) or not all(isinstance(u, str) for u in units):
                raise InputError(f"shard {i} of {str(self.folder)!r}: its 'units' metadata is not a list of strings")
            out["units"] = tuple(units)
        return out

    def values(self, i: int) -> Any:
        """The ``(N, H)`` activation values of shard ``i`` (float32)."""
        with self._open(i) as f:
            return f.get_tensor("values").float()

    def load(self) -> Any:
        """All rows as one ``(N, H)`` float32 tensor (only when they fit in RAM)."""
        import torch

        return torch.cat([self.values(i) for i in range(self.n_shards)]) if self.files else torch.empty(0, 0)

    def sample(self, n: int, *, seed: int = 0) -> Any:
        """``n`` rows drawn uniformly without replacement, reading one shard at a time."""
        import torch

        total = len(self)
        if not 0 < n <= total:
            raise InputError(f"cannot sample {n} rows from {total}")
        pick = torch.randperm(total, generator=torch.Generator().manual_seed(seed))[:n].sort().values
        out, start = [], 0
        for i, f in enumerate(self.files):
            lo, hi = torch.searchsorted(pick, torch.tensor([start, start + f["rows"]]))
            if hi > lo:
                out.append(self.values(i)[pick[lo:hi] - start])
            start += f["rows"]
        return torch.cat(out)

    def batches(
        self, batch_size: int, *, shuffle: bool = True, seed: int = 0, buffer_shards: int = 4, drop_last: bool = False
    ) -> Iterator[Any]:
        """Mini-batches ``(batch_size, H)`` over every row once (one epoch).

        With ``shuffle``, shards are visited in a random order and rows are shuffled within a
        buffer of ``buffer_shards`` shards: memory holds at most that many shards.
        """
        import torch

        if not isinstance(batch_size, int) or batch_size < 1:
            raise InputError(f"batch_size must be a positive integer, got {batch_size!r}")
        gen = torch.Generator().manual_seed(seed)
        order = torch.randperm(self.n_shards, generator=gen).tolist() if shuffle else list(range(self.n_shards))
        carry = None
        for g in range(0, len(order), max(1, buffer_shards)):
            parts = [self.values(i) for i in order[g : g + buffer_shards]]
            if carry is not None:
                parts.insert(0, carry)
            buf = torch.cat(parts)
            if shuffle:
                buf = buf[torch.randperm(buf.shape[0], generator=gen)]
            full = buf.shape[0] // batch_size * batch_size
            for s in range(0, full, batch_size):
                yield buf[s : s + batch_size]
            carry = buf[full:] if full < buf.shape[0] else None
        if carry is not None and not drop_last:
            yield carry

    def __repr__(self) -> str:
        return (f"ActivationShards({str(self.folder)!r}, split_point={self.split_point!r}, rows={len(self)}, "
                f"shards={self.n_shards})")


def fit_from_shards(
    learner: Any,
    shards: ActivationShards,
    *,
    buffer_shards: int = 4,
    progress: bool | None = None,
    device: str | Any | None = None,
) -> Any:
    """Train a sparse-autoencoder learner (``SAELearner``: ``sae``, ``topk_sae``, ...) from shards.

    The same training as ``learner.fit(activations)`` — activations centred by their mean and
    scaled so that their mean squared norm is the hidden size, Adam with gradient clipping at 1,
    ``learner.epochs`` epochs of ``learner.batch_size`` rows — but the rows come from
    :meth:`ActivationShards.batches`, so they need not fit in RAM. The mean and scale come from a
    first streaming pass. Other learners (PCA, NMF, ...) fit in RAM: use ``shards.sample(n)``.
    ``device`` (e.g. ``"cuda"``): where the autoencoder trains (batches are copied there one at a
    time); the fitted learner stays there.

    Returns the fitted learner (``save``/``encode`` as usual).
    """
    import torch

    from ..concepts import SAELearner

    if not isinstance(learner, SAELearner):
        raise InputError(
            f"fit_from_shards trains sparse autoencoders (SAELearner); {type(learner).__name__} fits in RAM: "
            "use learner.fit(shards.sample(n))"
        )
    if len(shards) < 2:
        raise InputError("the shards hold fewer than 2 rows")
    hidden = shards.hidden_size
    total = torch.zeros(hidden, dtype=torch.float64)
    for i in range(shards.n_shards):
        total += shards.values(i).double().sum(0)
    mean = (total / len(shards)).float() if learner.center else torch.zeros(hidden)
    sq = 0.0
    for i in range(shards.n_shards):
        sq += float((shards.values(i) - mean).double().pow(2).sum())
    scale = float((hidden / max(sq / len(shards), 1e-12)) ** 0.5)
    torch.manual_seed(learner.seed)
    start = time.perf_counter()

    def epoch_batches(epoch: int) -> Iterator[Any]:
        return shards.batches(learner.batch_size, seed=learner.seed * 100_003 + epoch, buffer_shards=buffer_shards)

    learner.fit_batches(epoch_batches, mean=mean, scale=scale, device=device, progress=progress,
                        init_rows=shards.sample(min(len(shards), 4096), seed=learner.seed),
                        desc=f"fit {learner.name} (shards)")  # ends by reading the last epoch's totals: synced
    learner.fit_seconds = time.perf_counter() - start
    learner.hygiene = shards.hygiene_rule()  # what the rows left out: concept_importance re-applies it
    learner.fit_rows = len(shards)
    learner.fitted = True
    return learner


def _texts_of(rows: Iterable[Any]) -> Iterator[str]:
    """Texts of :func:`read_rows` rows (bad rows skipped, with a warning; so are text pairs and chat
    messages: activations are collected from plain texts)."""
    import warnings

    from ._explain import BadRowWarning, valid_rows

    for r in valid_rows(rows, []):
        if r.input is not None:
            where = f"line {r.line}" if r.line is not None else f"id {r.id!r}"
            warnings.warn(f"skipped {where}: a text pair or chat messages, not a plain text", BadRowWarning,
                          stacklevel=2)
            continue
        yield r.text


def read_texts(source: Any, **read_options: Any) -> Iterator[str]:
    """The texts of a data file or iterable, for :func:`collect_activation_shards` (bad rows skipped)."""
    from ._read import read_rows

    return _texts_of(read_rows(source, **read_options))


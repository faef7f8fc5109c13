"""Explain a data set on a Ray cluster (``pip install 'interpreto-core[ray]'``), through Ray Data.

The job of :func:`~interpreto_core.dataset.explain_dataset`, spread over Ray workers:

* the driver reads the data set (bad rows reported with their line number), drops the texts
  already finished in ``out``, and hands the rest to Ray Data as a data set of rows;
* ``map_batches`` runs a pool of actors; each loads the model once (from a loader callable or a
  local model folder) and explains ``chunk_size`` texts per call with every method, packed by
  length exactly as on one machine;
* each call writes its records to a part file named after the ids it holds
  (``<out>.parts/part-<first position>-<hash of ids>.jsonl``), through a temporary file renamed
  into place. A worker that dies is restarted by Ray and its batch retried: the retry rewrites the
  same part (same ids, same seeds, same results), so no row is duplicated;
* the driver merges the parts into ``out``, keeping one record per (id, method), and deletes them.

Only the driver's bookkeeping is central: the pending rows it hands to Ray and the set of finished
keys. The model, the forward passes and the results stay on the workers and the shared folder.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
import time
import uuid
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from .._errors import InputError
from .._loading import load_local_model
from ._explain import (
    BadRowWarning,
    DatasetRun,
    check_settings,
    explain_rows,
    make_records,
    method_specs,
    run_meta,
    valid_rows,
)
from ._read import BadRow, Column, Row, as_input, read_rows
from ._store import open_store, record_key

__all__ = ["explain_dataset_ray", "load_model"]

ModelSource = str | os.PathLike[str] | Callable[[], tuple[Any, Any]]


def _require_ray() -> Any:
    try:
        import ray
        import ray.data  # noqa: F401
    except ImportError as exc:
        raise InputError(
            "explain_dataset_ray needs Ray Data: pip install 'interpreto-core[ray]' (or 'ray[data]>=2.9'); "
            "on one machine, interpreto_core.dataset.explain_dataset needs no Ray"
        ) from exc
    return ray


def load_model(model: ModelSource, *, task: str | None = None) -> tuple[Any, Any]:
    """``(model, tokenizer)`` from a loader callable or a local model folder (``save_pretrained``;
    ``task`` may choose its model class, see :func:`~interpreto_core._loading.load_local_model`)."""
    if callable(model):
        loaded = model()
        if not (isinstance(loaded, tuple) and len(loaded) == 2):
            raise InputError("the model loader must return a (model, tokenizer) pair")
        return loaded
    if isinstance(model, str | os.PathLike):
        return load_local_model(os.fspath(model), task=task)
    raise InputError(
        f"model must be a local model folder or a callable returning (model, tokenizer), got {type(model).__name__}: "
        "each Ray worker loads the model itself, once"
    )


class _ExplainWorker:
    """A Ray Data actor: loads the model once, explains a batch of rows, writes one part file."""

    def __init__(
        self, *, model: ModelSource, specs: dict[str, dict[str, Any]], granularity: str, params: dict[str, Any],
        parts: str, task: str | None = None, contrast: Any = None,
    ) -> None:
        from .._attribution import Explainer

        model_obj, tokenizer = load_model(model, task=task)
        self.explainers = {
            name: Explainer(model_obj, tokenizer, method=name, granularity=granularity, task=task,
                            **{**params, **own, "progress": False})
            for name, own in specs.items()
        }
        self.parts = Path(parts)
        self.contrast = contrast

    def __call__(self, batch: dict[str, Any]) -> dict[str, Any]:
        rows = [
            Row(id=json.loads(i), text=str(t), line=int(line) if int(line) >= 0 else None, target=json.loads(g),
                contrast=json.loads(c), input=as_input(json.loads(x)))
            for i, t, line, g, c, x in zip(batch["id"], batch["text"], batch["line"], batch["target"],
                                           batch["contrast"], batch["input"], strict=True)
        ]
        records: list[dict[str, Any]] = []
        failures: dict[str, list[list[str]]] = {r_id: [] for r_id in batch["id"]}
        for name, explainer in self.explainers.items():
            for row, result in explain_rows(explainer, rows, self.contrast):
                if isinstance(result, str):
                    failures[json.dumps(row.id)].append([name, result])
                else:
                    records.append(make_records(row, name, result, self.contrast))
        ids = sorted(str(i) for i in batch["id"])
        digest = hashlib.sha1("\n".join(ids).encode()).hexdigest()[:16]
        name = f"part-{int(min(batch['pos'])):09d}-{digest}.jsonl"
        tmp = self.parts / f".{name}.{uuid.uuid4().hex}.tmp"
        with tmp.open("wb") as f:
            for rec in records:
                f.write(json.dumps(rec, ensure_ascii=False).encode("utf-8") + b"\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.parts / name)  # a retried batch replaces its part: never a duplicate
        return {"id": list(batch["id"]), "failures": [json.dumps(failures[i]) for i in batch["id"]]}


def _merge_parts(parts: Path, store: Any) -> int:
    """Append every finished part to the store (which skips keys it already holds)."""
    written = 0
    for part in sorted(parts.glob("part-*.jsonl")):
        with part.open("rb") as f:
            records = [json.loads(line) for line in f if line.endswith(b"\n")]
        written += store.write(records)
    return written


def explain_dataset_ray(
    model: ModelSource,
    source: str | os.PathLike[str] | Iterable[Any],
    *,
    method: str | None = None,
    methods: Sequence[str] | Mapping[str, Mapping[str, Any]] | None = None,
    out: str | os.PathLike[str] = "results.jsonl",
    granularity: str = "word",
    batch_size: int = 32,
    chunk_size: int = 64,
    num_workers: int = 2,
    cpus_per_worker: float = 1,
    resume: bool = True,
    overwrite: bool = False,
    keep_parts: bool = False,
    text_column: Column | Sequence[Column] | None = None,
    id_column: Column | None = None,
    target_column: Column | None = None,
    format: str | None = None,
    header: bool = True,
    progress: bool | None = None,
    ray_remote_args: Mapping[str, Any] | None = None,
    task: str | None = None,
    contrast: Any = None,
    pair_columns: Sequence[Column] | None = None,
    contrast_column: Column | None = None,
    **params: Any,
) -> DatasetRun:
    """Explain every text of a data set on Ray workers; same records as :func:`explain_dataset`.

    Call ``ray.init(address=...)`` first to use a cluster; otherwise a local Ray instance starts.
    On a cluster, ``out`` must be on storage every node can write (its parts folder is
    ``<out>.parts``).

    Parameters
    ----------
    model:
        A local model folder (``save_pretrained`` model + tokenizer) or a picklable callable
        returning ``(model, tokenizer)``; each worker calls it once.
    source, method, methods, out, granularity, batch_size, resume, overwrite, text_column,
    id_column, target_column, format, header, progress, task, contrast, pair_columns,
    contrast_column, **params:
        As in :func:`~interpreto_core.dataset.explain_dataset` (``out``: ``.jsonl`` or ``.parquet``).
        The task and score names are checked on the driver, before any worker starts.
    chunk_size:
        Texts per worker call (one part file each).
    num_workers:
        Actors in the pool, each with ``cpus_per_worker`` CPUs (and one copy of the model).
    keep_parts:
        Keep the part files after merging them into ``out``.
    ray_remote_args:
        Extra Ray options for the actors (e.g. ``{"num_gpus": 1}``). Ray restarts dead actors
        and retries their batches by default (``max_restarts=-1``, ``max_task_retries=-1``).
    """
    from tqdm.auto import tqdm

    ray = _require_ray()
    specs = method_specs(method, methods)
    for name, value in (("chunk_size", chunk_size), ("num_workers", num_workers), ("batch_size", batch_size)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise InputError(f"{name} must be a positive integer, got {value!r}")
    if not (callable(model) or isinstance(model, str | os.PathLike)):
        load_model(model)  # raises the explanation
    task = check_settings(specs, params, task=task, contrast=contrast, contrast_column=contrast_column)
    meta = run_meta(specs, granularity, params, task=task, contrast=contrast)
    store = open_store(out, meta=meta, resume=resume, overwrite=overwrite)
    parts = Path(str(store.path) + ".parts")
    start = time.perf_counter()
    bad: list[BadRow] = []
    failures: list[tuple[Any, str, str]] = []
    with store:
        if parts.exists():
            if resume:
                _merge_parts(parts, store)  # parts of an interrupted run
            shutil.rmtree(parts)
        parts.mkdir(parents=True)
        done = store.done()
        rows = read_rows(source, format=format, text_column=text_column, id_column=id_column,
                         target_column=target_column, header=header, pair_columns=pair_columns,
                         contrast_column=contrast_column)
        items: list[dict[str, Any]] = []
        already = 0
        for row in valid_rows(rows, bad):
            if all(record_key(row.id, name) in done for name in specs):
                already += 1
                continue
            items.append({"pos": len(items), "id": json.dumps(row.id), "text": row.text,
                          "line": -1 if row.line is None else row.line, "target": json.dumps(row.target),
                          "contrast": json.dumps(row.contrast), "input": json.dumps(row.input)})
        written = 0
        if items:
            if not ray.is_initialized():
                ray.init()  # a local instance; call ray.init(address=...) first for a cluster
            ds = ray.data.from_items(items, override_num_blocks=max(1, math.ceil(len(items) / chunk_size)))
            mapped = ds.map_batches(
                _ExplainWorker,
                fn_constructor_kwargs={
                    "model": model, "specs": specs, "granularity": granularity,
                    "params": {"batch_size": batch_size, **params}, "parts": str(parts),
                    "task": task, "contrast": contrast,
                },
                batch_size=chunk_size,
                batch_format="numpy",
                compute=ray.data.ActorPoolStrategy(size=num_workers),
                num_cpus=cpus_per_worker,
                **dict(ray_remote_args or {}),
            )
            with tqdm(total=len(items), desc="explain (ray)", unit="text", dynamic_ncols=True,
                      disable=None if progress is None else not progress) as bar:
                for batch in mapped.iter_batches(batch_size=None, batch_format="numpy"):
                    for i, fails in zip(batch["id"], batch["failures"], strict=True):
                        for name, message in json.loads(fails):
                            failures.append((json.loads(i), name, message))
                            warnings.warn(f"{name} could not explain id {json.loads(i)!r}: {message}",
                                          BadRowWarning, stacklevel=2)
                    bar.update(len(batch["id"]))
            written = _merge_parts(parts, store)
        if not keep_parts:
            shutil.rmtree(parts, ignore_errors=True)
    return DatasetRun(
        out=str(store.path), methods=tuple(specs), explained=len(items), already_done=already, records=written,
        bad_rows=tuple(bad), failures=tuple(failures), seconds=time.perf_counter() - start,
        discarded_partial=store.discarded_partial,
    )

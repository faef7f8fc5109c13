"""Explain a whole data set with one or more methods, streaming results to disk, resumably."""

from __future__ import annotations

import os
import time
import warnings
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

import attrs

from .._errors import InputError
from ._read import BadRow, Column, Row, count_rows, read_rows
from ._store import iter_chunks, open_store, record_key

__all__ = ["BadRowWarning", "DatasetRun", "explain_dataset", "method_specs", "run_meta"]


class BadRowWarning(UserWarning):
    """A row of the data set was skipped (unreadable, empty, duplicate id) or could not be explained."""


@attrs.frozen(kw_only=True)
class DatasetRun:
    """What a run of :func:`explain_dataset` did.

    ``explained``: texts explained by this run (by at least one method); ``already_done``: texts
    found finished in ``out`` and skipped; ``records``: records written by this run (one per text
    per method); ``bad_rows``: rows skipped with their line and reason; ``failures``: ``(id,
    method, message)`` for texts a method could not explain (e.g. no elements at that granularity).
    """

    out: str
    methods: tuple[str, ...]
    explained: int
    already_done: int
    records: int
    bad_rows: tuple[BadRow, ...]
    failures: tuple[tuple[Any, str, str], ...]
    seconds: float
    discarded_partial: bool = False

    @property
    def texts_per_second(self) -> float:
        return self.explained / self.seconds if self.seconds > 0 else float("nan")


def method_specs(
    method: str | None, methods: Sequence[str] | Mapping[str, Mapping[str, Any]] | None
) -> dict[str, dict[str, Any]]:
    """``{method: its own parameters}`` from ``method=`` or ``methods=`` (a list, or a dict of parameters)."""
    if (method is None) == (methods is None):
        raise InputError("give exactly one of method='lime' or methods=['lime', 'integrated_gradients']")
    if method is not None:
        return {method: {}}
    assert methods is not None
    if isinstance(methods, str):
        return {methods: {}}
    if isinstance(methods, Mapping):
        specs = {str(k): dict(v or {}) for k, v in methods.items()}
    else:
        specs = {str(m): {} for m in methods}
        if len(specs) != len(list(methods)):
            raise InputError(f"methods lists a method twice: {list(methods)}")
    if not specs:
        raise InputError("methods is empty")
    return specs


def run_meta(specs: Mapping[str, Mapping[str, Any]], granularity: str, params: Mapping[str, Any], *,
             task: str | None = None, contrast: Any = None) -> dict[str, Any]:
    """The settings a resumed run must share with the run it continues (the results depend on them).

    ``batch_size``, ``chunk_size`` and ``progress`` are left out: they change how texts are packed,
    not the results. ``task`` and ``contrast`` are recorded only when given, so that runs written
    before they existed resume as before.
    """
    import json

    ignored = ("batch_size", "chunk_size", "progress")
    shared = {k: v for k, v in params.items() if k not in ignored}
    methods = {name: {**shared, **{k: v for k, v in own.items() if k not in ignored}} for name, own in specs.items()}
    meta: dict[str, Any] = {"format": 1, "granularity": granularity,
                            "methods": json.loads(json.dumps(methods, default=str))}
    if task is not None:
        meta["task"] = task
    if contrast is not None:
        meta["contrast"] = json.loads(json.dumps(contrast, default=str))
    return meta


def check_settings(specs: Mapping[str, Mapping[str, Any]], params: Mapping[str, Any], *, task: str | None,
                   contrast: Any, contrast_column: Any) -> str | None:
    """Check the task and score names before any model work; returns the task's registered name.

    Unknown names raise ``InputError`` with the list of available ones; a score that needs a foil
    (``contrast``) with no contrast and no contrast column raises too.
    """
    from .._loading import score_name, task_name

    name = task_name(task) if task is not None else None
    for own in [params, *specs.values()]:
        for key in ("score", "mode"):
            if own.get(key) is None:
                continue
            rec = score_name(own[key])
            if getattr(rec.obj, "needs_foil", False) and contrast is None and contrast_column is None:
                raise InputError(f"score {rec.name!r} compares each target with a foil: pass contrast=<class or "
                                 "continuation> or a contrast_column")
    return name


def valid_rows(rows: Iterable[Row | BadRow], bad: list[BadRow]) -> Iterator[Row]:
    """Rows, with bad rows and duplicate ids reported (warning + ``bad``) and left out."""
    seen: dict[str, int | None] = {}
    for row in rows:
        if isinstance(row, BadRow):
            bad.append(row)
            warnings.warn(f"skipped {row}", BadRowWarning, stacklevel=3)
            continue
        key = record_key(row.id, "")[0]
        if key in seen:
            first = seen[key]
            at = f" (first at line {first})" if first else ""
            b = BadRow(line=row.line, reason=f"duplicate id {row.id!r}{at}")
            bad.append(b)
            warnings.warn(f"skipped {b}", BadRowWarning, stacklevel=3)
            continue
        seen[key] = row.line
        yield row


def explain_rows(explainer: Any, rows: list[Row], contrast: Any = None) -> list[tuple[Row, Any]]:
    """``(row, Explanation | error message)`` per row: one packed call; rows that break it are isolated.

    A row's own contrast replaces ``contrast``. Rows with a contrast and rows without are explained
    in separate calls (the score of a call follows whether it has a foil), in the rows' order.
    """
    foils = [r.contrast if r.contrast is not None else contrast for r in rows]
    with_foil = [f is not None for f in foils]
    if any(with_foil) and not all(with_foil):
        done: dict[int, tuple[Row, Any]] = {}
        for flag in (False, True):
            picked = [i for i, w in enumerate(with_foil) if w == flag]
            for i, pair in zip(picked, explain_rows(explainer, [rows[i] for i in picked], contrast), strict=True):
                done[i] = pair
        return [done[i] for i in range(len(rows))]
    targets = [r.target for r in rows]
    try:
        return list(zip(rows, explainer.explain(
            [r.value for r in rows], targets if any(t is not None for t in targets) else None,
            foils if any(with_foil) else None), strict=True))
    except InputError as exc:
        if len(rows) == 1:
            return [(rows[0], str(exc))]
    out: list[tuple[Row, Any]] = []
    for r in rows:  # find the culprit(s); the others are explained as before (seeds follow the text)
        out += explain_rows(explainer, [r], contrast)
    return out


def make_records(row: Row, method: str, expl: Any, contrast: Any = None) -> dict[str, Any]:
    """The stored record of one row explained by one method: ``contrast`` is the foil used (the
    row's, else the run's ``contrast``); ``input`` is kept only for a pair or chat messages."""
    rec = {"id": row.id, "line": row.line, "text": row.text, "method": method, "target": row.target,
           "contrast": row.contrast if row.contrast is not None else contrast, "task": expl.task,
           "explanation": expl.to_json()}
    if row.input is not None:
        rec["input"] = list(row.input) if isinstance(row.input, tuple) else row.input
    return rec


def explain_dataset(
    model: Any,
    tokenizer: Any,
    source: str | os.PathLike[str] | Iterable[Any],
    *,
    method: str | None = None,
    methods: Sequence[str] | Mapping[str, Mapping[str, Any]] | None = None,
    out: str | os.PathLike[str] = "results.jsonl",
    granularity: str = "word",
    batch_size: int | str = "auto",
    chunk_size: int = 256,
    resume: bool = True,
    overwrite: bool = False,
    text_column: Column | Sequence[Column] | None = None,
    id_column: Column | None = None,
    target_column: Column | None = None,
    format: str | None = None,
    header: bool = True,
    progress: bool | None = None,
    task: str | None = None,
    contrast: Any = None,
    pair_columns: Sequence[Column] | None = None,
    contrast_column: Column | None = None,
    **params: Any,
) -> DatasetRun:
    """Explain every text of a data set with one or more methods; records stream to ``out``.

    Texts are fed to :class:`~interpreto_core.Explainer` ``chunk_size`` at a time, so the engine
    packs the perturbed inputs / gradient points of many texts, sorted by length, into each
    forward pass. After each chunk its records are appended to ``out`` and ``fsync``-ed. Stochastic
    methods are seeded by ``(seed, text)``, so a result does not depend on the chunking, the batch
    size, or whether the run was resumed.

    Parameters
    ----------
    model, tokenizer:
        A HF model of any registered task (``interpreto methods --kind task``) and its tokenizer.
    source:
        A ``.csv``/``.tsv``/``.jsonl``/``.txt`` file or an iterable of texts (see :func:`read_rows`):
        texts, ``(text_a, text_b)`` pairs (``pair_columns``, or a JSON field holding two strings)
        or chat messages (a JSON field holding ``[{"role": ..., "content": ...}]``).
    method, methods:
        One method name, or several: a list of names, or ``{name: {its parameters}}`` (e.g.
        ``{"lime": {"n_samples": 200}, "integrated_gradients": {"n_steps": 50}}``).
    out:
        ``*.jsonl`` (one record per text per method: ``id``, ``line``, ``text``, ``method``,
        ``target``, ``contrast``, ``task``, ``explanation`` = ``Explanation.to_json()``, and
        ``input`` for a pair or chat messages), or ``*.parquet`` (a folder of parts, needs
        pyarrow). Read back with :func:`read_results`.
    granularity, batch_size:
        As in :class:`~interpreto_core.Explainer` (``batch_size``: rows per forward pass, default ``"auto"``).
    chunk_size:
        Texts per engine call and per write to disk (what an interruption can lose at most).
    resume:
        If ``out`` exists, keep its finished records and explain only the rest. A partial last
        line left by a crash is discarded. The run's settings must match the recorded ones
        (``<out>.meta.json``); recorded settings that cannot be read refuse the resume.
        One process writes ``out`` at a time: while a run holds ``<out>.lock`` another refuses.
    overwrite:
        Start ``out`` over (when ``resume=False``).
    text_column, id_column, target_column, format, header, pair_columns, contrast_column:
        How to read ``source`` (see :func:`read_rows`). Ids must be unique: the default id is the
        line number (files) or the position (iterables).
    progress:
        Progress bar over texts with the throughput (texts/s). Default: on a terminal.
    task:
        Force a registered task (as in :class:`~interpreto_core.Explainer`); default: the task
        that claims the model.
    contrast:
        The foil of every row that has none of its own (``contrast_column``): a class for
        classifiers, a continuation for LMs. Implies ``score="contrast"`` unless a score is given;
        rows with a foil and rows without are explained in separate engine calls.
    **params:
        ``score=``, engine options, task options (``max_new_tokens``, ``roles`` ...) and method
        parameters shared by every method (``seed``, ``n_samples``, ...).

    Returns
    -------
    A :class:`DatasetRun` summary. Bad rows and unexplainable texts are warned about
    (:class:`BadRowWarning`), listed there, and skipped.
    """
    from tqdm.auto import tqdm

    from .._attribution import Explainer

    specs = method_specs(method, methods)
    if not isinstance(chunk_size, int) or chunk_size < 1:
        raise InputError(f"chunk_size must be a positive integer, got {chunk_size!r}")
    task = check_settings(specs, params, task=task, contrast=contrast, contrast_column=contrast_column)
    explainers = {
        name: Explainer(model, tokenizer, method=name, granularity=granularity, task=task,
                        **{"batch_size": batch_size, **params, **own, "progress": False})
        for name, own in specs.items()
    }
    meta = run_meta(specs, granularity, params, task=task, contrast=contrast)
    bad: list[BadRow] = []
    failures: list[tuple[Any, str, str]] = []
    explained = already = written = 0
    start = time.perf_counter()
    rows = valid_rows(
        read_rows(source, format=format, text_column=text_column, id_column=id_column,
                  target_column=target_column, header=header, pair_columns=pair_columns,
                  contrast_column=contrast_column),
        bad,
    )
    store = open_store(out, meta=meta, resume=resume, overwrite=overwrite)  # locked until the block ends
    with store, tqdm(total=count_rows(source), desc="explain", unit="text", dynamic_ncols=True,
                     disable=None if progress is None else not progress) as bar:
        done = store.done()
        counts = {"already": 0}

        def pending() -> Iterator[Row]:
            for row in rows:
                if all(record_key(row.id, name) in done for name in explainers):
                    counts["already"] += 1
                    bar.update(1)
                else:
                    yield row

        for chunk in iter_chunks(pending(), chunk_size):
            records: list[dict[str, Any]] = []
            for name, explainer in explainers.items():
                todo = [r for r in chunk if record_key(r.id, name) not in done]
                for row, result in explain_rows(explainer, todo, contrast) if todo else []:
                    if isinstance(result, str):
                        failures.append((row.id, name, result))
                        where = f"line {row.line}" if row.line is not None else f"id {row.id!r}"
                        warnings.warn(f"{name} could not explain {where}: {result}", BadRowWarning, stacklevel=2)
                    else:
                        records.append(make_records(row, name, result, contrast))
            written += store.write(records)
            explained += len(chunk)
            bar.update(len(chunk))
        already = counts["already"]
        bar.total = bar.n
        bar.refresh()
    return DatasetRun(
        out=str(store.path), methods=tuple(specs), explained=explained, already_done=already, records=written,
        bad_rows=tuple(bad), failures=tuple(failures), seconds=time.perf_counter() - start,
        discarded_partial=store.discarded_partial,
    )


def read_results(path: str | os.PathLike[str], *, explanations: bool = True) -> Iterator[dict[str, Any]]:
    """The records of a results file or folder; ``explanation`` rebuilt as an :class:`Explanation`.

    ``explanations=False`` keeps the raw ``to_json()`` dicts (faster, no torch needed).
    """
    from ._store import read_records

    if not explanations:
        yield from read_records(path)
        return
    from .._explanation import Explanation

    for rec in read_records(path):
        yield rec | {"explanation": Explanation.from_json(rec["explanation"])}

"""Pipelines: a TOML file (or a dict) naming a model, a data set and steps from any plugin.

```toml
[model]
embedded = "sentiment"            # or: path = "./my-model-folder"  (+ task = "<registered task>", e.g. "seq2seq")

[data]
path = "reviews.tsv"              # CSV / TSV / JSONL, relative to this file; or: texts = ["...", "..."]
column = "sentence"               # or: pair_columns = ["premise", "hypothesis"] (text pairs)
limit = 20

[[attribution]]
method = "lime"                   # a registered method, or:
# recipe = { perturbator = "sobol", aggregator = "lime_regression" }
granularity = "word"
params = { n_samples = 100 }      # method, engine and task options (max_new_tokens, roles ...)
# task = "...", score = "probability", contrast = 0, targets = ...   (optional, as in explain())

[[metric]]
name = "deletion"

[[concepts]]                      # handled by interpreto_core.concepts (see docs/pipelines.md)
split = 3
learner = "nmf"
```

Everything is validated before any model is loaded; errors name the file, the key and the choices.
"""

from __future__ import annotations

import csv
import json
import time
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs

from ._errors import InputError, InterpretoError, PipelineError, UnknownNameError
from ._parts import AttributionRecipe
from ._registry import Registry, get_registry

__all__ = ["Pipeline", "PipelineError", "PipelineResult", "run_pipeline", "EMBEDDED_MODELS"]

EMBEDDED_MODELS = ("sentiment", "smollm2")
#: the task of each embedded model
EMBEDDED_TASKS = {"sentiment": "sequence_classification", "smollm2": "causal_lm"}
_ENGINE_PARAMS = ("batch_size", "seed", "mode", "baseline", "reduction", "pooling", "max_new_tokens",
                  "completeness_delta", "progress", "layer", "layer_units")
_TOP_KEYS = {"model", "data", "attribution", "metric", "concepts", "output", "title"}


def _fail(source: str, key: str, msg: str) -> PipelineError:
    return PipelineError(f"{source}: {key}: {msg}")


def _check_keys(source: str, where: str, table: Mapping[str, Any], allowed: set[str]) -> None:
    unknown = sorted(set(table) - allowed)
    if unknown:
        raise _fail(source, where, f"unknown key(s) {', '.join(unknown)}; allowed: {', '.join(sorted(allowed))}")


@attrs.frozen(kw_only=True)
class ModelSpec:
    """The model: a local folder or an embedded model; ``task``: the registered task asked for
    (``kind`` keeps the former ``kind =`` value as given)."""

    path: str | None = None
    embedded: str | None = None
    kind: str | None = None
    task: str | None = None

    @property
    def known_task(self) -> str | None:
        """The task asked for, else the embedded model's, else the one its ``config.json`` tells."""
        if self.task is not None:
            return self.task
        if self.embedded is not None:
            return EMBEDDED_TASKS.get(self.embedded)
        from ._loading import task_of_folder

        return task_of_folder(str(self.path)) if self.path else None

    def load(self) -> tuple[Any, Any]:
        if self.embedded == "sentiment":
            from .zoo import sentiment_classifier

            return sentiment_classifier()
        if self.embedded == "smollm2":
            from .zoo import causal_lm

            return causal_lm()
        from ._loading import load_local_model

        return load_local_model(str(self.path), task=self.task)


@attrs.frozen(kw_only=True)
class DataSpec:
    """The inputs: ``texts`` given in the file (strings, ``(text_a, text_b)`` pairs, chat
    messages), or a data file's ``column`` (or its two ``pair_columns``)."""

    texts: tuple[Any, ...] = ()
    path: str | None = None
    column: str | None = None
    pair_columns: tuple[str, str] | None = None
    limit: int | None = None

    def load(self, source: str) -> list[Any]:
        if self.path is None:
            texts = list(self.texts)
        else:
            texts = read_texts(Path(self.path), column=self.column, pair_columns=self.pair_columns, source=source)
        return texts[: self.limit] if self.limit else texts


def read_texts(path: Path, *, column: str | None, pair_columns: tuple[str, str] | None = None,
               source: str = "data") -> list[Any]:
    """Inputs of a CSV / TSV / JSONL file.

    ``column`` names the text field (default: the first). In JSONL the field may hold a
    ``[text_a, text_b]`` pair or chat messages ``[{"role": ..., "content": ...}]``.
    ``pair_columns`` names two fields read as a ``(text_a, text_b)`` pair.
    """
    suffix = path.suffix.lower()
    texts: list[Any] = []
    if suffix == ".jsonl":
        with path.open(encoding="utf-8") as f:
            for line_no, line in enumerate(f, start=1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise _fail(source, "data.path", f"{path.name} line {line_no} is not JSON: {exc}") from exc
                if not isinstance(row, dict) or not row:
                    raise _fail(source, "data.path", f"{path.name} line {line_no} is not a JSON object with fields")
                where = f"{path.name} line {line_no}"
                if pair_columns is not None:
                    missing = [k for k in pair_columns if k not in row]
                    if missing:
                        raise _fail(source, "data.pair_columns", f"{where} has no field {missing[0]!r}")
                    texts.append(_pair(tuple(str(row[k]) for k in pair_columns), source, where))
                    continue
                key = column or next(iter(row))
                if key not in row:
                    raise _fail(source, "data.column", f"{where} has no field {key!r}")
                value = row[key]
                texts.append(_structured(value, source, where) if isinstance(value, list) else str(value))
        return texts
    if suffix not in (".csv", ".tsv"):
        raise _fail(source, "data.path", f"unsupported file type {suffix!r}; use .csv, .tsv or .jsonl")
    with path.open(encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f, delimiter="\t" if suffix == ".tsv" else ",")
        fields = reader.fieldnames or []
        if pair_columns is not None:
            for key in pair_columns:
                if key not in fields:
                    raise _fail(source, "data.pair_columns",
                                f"{key!r} is not a column of {path.name}; columns: {', '.join(fields)}")
            a, b = pair_columns
            return [(row[a], row[b]) for row in reader if (row.get(a) or "").strip() and (row.get(b) or "").strip()]
        key = column or (fields[0] if fields else None)
        if key not in fields:
            raise _fail(source, "data.column",
                        f"{column!r} is not a column of {path.name}; columns: {', '.join(fields)}")
        texts = [row[key] for row in reader if row.get(key)]
    return texts


def _pair(value: tuple[str, ...], source: str, where: str) -> tuple[str, str]:
    if len(value) != 2 or not all(isinstance(t, str) and t.strip() for t in value):
        raise _fail(source, "data", f"{where}: a text pair is two non-empty strings, got {list(value)!r:.80}")
    return value[0], value[1]


def _structured(value: list[Any], source: str, where: str) -> Any:
    """A list-valued input: chat messages (a list of role/content tables) or a pair of two strings."""
    if value and all(isinstance(m, Mapping) for m in value):
        for k, m in enumerate(value):
            if set(m) - {"role", "content"} or not all(isinstance(m.get(f), str) for f in ("role", "content")):
                raise _fail(source, "data", f"{where}: chat message {k} must be {{ role = '...', content = '...' }}, "
                            f"got {dict(m)!r:.80}")
        return [dict(m) for m in value]
    if len(value) == 2 and all(isinstance(t, str) for t in value):
        return _pair(tuple(value), source, where)
    raise _fail(source, "data", f"{where}: an input is a text, a [text_a, text_b] pair or chat messages "
                f"[{{ role = '...', content = '...' }}], got {value!r:.80}")


@attrs.frozen(kw_only=True)
class AttributionStep:
    name: str
    method: str | AttributionRecipe
    granularity: str = "word"
    targets: Any = None
    params: dict[str, Any] = attrs.field(factory=dict)
    task: str | None = None
    score: str | None = None
    contrast: Any = None


@attrs.frozen(kw_only=True)
class MetricStep:
    name: str
    params: dict[str, Any] = attrs.field(factory=dict)


@attrs.frozen(kw_only=True)
class PipelineResult:
    """Where a run wrote its outputs, and what it computed."""

    out_dir: Path
    report: Path
    results: Path
    plots: tuple[Path, ...]
    explanations: dict[str, list[Any]]
    metrics: dict[str, dict[str, Any]]
    concepts: list[dict[str, Any]]
    seconds: float
    explorer: Path | None = None  # the interactive page of every explanation (None without attribution steps)


@attrs.frozen(kw_only=True)
class Pipeline:
    """A validated pipeline. Build with :meth:`from_toml` / :meth:`from_dict`, run with :meth:`run`."""

    model: ModelSpec
    data: DataSpec
    attributions: tuple[AttributionStep, ...] = ()
    metrics: tuple[MetricStep, ...] = ()
    concepts: tuple[Mapping[str, Any], ...] = ()
    title: str = "interpreto pipeline"
    out_dir: str | None = None
    source: str = "<pipeline>"

    # -- building -----------------------------------------------------------------------------------
    @classmethod
    def from_toml(cls, path: str | Path, *, registry: Registry | None = None,
                  overrides: Mapping[str, Any] | None = None) -> Pipeline:
        """Read and validate a pipeline file (``overrides`` replaces top-level tables, e.g. the model)."""
        path = Path(path)
        if not path.is_file():
            raise PipelineError(f"{path}: no such pipeline file")
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise PipelineError(f"{path}: not valid TOML: {exc}") from exc
        data.update(overrides or {})
        return cls.from_dict(data, registry=registry, source=str(path), base_dir=path.parent)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, registry: Registry | None = None, source: str = "<pipeline>",
                  base_dir: str | Path = ".") -> Pipeline:
        """Validate a pipeline given as a dict (the TOML structure)."""
        reg = registry or get_registry()
        base = Path(base_dir)
        _check_keys(source, "top level", data, _TOP_KEYS)
        model = _model_spec(data.get("model"), source, base, reg)
        texts = _data_spec(data.get("data"), source, base)
        attributions = tuple(
            _attribution_step(step, f"attribution[{i}]", source, reg, model=model)
            for i, step in enumerate(_list(data, "attribution"))
        )
        names = [s.name for s in attributions]
        if len(set(names)) != len(names):
            raise _fail(source, "attribution", f"two steps share a name ({names}); set name = '...' on one")
        metrics = tuple(_metric_step(step, f"metric[{i}]", source, reg) for i, step in enumerate(_list(data, "metric")))
        if metrics and not attributions:
            raise _fail(source, "metric", "metrics score attributions: add an [[attribution]] step")
        concepts = tuple(_list(data, "concepts"))
        if concepts and (texts.pair_columns is not None or not all(isinstance(t, str) for t in texts.texts)):
            raise _fail(source, "concepts", "concept steps learn from plain texts; [data] gives text pairs or chat "
                        "messages")
        if concepts:
            from .concepts.pipeline import validate_concept_step

            for i, step in enumerate(concepts):
                validate_concept_step(step, key=f"concepts[{i}]", source=source, registry=reg)
        if not (attributions or concepts):
            raise _fail(source, "top level", "no steps: add [[attribution]] and/or [[concepts]] tables")
        output = data.get("output", {})
        _check_keys(source, "output", output, {"dir"})
        return cls(model=model, data=texts, attributions=attributions, metrics=metrics, concepts=concepts,
                   title=str(data.get("title", "interpreto pipeline")), out_dir=output.get("dir"), source=source)

    # -- running --------------------------------------------------------------------------------------
    def run(self, out_dir: str | Path | None = None, *, progress: bool | None = None) -> PipelineResult:
        """Load the model, run every step, write ``report.html``, ``results.json`` and plots into ``out_dir``."""
        from ._attribution import explain
        from ._safe_text import html_text
        from .metrics import evaluate
        from .visualization import _page, interactive_html, page_body, plot_curves, report_html

        start = time.perf_counter()
        out = Path(out_dir or self.out_dir or "interpreto-out")
        out.mkdir(parents=True, exist_ok=True)
        texts = self.data.load(self.source)
        if not texts:
            raise _fail(self.source, "data", "the data set has no texts")
        if self.concepts and not all(isinstance(t, str) for t in texts):
            raise _fail(self.source, "concepts", "concept steps learn from plain texts; this data holds text pairs or "
                        "chat messages")
        model, tokenizer = self.model.load()
        explanations: dict[str, list[Any]] = {}
        for step in self.attributions:
            params = dict(step.params)
            if progress is not None:
                params.setdefault("progress", progress)
            if step.score is not None:
                params["score"] = step.score
            explanations[step.name] = explain(model, tokenizer, texts, method=step.method,
                                              granularity=step.granularity, targets=step.targets,
                                              task=step.task or self.model.task, contrast=step.contrast, **params)
        metrics: dict[str, dict[str, Any]] = {name: {} for name in explanations}
        for metric_step in self.metrics:
            for name, expls in explanations.items():
                metrics[name].update(evaluate(model, tokenizer, expls, metrics=[metric_step.name],
                                              **metric_step.params))
        plots = []
        for metric in ("insertion", "deletion"):
            curves = [metrics[m][metric] for m in metrics if metric in metrics[m]]
            if curves:
                path = out / f"{metric}_curves.png"
                plot_curves(curves, path=path)
                plots.append(path)
        sections = []
        explorer = None
        if explanations:
            # the static report (readable anywhere, no script, no link) names the interactive page: methods and
            # targets switched per input, exact scores on hover
            explorer = out / "explorer.html"
            explorer.write_text(interactive_html(explanations, title=self.title), encoding="utf-8")
            sections.append('<p class="itp-meta">Interactive view (switch methods and targets, exact scores on '
                            "hover): explorer.html, next to this report</p>")
            page = report_html(explanations, metrics={k: v for k, v in metrics.items() if v} or None,
                               plots=[p.read_bytes() for p in plots], title=self.title)
            sections.append(page_body(page))
        concept_results = []
        if self.concepts:
            from .concepts.pipeline import run_concept_step

            for i, concept_step in enumerate(self.concepts):
                html, summary = run_concept_step(concept_step, model=model, tokenizer=tokenizer, texts=texts,
                                                 out_dir=out, key=f"concepts[{i}]")
                sections.append(html)
                concept_results.append(summary)
        seconds = time.perf_counter() - start
        report = out / "report.html"
        footer = (f'<p class="itp-meta">{len(texts)} texts, {seconds:.1f} s. '
                  f"Pipeline: {html_text(self.source)}</p>")
        report.write_text(_page(self.title, "".join(sections) + footer), encoding="utf-8")
        results = out / "results.json"
        results.write_text(json.dumps({
            "pipeline": self.source,
            "texts": texts,
            "explanations": {k: [e.to_json() for e in v] for k, v in explanations.items()},
            "metrics": {m: {k: _metric_json(r) for k, r in d.items()} for m, d in metrics.items()},
            "concepts": concept_results,
            "seconds": seconds,
        }, indent=1), encoding="utf-8")
        return PipelineResult(out_dir=out, report=report, results=results, plots=tuple(plots),
                              explanations=explanations, metrics=metrics, concepts=concept_results, seconds=seconds,
                              explorer=explorer)


def _metric_json(result: Any) -> Any:
    to_json = getattr(result, "to_json", None)
    if callable(to_json):
        return to_json()
    return {"mean": float(getattr(result, "mean", float("nan")))}


def _list(data: Mapping[str, Any], key: str) -> list[Mapping[str, Any]]:
    value = data.get(key, [])
    if isinstance(value, Mapping):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, Mapping) for v in value):
        raise PipelineError(f"{key} must be a list of tables ([[{key}]])")
    return value


def _task(name: Any, source: str, key: str, reg: Registry) -> str:
    """A registered task name (former kinds are aliases); the error lists the available tasks."""
    from ._loading import task_name

    try:
        return task_name(name, reg)
    except InputError as exc:
        raise _fail(source, key, str(exc)) from None


def _model_spec(table: Any, source: str, base: Path, reg: Registry) -> ModelSpec:
    if not isinstance(table, Mapping):
        raise _fail(source, "model", "missing [model] table: give path = '<local folder>' or embedded = "
                    + " | ".join(repr(m) for m in EMBEDDED_MODELS))
    _check_keys(source, "model", table, {"path", "embedded", "kind", "task"})
    if ("path" in table) == ("embedded" in table):
        raise _fail(source, "model", "give exactly one of path = '<local folder>' or embedded = '<name>'")
    kind = table.get("kind")
    task = _task(table["task"], source, "model.task", reg) if "task" in table else None
    if kind is not None:
        from_kind = _task(kind, source, "model.kind", reg)
        if task is not None and task != from_kind:
            raise _fail(source, "model", f"kind = {kind!r} (task {from_kind!r}) and task = {task!r} disagree; "
                        "give task only")
        task = from_kind
    if "embedded" in table:
        if table["embedded"] not in EMBEDDED_MODELS:
            raise _fail(source, "model.embedded", f"unknown embedded model {table['embedded']!r}; choose "
                        + ", ".join(EMBEDDED_MODELS))
        own = EMBEDDED_TASKS[table["embedded"]]
        if task is not None and task != own:
            raise _fail(source, "model.task", f"the embedded model {table['embedded']!r} is a {own} model, "
                        f"not {task}")
        return ModelSpec(embedded=table["embedded"], kind=kind, task=task)
    folder = (base / str(table["path"])).resolve()
    if not (folder / "config.json").is_file():
        raise _fail(source, "model.path", f"{folder} is not a local model folder (no config.json); models are "
                    "never downloaded from a hub")
    return ModelSpec(path=str(folder), kind=kind, task=task)


def _data_spec(table: Any, source: str, base: Path) -> DataSpec:
    if not isinstance(table, Mapping):
        raise _fail(source, "data", "missing [data] table: give path = '<csv/tsv/jsonl file>' or texts = [...]")
    _check_keys(source, "data", table, {"path", "texts", "column", "pair_columns", "limit"})
    if ("path" in table) == ("texts" in table):
        raise _fail(source, "data", "give exactly one of path = '<file>' or texts = [...]")
    limit = table.get("limit")
    if limit is not None and (not isinstance(limit, int) or limit < 1):
        raise _fail(source, "data.limit", f"must be a positive integer, got {limit!r}")
    if "texts" in table:
        for k in ("column", "pair_columns"):
            if k in table:
                raise _fail(source, f"data.{k}", "reads a data file: it goes with path = '<file>', not texts")
        texts = table["texts"]
        if not isinstance(texts, list) or not texts:
            raise _fail(source, "data.texts", "must be a non-empty list of texts, [text_a, text_b] pairs or chat "
                        "messages")
        inputs: list[Any] = []
        for i, t in enumerate(texts):
            if isinstance(t, str):
                if not t.strip():
                    raise _fail(source, "data.texts", f"entry {i} is an empty string")
                inputs.append(t)
            elif isinstance(t, list):
                inputs.append(_structured(t, source, f"texts[{i}]"))
            else:
                raise _fail(source, "data.texts", f"entry {i} must be a text, a [text_a, text_b] pair or chat "
                            f"messages, got {t!r:.60}")
        return DataSpec(texts=tuple(inputs), limit=limit)
    column = table.get("column")
    if column is not None and not isinstance(column, str):
        hint = "; for a text pair give pair_columns = [\"a\", \"b\"]" if isinstance(column, list) else ""
        raise _fail(source, "data.column", f"must be a field name, got {column!r}{hint}")
    pair = table.get("pair_columns")
    if pair is not None:
        if column is not None:
            raise _fail(source, "data", "give column or pair_columns, not both")
        if not (isinstance(pair, list) and len(pair) == 2 and all(isinstance(c, str) and c for c in pair)):
            raise _fail(source, "data.pair_columns", f"must name two fields (text_a, text_b), got {pair!r}")
        pair = (pair[0], pair[1])
    path = (base / str(table["path"])).resolve()
    if not path.is_file():
        raise _fail(source, "data.path", f"no such file: {path}")
    if path.suffix.lower() not in (".csv", ".tsv", ".jsonl"):
        raise _fail(source, "data.path", f"unsupported file type {path.suffix!r}; use .csv, .tsv or .jsonl")
    return DataSpec(path=str(path), column=column, pair_columns=pair, limit=limit)


def _accepted_params(recipe: AttributionRecipe, reg: Registry, source: str, key: str,
                     task: str | None) -> set[str]:
    """Engine options, the recipe's parts' parameters, ``score``, and the task's options (every
    task's when the task is not known before the model loads)."""
    accepted = set(_ENGINE_PARAMS) | {"score"}
    for kind, name in recipe.part_names():
        sub = kind
        try:
            accepted |= set(reg.get(kind, str(name)).params)
        except UnknownNameError as exc:
            raise _fail(source, f"{key}.recipe.{sub}", str(exc)) from exc
    tasks = [reg.get("task", task)] if task is not None and task in reg.names("task") else reg.list_methods("task")
    for rec in tasks:
        accepted |= set(rec.params)
    return accepted


def _check_values(recipe: AttributionRecipe, reg: Registry, params: Mapping[str, Any], source: str,
                  key: str) -> None:
    """Parameter values, not only names: the engine options are checked and the recipe's parts are
    built with their parameters (no model, no torch), so ``run --check`` catches ``alpha = nan``."""
    from ._parts import build_part

    where = f"{key}.params"
    batch = params.get("batch_size", 1)
    if batch != "auto" and (isinstance(batch, bool) or not isinstance(batch, int) or batch < 1):
        raise _fail(source, f"{where}.batch_size", f"must be a positive integer or 'auto', got {batch!r}")
    seed = params.get("seed", 0)
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise _fail(source, f"{where}.seed", f"must be an integer, got {seed!r}")
    reductions = ("sum", "norm", "abs_sum", "mean")  # as _attribution.REDUCTIONS (not imported: no torch here)
    if params.get("reduction", "sum") not in reductions:
        raise _fail(source, f"{where}.reduction", f"{params['reduction']!r}; choose one of {', '.join(reductions)}")
    from ._pooling import POOLINGS

    if params.get("pooling", "sum") not in POOLINGS:
        raise _fail(source, f"{where}.pooling", f"{params['pooling']!r}; choose one of {', '.join(POOLINGS)}")
    baselines = (None, "auto", "zero", "mask", "pad", "unk")
    if params.get("baseline") not in baselines:
        raise _fail(source, f"{where}.baseline", f"{params['baseline']!r}; choose one of auto, zero, mask, pad, unk")
    merged = {**recipe.defaults, **params}
    for kind, name in recipe.part_names():
        rec = reg.get(kind, str(name))
        try:
            build_part(rec.obj, {k: v for k, v in merged.items() if k in rec.params}, kind=kind, name=rec.name)
        except (InterpretoError, TypeError, ValueError, OverflowError) as exc:
            raise _fail(source, where, f"{kind} {rec.name!r}: {exc}") from None


def _contrast(value: Any, source: str, key: str) -> Any:
    """A contrast is a class (index or label), a continuation, or a list of them (per input / per target)."""
    def ok(v: Any, depth: int) -> bool:
        if isinstance(v, bool):
            return False
        if isinstance(v, int | str):
            return True
        return depth < 2 and isinstance(v, list) and bool(v) and all(ok(x, depth + 1) for x in v)

    if not ok(value, 0):
        raise _fail(source, key, f"a contrast is a class index or label, a continuation text, or a list of them "
                    f"(one per input; [[0, 1]] for several per input), got {value!r:.60}")
    return value


def _attribution_step(table: Mapping[str, Any], key: str, source: str, reg: Registry, *,
                      model: ModelSpec | None = None) -> AttributionStep:
    _check_keys(source, key, table, {"method", "recipe", "name", "granularity", "targets", "params", "task",
                                     "score", "contrast"})
    from ._elements import GRANULARITIES

    if ("method" in table) == ("recipe" in table):
        raise _fail(source, key, "give exactly one of method = '<name>' or recipe = { perturbator|gradient_method, "
                    "aggregator }")
    if "method" in table:
        try:
            rec = reg.get("attribution", str(table["method"]))
        except (UnknownNameError, KeyError) as exc:
            raise _fail(source, f"{key}.method", str(exc)) from exc
        method: str | AttributionRecipe = str(table["method"])
        recipe = rec.obj
        default_name = rec.name
    else:
        spec = table["recipe"]
        if not isinstance(spec, Mapping):
            raise _fail(source, f"{key}.recipe", "must be a table")
        _check_keys(source, f"{key}.recipe", spec, {"perturbator", "gradient_method", "attributor", "aggregator",
                                                    "defaults"})
        try:
            recipe = AttributionRecipe(**spec)
        except (TypeError, InterpretoError) as exc:
            raise _fail(source, f"{key}.recipe", str(exc)) from exc
        method = recipe
        default_name = recipe.first_name + (f"+{recipe.aggregator}" if recipe.aggregator else "")
    task = _task(table["task"], source, f"{key}.task", reg) if "task" in table else None
    known_task = task or (model.known_task if model is not None else None)
    params = table.get("params", {})
    if not isinstance(params, Mapping):
        raise _fail(source, f"{key}.params", "must be a table, e.g. params = { n_samples = 100 }")
    params = dict(params)
    accepted = _accepted_params(recipe, reg, source, key, known_task)
    unknown = sorted(set(params) - accepted)
    if unknown:
        on = f" (on task {known_task!r})" if known_task else " (on any task)"
        raise _fail(source, f"{key}.params", f"{default_name} does not take {', '.join(unknown)}; it takes: "
                    f"{', '.join(sorted(accepted))}{on}")
    _check_values(recipe, reg, params, source, key)
    if "score" in table and ("score" in params or "mode" in params):
        raise _fail(source, f"{key}.score", "given twice: as score = and in params; keep one")
    score = table.get("score", params.pop("score", None))
    contrast = _contrast(table["contrast"], source, f"{key}.contrast") if "contrast" in table else None
    for name, where in ((score, f"{key}.score"), (params.get("mode"), f"{key}.params.mode")):
        if name is None:
            continue
        from ._loading import score_name

        try:
            rec_score = score_name(name, reg)
        except InputError as exc:
            raise _fail(source, where, str(exc)) from None
        if getattr(rec_score.obj, "needs_foil", False) and contrast is None:
            raise _fail(source, where, f"score {rec_score.name!r} compares each target with a foil: add "
                        "contrast = <class or continuation>")
    granularity = table.get("granularity", "word")
    if granularity not in GRANULARITIES:
        raise _fail(source, f"{key}.granularity", f"{granularity!r}; choose one of {', '.join(GRANULARITIES)}")
    return AttributionStep(name=str(table.get("name", default_name)), method=method, granularity=granularity,
                           targets=table.get("targets"), params=params, task=task, score=score, contrast=contrast)


def _metric_step(table: Mapping[str, Any], key: str, source: str, reg: Registry) -> MetricStep:
    _check_keys(source, key, table, {"name", "params"})
    if "name" not in table:
        raise _fail(source, key, "missing name = '<metric>'")
    try:
        rec = reg.get("metric", str(table["name"]))
    except (UnknownNameError, KeyError) as exc:
        if str(table["name"]) in reg.names("concept_metric"):
            raise _fail(source, f"{key}.name",
                        f"{table['name']!r} is a concept metric: list it in a [[concepts]] step's metrics") from None
        raise _fail(source, f"{key}.name", str(exc)) from exc
    params = dict(table.get("params", {}))
    unknown = sorted(set(params) - set(rec.params))
    if unknown:
        raise _fail(source, f"{key}.params", f"metric {rec.name!r} does not take {', '.join(unknown)}; it takes: "
                    f"{', '.join(sorted(rec.params)) or 'nothing'}")
    from ._parts import build_part

    try:  # the values too, not only the names
        build_part(rec.obj, params, kind="metric", name=rec.name)
    except (InterpretoError, TypeError, ValueError, OverflowError) as exc:
        raise _fail(source, f"{key}.params", f"metric {rec.name!r}: {exc}") from None
    return MetricStep(name=rec.name, params=params)


def run_pipeline(path: str | Path, *, out_dir: str | Path | None = None,
                 overrides: Mapping[str, Any] | None = None) -> PipelineResult:
    """Validate then run the pipeline file at ``path``."""
    return Pipeline.from_toml(path, overrides=overrides).run(out_dir)



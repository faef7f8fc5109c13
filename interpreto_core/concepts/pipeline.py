"""The ``[[concepts]]`` step of pipeline files: validate, run, and render a concept table.

Keys: ``split`` (block index or module path, default -1), ``granularity`` (default ``token``),
``learner`` (required: ``interpreto methods --kind dictionary_learner``), ``params`` (the learner's
parameters, e.g. ``{ n_concepts = 10 }``), ``interpreters`` (default ``["topk_inputs"]``),
``metrics`` (concept metrics, default reconstruction MSE, R², sparsity, dead ratio),
``batch_size``, ``show`` (concepts shown in the report, default 10), ``view`` (write a concept view
page beside the report and show its cards, default true), ``labels`` (one per text, for supervised
learners such as ``cav``).

With ``layers = [0, 2, 4]`` (block indices or module paths) instead of ``split``, the step is a layer
sweep (:func:`concept_sweep`): one collection pass, one learner per layer, and a table and plot of
every metric per layer in the report.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .._safe_text import html_text

__all__ = ["validate_concept_step", "run_concept_step", "concept_table_html", "STEP_KEYS"]

STEP_KEYS = {"split", "granularity", "learner", "params", "interpreters", "metrics", "batch_size", "show", "view",
             "layers", "labels"}
DEFAULT_METRICS = ("concept_mse", "concept_r2", "concept_sparsity", "concept_dead_ratio")
GRANULARITIES = ("token", "word", "sentence", "sample", "first_token", "last_token")


def _error(source: str, key: str, msg: str) -> Exception:
    from .._errors import PipelineError

    return PipelineError(f"{source}: {key}: {msg}")


def validate_concept_step(step: Mapping[str, Any], *, key: str, source: str, registry: Any) -> None:
    """Raise a PipelineError naming the file, key and choices for anything a run would trip on."""
    from .._errors import UnknownNameError

    unknown = sorted(set(step) - STEP_KEYS)
    if unknown:
        raise _error(source, key, f"unknown key(s) {', '.join(unknown)}; allowed: {', '.join(sorted(STEP_KEYS))}")
    if "learner" not in step:
        raise _error(source, key, "missing learner = '<name>'; available: "
                     + ", ".join(registry.names("dictionary_learner")))
    try:
        rec = registry.get("dictionary_learner", str(step["learner"]))
    except (UnknownNameError, KeyError) as exc:
        raise _error(source, f"{key}.learner", str(exc)) from exc
    bad = sorted(set(step.get("params", {})) - set(rec.params))
    if bad:
        raise _error(source, f"{key}.params", f"learner {rec.name!r} does not take {', '.join(bad)}; it takes: "
                     f"{', '.join(sorted(rec.params))}")
    granularity = step.get("granularity", "token")
    if granularity not in GRANULARITIES:
        raise _error(source, f"{key}.granularity", f"{granularity!r}; choose one of {', '.join(GRANULARITIES)}")
    split = step.get("split", -1)
    if isinstance(split, bool) or not isinstance(split, int | str):
        raise _error(source, f"{key}.split", f"a block index or a module path, got {split!r}")
    if "layers" in step:
        layers = step["layers"]
        if "split" in step:
            raise _error(source, key, "give split (one layer) or layers (a sweep), not both")
        if not isinstance(layers, list) or not layers or any(isinstance(v, bool) or not isinstance(v, int | str)
                                                             for v in layers):
            raise _error(source, f"{key}.layers", f"a non-empty list of block indices or module paths, got {layers!r}")
    if getattr(rec.obj, "supervised", False) and "labels" not in step:
        raise _error(source, key, f"learner {rec.name!r} is supervised: add labels = [...] (one per text)")
    for name in step.get("interpreters", ["topk_inputs"]):
        try:
            registry.get("interpreter", str(name))
        except (UnknownNameError, KeyError) as exc:
            raise _error(source, f"{key}.interpreters", str(exc)) from exc
    for name in step.get("metrics", DEFAULT_METRICS):
        try:
            registry.get("concept_metric", str(name))
        except (UnknownNameError, KeyError) as exc:
            if str(name) in registry.names("metric"):
                raise _error(source, f"{key}.metrics",
                             f"{name!r} is an attribution metric: list it in a [[metric]] table") from None
            raise _error(source, f"{key}.metrics", str(exc)) from exc


def run_concept_step(step: Mapping[str, Any], *, model: Any, tokenizer: Any, texts: list[str], out_dir: Path,
                     key: str = "concepts") -> tuple[str, dict[str, Any]]:
    """Collect activations, fit the learner, interpret and score it; ``(html section, json summary)``."""
    from . import SplitModel, collect_activations, concept_metrics, concept_view, interpret_concepts, make_learner

    if "layers" in step:
        return run_sweep_step(step, model=model, tokenizer=tokenizer, texts=texts, out_dir=out_dir, key=key)
    start = time.perf_counter()
    split = SplitModel(model, tokenizer, split_points=step.get("split", -1))
    point = split.split_points[0]
    acts = collect_activations(split, texts, granularity=step.get("granularity", "token"),
                               batch_size=int(step.get("batch_size", 32)))[point]
    learner: Any = make_learner(str(step["learner"]), **dict(step.get("params", {})))
    if "labels" in step:
        learner.fit(acts, labels=list(step["labels"]))
    else:
        learner.fit(acts.values)
    fit_seconds = time.perf_counter() - start
    interpretations: dict[int, list[Any]] = {}
    every: list[Any] = []
    for name in step.get("interpreters", ["topk_inputs"]):
        for item in interpret_concepts(learner, method=str(name), activations=acts, split=split):
            interpretations.setdefault(item.concept, []).append(item)
            every.append(item)
    scores = concept_metrics(learner, acts, metrics=tuple(step.get("metrics", DEFAULT_METRICS)))
    safe = key.replace("[", "_").replace("]", "")
    learner.save(out_dir / f"{safe}_{step['learner']}")
    summary = {
        "key": key, "learner": str(step["learner"]), "split_point": point, "rows": len(acts),
        "seconds": time.perf_counter() - start, "fit_seconds": fit_seconds,
        "metrics": {k: float(v) for k, v in scores.items()},
        "metric_labels": dict(scores.labels), "scored_against": scores.against,
        "hygiene": acts.hygiene.to_json() if acts.hygiene is not None else None,
        "concepts": {str(c): [i.to_json() for i in items] for c, items in interpretations.items()},
    }
    show = int(step.get("show", 10))
    cards = None
    if step.get("view", True):
        view = concept_view(learner, acts, interpretations=every, metrics=summary["metrics"],
                            title=f"{step['learner']} concepts at {point}")
        path = view.save(out_dir / f"{safe}_{step['learner']}_view.html")
        summary["view"] = path.name
        cards = concept_view(learner, acts, interpretations=every, concepts=[
            int(r["concept"]) for r in view.concepts[:show]], n_contexts=3).fragment
    return concept_table_html(summary, show=show, cards=cards), summary


def run_sweep_step(step: Mapping[str, Any], *, model: Any, tokenizer: Any, texts: list[str], out_dir: Path,
                   key: str = "concepts") -> tuple[str, dict[str, Any]]:
    """A ``layers = [...]`` step: :func:`concept_sweep`, its table and plot; ``(html section, json summary)``."""
    import base64
    import json

    from . import concept_sweep

    start = time.perf_counter()
    sweep = concept_sweep(model, tokenizer, texts, layers=list(step["layers"]), learner=str(step["learner"]),
                          params=dict(step.get("params", {})), metrics=tuple(step.get("metrics", DEFAULT_METRICS)),
                          granularity=step.get("granularity", "token"), batch_size=int(step.get("batch_size", 32)),
                          labels=list(step["labels"]) if "labels" in step else None, progress=False)
    safe = key.replace("[", "_").replace("]", "")
    plot = out_dir / f"{safe}_sweep.png"
    sweep.plot(plot)
    summary = {"key": key, "learner": str(step["learner"]), "sweep": sweep.to_json(),
               "seconds": time.perf_counter() - start, "plot": plot.name}
    (out_dir / f"{safe}_sweep.json").write_text(json.dumps(summary["sweep"], indent=1), encoding="utf-8")
    png = base64.b64encode(plot.read_bytes()).decode("ascii")
    html = (f"<h1>Concepts per layer: {html_text(step['learner'])}</h1>{sweep.to_html()}"
            f'<div><img src="data:image/png;base64,{png}" alt="concept metrics per layer"></div>')
    return html, summary


def concept_table_html(summary: Mapping[str, Any], *, show: int = 10, cards: str | None = None) -> str:
    """A concept section: the metric table and, per concept, its top words / label (all escaped)."""
    e = html_text
    labels = summary.get("metric_labels") or {}
    metrics = "".join(f"<tr><th>{e(labels.get(k, k))}</th><td>{e(f'{v:.4g}')}</td></tr>"
                      for k, v in summary["metrics"].items())
    hygiene = (summary.get("hygiene") or {}).get("summary")
    head = (
        f"<h1>Concepts: {e(summary['learner'])} at {e(summary['split_point'])}</h1>"
        f'<div class="itp-meta">{e(summary["rows"])} activation rows, fitted in '
        f"{e(format(summary['fit_seconds'], '.1f'))} s"
        + (f" · concept view: {e(summary['view'])}" if summary.get("view") else "")
        + (f'</div><div class="itp-meta">{e(hygiene)}' if hygiene else "")
        + f'</div><table class="itp-table">{metrics}</table>'
    )
    if cards is not None:
        return head + "<h2>Concepts</h2>" + cards
    rows = []
    for concept, items in list(summary["concepts"].items())[:show]:
        cells = []
        for item in items:
            label = f"<b>{e(item['label'])}</b> " if item.get("label") else ""
            words = ", ".join(e(w) for w, _ in item.get("words", [])[:8])
            cells.append(f'{label}{words} <span class="itp-meta">({e(item["method"])})</span>')
        rows.append(f"<tr><th>{e(concept)}</th><td>{'<br>'.join(cells)}</td></tr>")
    return head + (
        f'<h2>Concepts</h2><table class="itp-table"><tr><th>concept</th><th>top inputs</th></tr>{"".join(rows)}</table>'
    )

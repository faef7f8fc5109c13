"""Which layer? One dictionary per layer, fitted over one collection pass, scored by every metric.

``concept_sweep`` captures the activations of every asked layer in the same forward pass (one
nnsight trace per batch, :class:`SplitModel` with several split points), then fits one learner per
layer and runs the concept metrics on it. The result compares layers: a table (rows = layers), a
plot (one panel per metric), an escaped HTML table and JSON.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs

from .._errors import InputError

__all__ = ["ConceptSweep", "LayerFit", "concept_sweep", "DEFAULT_SWEEP_METRICS"]

DEFAULT_SWEEP_METRICS = ("concept_mse", "concept_r2", "concept_sparsity", "concept_dead_ratio")


@attrs.frozen(kw_only=True, eq=False)
class LayerFit:
    """One layer of a sweep: where it is, what was fitted there and how it scored.

    ``layer``: the layer as asked (a block index made non-negative, or a module path);
    ``split_point``: the module path; ``rows``: activation rows fitted; ``fit_seconds``: the
    learner's fit time (wall), ``fit_cpu_seconds`` its process CPU time; ``metrics``:
    ``{metric: value}``; ``extras``: what the learner records about its fit (a CAV's probe
    accuracies), JSON-able.
    """

    layer: int | str
    split_point: str
    rows: int
    fit_seconds: float
    metrics: dict[str, float]
    learner: Any = attrs.field(repr=False)
    fit_cpu_seconds: float = 0.0
    extras: dict[str, Any] = attrs.field(factory=dict)


@attrs.frozen(kw_only=True, eq=False)
class ConceptSweep:
    """The result of :func:`concept_sweep`: one :class:`LayerFit` per layer, in model order."""

    learner: str
    params: dict[str, Any]
    granularity: str
    n_texts: int
    collect_seconds: float
    metrics: tuple[str, ...]
    layers: tuple[LayerFit, ...]
    collect_cpu_seconds: float = 0.0
    activations: dict[str, Any] | None = attrs.field(default=None, repr=False)

    def table(self) -> list[dict[str, Any]]:
        """One row per layer: ``layer``, ``split_point``, ``rows``, ``fit_seconds`` and each metric."""
        return [{"layer": f.layer, "split_point": f.split_point, "rows": f.rows, "fit_seconds": f.fit_seconds,
                 **f.metrics} for f in self.layers]

    def best(self, metric: str) -> LayerFit:
        """The layer where ``metric`` is best (its registered direction: higher or lower is better)."""
        from .._registry import get_registry

        if metric not in self.metrics:
            raise InputError(f"{metric!r} was not computed; this sweep has {', '.join(self.metrics)}")
        higher = get_registry().get("concept_metric", metric).obj.higher_is_better
        key = (lambda f: f.metrics[metric]) if higher is not False else (lambda f: -f.metrics[metric])
        return max(self.layers, key=key)

    def to_json(self) -> dict[str, Any]:
        """JSON-able: the sweep's settings and the table (learners are not included: ``save`` them)."""
        return {"learner": self.learner, "params": dict(self.params), "granularity": self.granularity,
                "n_texts": self.n_texts, "collect_seconds": self.collect_seconds,
                "collect_cpu_seconds": self.collect_cpu_seconds, "metrics": list(self.metrics),
                "layers": [{"layer": f.layer, "split_point": f.split_point, "rows": f.rows,
                            "fit_seconds": f.fit_seconds, "fit_cpu_seconds": f.fit_cpu_seconds,
                            "metrics": dict(f.metrics), "extras": dict(f.extras)}
                           for f in self.layers]}

    def to_markdown(self, *, digits: int = 4) -> str:
        """The table as Markdown (a README / benchmark table)."""
        head = ["layer", "split point", "rows", "fit s", *self.metrics]
        lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        for f in self.layers:
            cells = [str(f.layer), f"`{f.split_point}`", str(f.rows), f"{f.fit_seconds:.2f}",
                     *(f"{f.metrics[m]:.{digits}g}" for m in self.metrics)]
            lines.append("| " + " | ".join(cells) + " |")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.to_markdown()

    def _repr_html_(self) -> str:
        return self.to_html()

    def to_html(self) -> str:
        """An HTML table (rows = layers, best value of each metric in bold); every text escaped."""
        from .._registry import get_registry
        from .._safe_text import html_text as e

        best: dict[str, str] = {}
        for m in self.metrics:
            try:
                best[m] = self.best(m).split_point
            except Exception:  # noqa: BLE001 - a metric no longer registered: no bold
                best[m] = ""
        arrows = {}
        for m in self.metrics:
            try:
                hib = get_registry().get("concept_metric", m).obj.higher_is_better
            except Exception:  # noqa: BLE001
                hib = None
            arrows[m] = " ↑" if hib else (" ↓" if hib is False else "")
        head = "".join(f"<th>{e(m)}{arrows[m]}</th>" for m in self.metrics)
        rows = []
        for f in self.layers:
            cells = "".join(
                (f"<td><b>{e(format(f.metrics[m], '.4g'))}</b></td>" if best[m] == f.split_point
                 else f"<td>{e(format(f.metrics[m], '.4g'))}</td>") for m in self.metrics)
            rows.append(f"<tr><th>{e(f.layer)}</th><td><code>{e(f.split_point)}</code></td><td>{e(f.rows)}</td>"
                        f"<td>{e(format(f.fit_seconds, '.2f'))}</td>{cells}</tr>")
        caption = (f"{self.learner} {self.params} per layer · {self.granularity} rows of {self.n_texts} texts · "
                   f"one collection pass in {self.collect_seconds:.1f} s")
        return (f'<table class="itp-table"><caption>{e(caption)}</caption><tr><th>layer</th><th>split point</th>'
                f"<th>rows</th><th>fit s</th>{head}</tr>{''.join(rows)}</table>")

    def plot(self, path: str | Path | None = None) -> Any:
        """A matplotlib ``Figure``: one panel per metric (and one for the fit time), x = layer.

        Uses matplotlib's Agg canvas (no pyplot state, no GUI); written to ``path`` if given."""
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        panels = [*self.metrics, "fit seconds"]
        cols = min(len(panels), 3)
        nrows = (len(panels) + cols - 1) // cols
        fig = Figure(figsize=(4.2 * cols, 3.2 * nrows), dpi=100, layout="constrained")
        FigureCanvasAgg(fig)
        axes = fig.subplots(nrows, cols, squeeze=False).ravel()
        x = list(range(len(self.layers)))
        names = [str(f.layer) for f in self.layers]
        for ax, panel in zip(axes, panels, strict=False):
            y = [f.fit_seconds if panel == "fit seconds" else f.metrics[panel] for f in self.layers]
            ax.plot(x, y, marker="o")
            ax.set_title(panel)
            ax.set_xticks(x, names)
            ax.set_xlabel("layer")
            ax.grid(alpha=0.3)
        for ax in axes[len(panels):]:
            ax.set_visible(False)
        fig.suptitle(f"{self.learner} per layer ({self.granularity} rows, {self.n_texts} texts)")
        if path is not None:
            fig.savefig(path)
        return fig


def resolve_layers(model: Any, layers: int | str | Sequence[int | str] | None) -> list[tuple[int | str, str]]:
    """``[(layer as asked, module path)]`` for ``layers`` (None: every block), with an error that lists
    the valid split points for a bad one."""
    from ._split import _block_stack

    modules = dict(model.named_modules())
    try:
        stack_name, stack = _block_stack(model)
    except InputError:
        stack_name, stack = "", None
    n = len(stack) if stack is not None else 0
    valid = (f"block indices 0..{n - 1} (or -{n}..-1: {stack_name}.0 .. {stack_name}.{n - 1}) or a module path "
             "of model.named_modules()") if n else "module paths of model.named_modules()"
    if layers is None:
        if not n:
            raise InputError(f"{type(model).__name__} has no stack of blocks: give layers= as module paths")
        layers = list(range(n))
    asked = [layers] if isinstance(layers, int | str) else list(layers)
    if not asked:
        raise InputError(f"layers is empty; give {valid}")
    out: list[tuple[int | str, str]] = []
    for layer in asked:
        if isinstance(layer, bool) or not isinstance(layer, int | str):
            raise InputError(f"layer {layer!r} is neither a block index nor a module path; valid: {valid}")
        if isinstance(layer, int):
            if not n or not -n <= layer < n:
                raise InputError(f"layer {layer} is not a block of {type(model).__name__} (it has {n} blocks); "
                                 f"valid: {valid}")
            name: str = f"{stack_name}.{layer % n}"
            label: int | str = layer % n
        else:
            if layer not in modules:
                close = [m for m in modules if m.endswith(layer.split(".")[-1])][:5]
                hint = f"; similar: {', '.join(close)}" if close else ""
                raise InputError(f"no module {layer!r} in {type(model).__name__}; valid: {valid}{hint}")
            name, label = layer, layer
        if name in [p for _, p in out]:
            raise InputError(f"layer {layer!r} is asked twice (it is {name})")
        out.append((label, name))
    order = {m: i for i, m in enumerate(modules)}
    return sorted(out, key=lambda t: order[t[1]])


def concept_sweep(
    model: Any,
    tokenizer: Any,
    texts: Sequence[str],
    *,
    layers: int | str | Sequence[int | str] | None = None,
    learner: str = "pca",
    params: Mapping[str, Any] | None = None,
    metrics: Sequence[str] = DEFAULT_SWEEP_METRICS,
    granularity: str = "token",
    reduce: str = "mean",
    labels: Sequence[Any] | None = None,
    batch_size: int = 32,
    max_length: int | None = None,
    device: Any = None,
    keep_activations: bool = False,
    progress: bool | None = None,
) -> ConceptSweep:
    """Fit one ``learner`` per layer on activations collected in one pass, and score each with ``metrics``.

    Parameters
    ----------
    model, tokenizer:
        A HF model (encoder, classifier or causal LM) and its tokenizer; neither is changed.
    texts:
        The data set.
    layers:
        Block indices (``[0, 2, 4]``, ``-1``) or module paths; default every block.
    learner, params:
        A registered dictionary learner (``interpreto methods --kind dictionary_learner``) and its
        parameters (``{"n_concepts": 20}``); the same settings at every layer.
    metrics:
        Registered concept metrics (``interpreto methods --kind concept_metric``).
    granularity, reduce, batch_size, max_length:
        As in :func:`collect_activations`.
    labels:
        One label per text, for supervised learners (``cav``): each layer's probe learns them.
    device:
        Where the learners fit (SAEs train there).
    keep_activations:
        Keep ``{split point: Activations}`` on the result (for interpreters / concept views).
    """
    from tqdm.auto import tqdm

    from .._registry import get_registry
    from ._activations import collect_activations
    from ._learner import make_learner
    from ._metrics import concept_metrics
    from ._split import SplitModel

    if isinstance(texts, str):
        texts = [texts]
    texts = list(texts)
    if not texts:
        raise InputError("no texts to sweep over")
    registry = get_registry()
    rec = registry.get("dictionary_learner", learner)
    params = dict(params or {})
    bad = sorted(set(params) - set(rec.params))
    if bad:
        raise InputError(f"learner {rec.name!r} does not take {', '.join(bad)}; "
                         f"it takes {', '.join(sorted(rec.params))}")
    metrics = tuple(metrics)
    for m in metrics:
        registry.get("concept_metric", m)  # UnknownNameError lists the registered ones
    supervised = bool(getattr(rec.obj, "supervised", False))
    if supervised and labels is None:
        raise InputError(f"learner {rec.name!r} is supervised: give labels= (one per text)")
    if labels is not None:
        labels = list(labels)
        if len(labels) != len(texts):
            raise InputError(f"labels must give one label per text ({len(texts)} texts, {len(labels)} labels)")
    import torch

    if not isinstance(model, torch.nn.Module):
        raise InputError(f"model must be a torch.nn.Module (a HF model), got {type(model).__name__}")
    chosen = resolve_layers(model, layers)
    split = SplitModel(model, tokenizer, split_points=[p for _, p in chosen], max_length=max_length)
    start, cpu = time.perf_counter(), time.process_time()
    acts = collect_activations(split, texts, granularity=granularity, reduce=reduce, batch_size=batch_size,
                               progress=progress)
    collect_seconds, collect_cpu = time.perf_counter() - start, time.process_time() - cpu
    fits = []
    for label, point in tqdm(chosen, desc="layers", unit="layer", disable=None if progress is None else not progress):
        a = acts[point]
        fitted: Any = make_learner(rec.name, **params)
        cpu = time.process_time()
        if supervised:
            fitted.fit(a, labels=labels, progress=False, device=device)
        else:
            fitted.fit(a, progress=False, device=device)
        fit_cpu = time.process_time() - cpu
        scores = concept_metrics(fitted, a, metrics=metrics) if metrics else {}
        extras = fitted.extra_config() if hasattr(fitted, "extra_config") else {}
        fits.append(LayerFit(layer=label, split_point=point, rows=len(a), fit_seconds=float(fitted.fit_seconds or 0.0),
                             fit_cpu_seconds=fit_cpu, metrics={k: float(v) for k, v in scores.items()}, learner=fitted,
                             extras=extras if isinstance(extras, dict) else {}))
    return ConceptSweep(learner=rec.name, params=params, granularity=granularity, n_texts=len(texts),
                        collect_seconds=collect_seconds, collect_cpu_seconds=collect_cpu, metrics=metrics,
                        layers=tuple(fits),
                        activations=acts if keep_activations else None)

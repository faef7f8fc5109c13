"""The notebook card of a dictionary learner (``learner._repr_html_()`` / ``learner.html_card()``).

A compact, self-contained HTML fragment: no script, no network, inline CSS; every text from the
learner, the data or a plugin is escaped (``_safe_text``), and labels are isolated in ``<bdi>`` so
that a bidirectional override in one cannot reorder the text around it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .._safe_text import html_text as e

__all__ = ["learner_card"]

_CSS = (
    "div.ilc-card{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;border:1px solid #ccc;"
    "border-radius:6px;padding:.5em 1em;margin:.4em 0;max-width:900px;color:#222}"
    "div.ilc-card h3{margin:.2em 0}div.ilc-card .ilc-meta{color:#666;font-size:.9em}"
    "table.ilc-t{border-collapse:collapse;margin:.3em 0}"
    "table.ilc-t td,table.ilc-t th{border:1px solid #ddd;padding:1px 7px;text-align:left;font-size:.88em}"
)

#: concepts listed on the card when interpretations are given (the view shows them all)
_LISTED = 12


def _number(value: Any) -> str:
    try:
        return format(float(value), ".4g")
    except (TypeError, ValueError):
        return str(value)


def _table(rows: Sequence[tuple[Any, Any]]) -> str:
    cells = "".join(f"<tr><th>{e(k)}</th><td>{e(v)}</td></tr>" for k, v in rows)
    return f'<table class="ilc-t">{cells}</table>'


def learner_card(learner: Any, *, metrics: Mapping[str, float] | None = None, view: Any = None,
                 interpretations: Sequence[Any] | None = None) -> str:
    """The HTML card of ``learner``: name, concepts, what it was fitted on (rows x width, split point,
    granularity, activation hygiene), its parameters, its metrics (``metrics``, else
    ``learner.metrics``; an SAE's last training epoch), its concepts' labels (``interpretations``)
    and, folded, a concept view (``view``, else ``learner.view``: a ``ConceptView``)."""
    name = getattr(learner, "name", "") or type(learner).__name__
    params = [(k, repr(v)) for k, v in learner.params().items()]
    head = f"<h3>{e(name)} <span class=\"ilc-meta\">({e(type(learner).__name__)})</span></h3>"
    if not getattr(learner, "fitted", False):
        body = (f'<div class="ilc-meta">not fitted: call <code>fit(activations)</code> '
                f"({e(learner.n_concepts)} concepts asked)</div>{_table(params)}")
        return f'<style>{_CSS}</style><div class="ilc-card">{head}{body}</div>'
    n_concepts = learner._n_concepts_fitted()
    hygiene = getattr(learner, "hygiene", None)
    rows = getattr(learner, "fit_rows", None)
    fitted_on = f"{rows:,} rows x {learner.hidden_size}" if rows is not None else f"rows of width {learner.hidden_size}"
    if hygiene is not None and hygiene.split_point:
        fitted_on += f" at {hygiene.split_point}"
    if hygiene is not None and hygiene.granularity:
        fitted_on += f" ({hygiene.granularity} rows)"
    seconds = getattr(learner, "fit_seconds", None)
    facts = [("concepts", f"{n_concepts:,}"), ("fitted on", fitted_on)]
    if seconds is not None:
        facts.append(("fit time", f"{seconds:.3g} s"))
    facts.append(("activation hygiene", hygiene.summary() if hygiene is not None else "not recorded"))
    modelled = learner.modelled_description()
    if modelled != "activations":
        facts.append(("reconstructs", modelled))
    parts = [head, _table(facts), f'<div class="ilc-meta">parameters</div>{_table(params)}']
    shown = dict(metrics if metrics is not None else (getattr(learner, "metrics", None) or {}))
    log = getattr(learner, "training_log", None) or {}
    for key, values in log.items():
        if isinstance(values, list) and values:
            shown.setdefault(f"last epoch {key}", values[-1])
    if shown:
        parts.append(f'<div class="ilc-meta">metrics</div>{_table([(k, _number(v)) for k, v in shown.items()])}')
    if interpretations:
        items = list(interpretations)[:_LISTED]
        cells = "".join(
            f"<tr><th>{e(i.concept)}</th><td><bdi>{e(i.label or ', '.join(w for w, _ in i.words[:6]))}</bdi></td></tr>"
            for i in items)
        more = len(interpretations) - len(items)
        parts.append(f'<div class="ilc-meta">concepts</div><table class="ilc-t">{cells}</table>'
                     + (f'<div class="ilc-meta">... and {more} more</div>' if more > 0 else ""))
    view = view if view is not None else getattr(learner, "view", None)
    fragment = getattr(view, "fragment", None)
    if isinstance(fragment, str):
        title = getattr(view, "title", "concept view")
        parts.append(f"<details><summary>concept view: {e(title)}</summary>{fragment}</details>")
    elif interpretations is None:
        parts.append('<div class="ilc-meta">concept view: <code>concept_view(learner, activations, '
                     "interpretations=interpret_concepts(learner, activations=activations))</code></div>")
    return f'<style>{_CSS}</style><div class="ilc-card">{"".join(parts)}</div>'

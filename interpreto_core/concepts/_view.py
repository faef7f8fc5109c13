"""Concept views: one self-contained HTML page per dictionary.

For each concept: its label (an interpreter's ``label``, else its top words), its numbers
(importance, how often it fires, its mean and max code) and its top contexts, the activating
units highlighted (the stronger the code, the darker). Concepts come in order of importance
(when given, else of mean |code|); a small script re-sorts them (buttons, or ``#sort=frequency``
in the address), and the page reads the same with scripts off. No network, no external file;
every text from the data, the model or a plugin is escaped (``_safe_text``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs
import numpy as np

from .._errors import InputError
from .._safe_text import html_attr, html_text

__all__ = ["ConceptView", "concept_view"]

_PAGE_CSS = "body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:1.5em auto;max-width:1100px;"\
    "color:#222}"
# the cards' own rules: the fragment (embedded in a report or a notebook) restyles nothing around it
_CSS = """
.itp-meta{color:#666;font-size:.9em}
table.icv-metrics{border-collapse:collapse;margin:.4em 0}
table.icv-metrics td,table.icv-metrics th{border:1px solid #ddd;padding:2px 8px;text-align:left;font-size:.9em}
div.icv-card{border:1px solid #ccc;border-radius:6px;padding:.6em 1em;margin:.8em 0}
div.icv-card h3{margin:.2em 0}
div.icv-ctx{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:.85em;margin:.25em 0;
white-space:pre-wrap;line-height:1.5}
span.icv-hl{border-radius:3px;padding:0 1px}
span.icv-score{color:#888}
div.icv-sort button{margin-right:.4em}
"""

# re-sorts the concept cards by a numeric data attribute; reads #sort=<key> on load. Holds no data.
_SCRIPT = """
(function(){
  var box=document.getElementById('icv-concepts'); if(!box) return;
  function sortBy(key){
    var cards=Array.prototype.slice.call(box.children);
    cards.sort(function(a,b){
      var x=parseFloat(a.getAttribute('data-'+key)), y=parseFloat(b.getAttribute('data-'+key));
      return key==='index' ? x-y : Math.abs(y)-Math.abs(x);});
    cards.forEach(function(c){box.appendChild(c);});
    document.body.setAttribute('data-sorted', key);
  }
  var bar=document.createElement('div'); bar.className='icv-sort';
  bar.appendChild(document.createTextNode('sort by: '));
  ['importance','frequency','max','index'].forEach(function(k){
    var b=document.createElement('button'); b.textContent=k; b.onclick=function(){sortBy(k);}; bar.appendChild(b);});
  box.parentNode.insertBefore(bar, box);
  var m=/sort=(importance|frequency|max|index)/.exec(location.hash); if(m) sortBy(m[1]);
})();
"""


def _shade(value: float) -> str:
    """``background:rgb(...);color:#111`` for a highlight of strength ``value`` in [0, 1] (orange)."""
    v = float(min(max(value, 0.0), 1.0))
    r, g, b = 255, int(round(255 - 120 * v)), int(round(255 - 230 * v))
    return f"background:rgb({r},{g},{b});color:#111"


@attrs.frozen(kw_only=True, eq=False)
class ConceptView:
    """A concept view: ``html`` (the page, with its sort script), ``fragment`` (the concept cards
    without script, for embedding in a report) and ``concepts`` (the numbers and contexts, JSON-able)."""

    html: str
    fragment: str
    concepts: tuple[dict[str, Any], ...]
    title: str

    def save(self, path: str | Path) -> Path:
        """Write the page (UTF-8) and return its path."""
        path = Path(path)
        path.write_text(self.html, encoding="utf-8")
        return path

    def _repr_html_(self) -> str:
        return self.html

    def to_json(self) -> dict[str, Any]:
        return {"title": self.title, "concepts": list(self.concepts)}


def _importance_vector(importance: Any, n: int) -> np.ndarray | None:
    if importance is None:
        return None
    values = getattr(importance, "mean", importance)
    values = np.asarray(values, dtype=float).reshape(-1)
    if values.shape != (n,):
        raise InputError(f"importance must give one value per concept ({n}), got shape {values.shape}")
    return values


def _contexts(acts: Any, codes_c: np.ndarray, by_text: dict[int, np.ndarray], *, n: int, chars: int,
              top: float) -> list[dict[str, Any]]:
    """The top ``n`` rows (distinct texts) of one concept, each as segments ``(text, strength or None)``."""
    out: list[dict[str, Any]] = []
    seen: set[int] = set()
    for row in np.argsort(-codes_c, kind="stable"):
        if len(out) >= n or codes_c[row] <= 0:
            break
        t = int(acts.text_index[row])
        if t in seen:
            continue
        seen.add(t)
        text = acts.texts[t]
        start, end = (int(v) for v in acts.spans[row])
        if start < 0:
            out.append({"text": t, "score": float(codes_c[row]), "segments": [(acts.units[row], 1.0)]})
            continue
        lo, hi = max(0, start - chars), min(len(text), end + chars)
        marks = []
        for r in by_text[t]:
            s, e = (int(v) for v in acts.spans[r])
            if s >= 0 and s >= lo and e <= hi and codes_c[r] > 0 and e > s:
                marks.append((s, e, float(codes_c[r]) / top))
        marks.sort()
        segments: list[tuple[str, float | None]] = [("…", None)] if lo > 0 else []
        pos = lo
        for s, e, strength in marks:
            if s < pos:  # overlapping units (sentences over words): keep the first
                continue
            if s > pos:
                segments.append((text[pos:s], None))
            segments.append((text[s:e], strength))
            pos = e
        if pos < hi:
            segments.append((text[pos:hi], None))
        if hi < len(text):
            segments.append(("…", None))
        out.append({"text": t, "score": float(codes_c[row]), "segments": segments})
    return out


def concept_view(
    learner: Any,
    activations: Any,
    *,
    interpretations: Sequence[Any] | None = None,
    importance: Any = None,
    metrics: Mapping[str, float] | None = None,
    concepts: Sequence[int] | None = None,
    n_contexts: int = 5,
    context_chars: int = 60,
    title: str | None = None,
) -> ConceptView:
    """A self-contained HTML page of a fitted dictionary's concepts.

    Parameters
    ----------
    learner:
        A fitted dictionary learner.
    activations:
        The ``Activations`` to read contexts from (``SplitModel.collect`` / ``collect_activations``).
    interpretations:
        ``ConceptInterpretation`` objects (``interpret_concepts``): their ``label`` or top words
        name the concepts.
    importance:
        A ``ConceptImportance`` (its ``mean``) or one number per concept: the default order (|value|).
    metrics:
        Dictionary-level numbers shown on top (``concept_metrics``).
    concepts:
        The concepts shown (default all).
    n_contexts, context_chars:
        Top contexts per concept (distinct texts) and characters of context each side.
    """
    from ._interpret import check_concepts, concept_codes

    codes = concept_codes(learner, activations).double().numpy()  # (N, C)
    n_c = codes.shape[1]
    chosen = check_concepts(list(concepts) if concepts is not None else None, n_c)
    imp = _importance_vector(importance, n_c)
    by_text: dict[int, np.ndarray] = {}
    order_rows = np.argsort(activations.text_index, kind="stable")
    bounds = np.searchsorted(activations.text_index[order_rows], np.arange(len(activations.texts) + 1))
    for t in range(len(activations.texts)):
        by_text[t] = order_rows[bounds[t] : bounds[t + 1]]
    named: dict[int, list[Any]] = {}
    for item in interpretations or ():
        named.setdefault(int(item.concept), []).append(item)
    records: list[dict[str, Any]] = []
    for c in chosen:
        col = codes[:, c]
        top = float(col.max())
        items = named.get(c, [])
        label = next((i.label for i in items if i.label), None)
        words = [w for i in items for w, _ in i.words][:8]
        records.append({
            "concept": c, "label": label, "words": words,
            "importance": float(imp[c]) if imp is not None else None,
            "frequency": float((col > 0).mean()), "mean_abs": float(np.abs(col).mean()), "max": top,
            "contexts": _contexts(activations, col, by_text, n=n_contexts, chars=context_chars, top=top)
            if top > 0 else [],
        })
    key = "importance" if imp is not None else "mean_abs"
    records.sort(key=lambda r: -abs(r[key]))
    title = title or f"Concepts of {getattr(learner, 'name', type(learner).__name__)} at {activations.split_point}"
    cards = [_card(r, interactive=False) for r in records]
    meta = (f"{len(activations)} {activations.granularity} rows from {len(activations.texts)} texts · "
            f"{n_c} concepts · ordered by {'importance' if imp is not None else 'mean |code|'}")
    head = f"<h1>{html_text(title)}</h1><div class=\"itp-meta\">{html_text(meta)}</div>"
    if metrics:
        cells = "".join(f"<tr><th>{html_text(k)}</th><td>{html_text(format(float(v), '.4g'))}</td></tr>"
                        for k, v in metrics.items())
        head += f'<table class="icv-metrics">{cells}</table>'
    fragment = head + "".join(cards)
    page = ('<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
            f"<title>{html_text(title)}</title><style>{_PAGE_CSS}{_CSS}</style></head><body>{head}"
            f'<div id="icv-concepts">{"".join(_card(r, interactive=True) for r in records)}</div>'
            f"<script>{_SCRIPT}</script></body></html>")
    return ConceptView(html=page, fragment=f"<style>{_CSS}</style>{fragment}", concepts=tuple(records),
                       title=title)


def _card(r: Mapping[str, Any], *, interactive: bool) -> str:
    e = html_text
    name = r["label"] or ", ".join(r["words"][:5]) or "(no interpretation)"
    numbers = [("importance", r["importance"]), ("fires on", r["frequency"]), ("mean |code|", r["mean_abs"]),
               ("max code", r["max"])]

    def shown(k: str, v: float | None) -> str:
        return "-" if v is None else format(v, ".1%") if k == "fires on" else format(v, ".4g")

    cells = "".join(f"<th>{e(k)}</th><td>{e(shown(k, v))}</td>" for k, v in numbers)
    words = f'<div class="itp-meta">top words: {e(", ".join(r["words"]))}</div>' if r["words"] and r["label"] else ""
    contexts = []
    for ctx in r["contexts"]:
        parts = []
        for text, strength in ctx["segments"]:
            if strength is None:
                parts.append(e(text))
            else:
                parts.append(f'<span class="icv-hl" style="{html_attr(_shade(strength))}" '
                             f'title="{html_attr(format(strength * r["max"], ".3g"))}">{e(text)}</span>')
        contexts.append(f'<div class="icv-ctx">{"".join(parts)} <span class="icv-score">'
                        f"({e(format(ctx['score'], '.3g'))})</span></div>")
    if not contexts:
        contexts.append('<div class="itp-meta">never fires (no positive code)</div>')
    data = ""
    if interactive:
        imp = r["importance"] if r["importance"] is not None else r["mean_abs"]
        data = "".join(f' data-{k}="{html_attr(format(float(v), ".6g"))}"'
                       for k, v in (("index", r["concept"]), ("importance", imp), ("frequency", r["frequency"]),
                                    ("max", r["max"])))
    return (f'<div class="icv-card"{data}><h3>concept {e(r["concept"])}: <bdi>{e(name)}</bdi></h3>'
            f'<table class="icv-metrics"><tr>{cells}</tr></table>{words}{"".join(contexts)}</div>')

"""Views of explanations: self-contained HTML, a multi-method report page, curve plots, terminal colours.

HTML is one file with inline CSS: no CDN, no external font or image (plots are embedded as
``data:`` PNGs). The pages of one explanation and :func:`report_html` have no script; the
interactive page (:func:`interactive_html`, ``Explanations.to_html``) has one inline script of the
library's own, allowed by hash in its Content-Security-Policy, and reads fully without it. Every
piece of text that comes from the input, the model, the tokenizer, a plugin or the caller
(method names, labels, titles, file names) goes through
:func:`interpreto_core._safe_text.html_text`, and every attribute value is double-quoted, so an
input like ``<script>alert(1)</script>`` shows as text and runs nothing. Colours follow a
diverging scale centred at zero: blue for negative scores, white for zero, red for positive,
saturated at the largest absolute score of the view (shown in the view's legend).
"""

from __future__ import annotations

import base64
import hashlib
import io
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, cast

import numpy as np

from ._safe_text import html_attr, html_text, terminal

__all__ = [
    "explanation_html",
    "explanation_fragment",
    "explanation_terminal",
    "interactive_html",
    "compare",
    "report_html",
    "save_report",
    "plot_curves",
    "score_color",
]

# Endpoints of the diverging scale (ColorBrewer RdBu ends), white at zero.
_NEG = (33, 102, 172)
_POS = (178, 24, 43)
_WHITE = (255, 255, 255)

_CSS = """
.itp{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1a1a1a;line-height:1.5;max-width:1200px}
.itp h1{font-size:1.4em;margin:.4em 0}.itp h2{font-size:1.15em;margin:1em 0 .3em}
.itp h3{font-size:1em;margin:.8em 0 .2em}
.itp .itp-meta{color:#555;font-size:.85em;margin:.1em 0 .4em}
.itp .itp-view{border:1px solid #ddd;border-radius:6px;padding:.6em .8em;margin:.5em 0;background:#fff}
.itp .itp-text{white-space:pre-wrap;overflow-wrap:anywhere;font-size:1.05em;line-height:2}
.itp .itp-el{border-radius:3px;padding:.1em .15em;margin:0 .02em;border:1px solid rgba(0,0,0,.08)}
.itp .itp-legend{display:flex;align-items:center;gap:.5em;font-size:.8em;color:#444;margin:.4em 0}
.itp .itp-bar{width:220px;height:12px;border:1px solid #999;border-radius:2px;
 background:linear-gradient(to right,rgb(33,102,172),rgb(255,255,255),rgb(178,24,43))}
.itp table{border-collapse:collapse;font-size:.85em;margin:.4em 0}
.itp th,.itp td{border:1px solid #ddd;padding:.2em .45em;text-align:center}
.itp th{background:#f4f4f4;font-weight:600}
.itp .itp-matrix td{min-width:2.2em;font-variant-numeric:tabular-nums}
.itp .itp-matrix th.itp-col{font-weight:500;white-space:nowrap}
.itp .itp-scroll{overflow-x:auto}
.itp .itp-na{background:repeating-linear-gradient(45deg,#f2f2f2,#f2f2f2 4px,#e4e4e4 4px,#e4e4e4 8px);color:#aaa}
.itp .itp-gen{background:#eef5ee;border-radius:3px;padding:0 .2em}
.itp .itp-grid{display:grid;gap:.6em;grid-template-columns:repeat(auto-fit,minmax(280px,1fr))}
.itp .itp-seg{margin:.15em 0}
.itp .itp-best{font-weight:700}
.itp .itp-rand{color:#777;font-size:.9em}
.itp details{font-size:.85em;margin-top:.3em}
.itp img{max-width:100%;border:1px solid #eee}
"""


# -- colours ------------------------------------------------------------------------------------
def score_color(value: float, vmax: float) -> tuple[int, int, int]:
    """RGB of ``value`` on the diverging scale saturated at ``+-vmax`` (white at zero)."""
    if not math.isfinite(value) or vmax <= 0:
        return _WHITE
    t = max(-1.0, min(1.0, value / vmax))
    end = _POS if t > 0 else _NEG
    a = abs(t)
    return tuple(round(w + (e - w) * a) for w, e in zip(_WHITE, end, strict=True))  # type: ignore[return-value]


def _css_color(value: float, vmax: float) -> str:
    r, g, b = score_color(value, vmax)
    fg = "#fff" if (0.299 * r + 0.587 * g + 0.114 * b) < 140 else "#111"
    return f"background:rgb({r},{g},{b});color:{fg}"


def _vmax(values: np.ndarray) -> float:
    finite = np.abs(values[np.isfinite(values)])
    return float(finite.max()) if finite.size else 0.0


def _fmt(value: float) -> str:
    return f"{value:+.3g}" if math.isfinite(value) else "n/a"


def _legend(vmax: float) -> str:
    return (
        '<div class="itp-legend"><span>' + html_text(_fmt(-vmax)) + '</span><span class="itp-bar"></span><span>'
        + html_text(_fmt(vmax)) + "</span><span>(blue: against the target, red: for it; white: 0)</span></div>"
    )


_WHITESPACE_SIGNS = str.maketrans({"\n": "⏎", "\r": "↵", "\t": "⇥", " ": "␣"})


def _visible_token(token: str) -> str:
    """A whitespace-only token ("\n", " ") drawn with visible signs, so its row or column is not blank."""
    return token.translate(_WHITESPACE_SIGNS) if token and not token.strip() else token


# -- one explanation ----------------------------------------------------------------------------
def _highlighted_text(expl: Any, row: np.ndarray, vmax: float, limit: int | None = None,
                      window: tuple[int, int] | None = None, keep: list[int] | None = None,
                      exact: bool = False) -> str:
    """The text with its elements coloured; gaps between elements kept as plain escaped text.

    ``limit``: only the first elements; ``window`` / ``keep``: only that part of the text and
    those elements (one segment of a pair); ``exact``: each chip's title holds the exact score
    and the chip takes keyboard focus (the interactive view)."""
    n = limit if limit is not None else len(expl.elements)
    chosen = keep if keep is not None else list(range(n))
    spans = [expl.spans[e] for e in chosen]
    lo, hi = window if window is not None else (0, len(expl.text))

    def chip(e: int) -> str:
        if exact:
            return _exact_chip(expl.elements[e], float(row[e]), vmax)
        title = f"{expl.elements[e]}: {_fmt(float(row[e]))}"
        return (f'<span class="itp-el" style="{_css_color(float(row[e]), vmax)}" title="{html_attr(title)}">'
                f"{html_text(expl.elements[e])}</span>")

    if any(s is None for s in spans):
        return " ".join(chip(e) for e in chosen)
    out, pos = [], lo
    for k in sorted(range(len(chosen)), key=lambda k: spans[k][0]):
        start, end = spans[k]
        if start < pos:  # overlapping spans (should not happen): show the element anyway
            out.append(chip(chosen[k]))
            continue
        out.append(html_text(expl.text[pos:start]))
        out.append(chip(chosen[k]))
        pos = end
    out.append(html_text(expl.text[pos:hi]))
    return "".join(out)


def _score_table(expl: Any, row: np.ndarray, n: int) -> str:
    cells = "".join(f"<tr><td>{html_text(expl.elements[e])}</td><td>{html_text(_fmt(float(row[e])))}</td></tr>"
                    for e in range(n))
    return f"<details><summary>scores</summary><table><tr><th>element</th><th>score</th></tr>{cells}</table></details>"


def _target_label(target: Any) -> str:
    foil = getattr(target, "foil_label", None)
    vs = f" rather than {foil} (#{target.foil})" if foil is not None else ""
    return f"{target.label} (#{target.index}){vs}"


def _segmented_text(expl: Any, row: np.ndarray, vmax: float, exact: bool = False) -> str:
    """Each named segment of the input (a pair's two texts) on its own labelled line."""
    segments, names = expl.segments, expl.segment_names
    if not names or not segments or any(s is None for s in expl.spans) or len(set(segments)) < 2:
        return _highlighted_text(expl, row, vmax, exact=exact)
    order = sorted(set(segments))
    bounds = []
    for s in order:
        spans = [expl.spans[e] for e in range(len(expl.elements)) if segments[e] == s]
        bounds.append((min(a for a, _ in spans), max(b for _, b in spans)))
    lines = []
    for k, s in enumerate(order):
        # a segment runs from its first element (the first: from the start) to the last non-blank
        # character before the next segment, so the joining whitespace starts no line
        start = 0 if k == 0 else bounds[k][0]
        if k == len(order) - 1:
            end = len(expl.text)
        else:
            end = bounds[k][1] + len(expl.text[bounds[k][1] : bounds[k + 1][0]].rstrip())
        chips = _highlighted_text(expl, row, vmax, window=(start, end),
                                  keep=[e for e in range(len(expl.elements)) if segments[e] == s], exact=exact)
        name = names[s] if 0 <= s < len(names) else str(s)
        lines.append(f'<div class="itp-seg"><b>{html_text(name)}</b> {chips}</div>')
    return "".join(lines)


def _classifier_views(expl: Any) -> str:
    views = []
    for t, target in enumerate(expl.targets):
        row = np.asarray(expl.scores[t], dtype=float)
        vmax = _vmax(row)
        views.append(
            '<div class="itp-view">'
            f'<div class="itp-meta">target <b>{html_text(_target_label(target))}</b></div>'
            f'<div class="itp-text">{_segmented_text(expl, row, vmax)}</div>'
            f"{_legend(vmax)}{_score_table(expl, row, len(expl.elements))}</div>"
        )
    return "".join(views)


def _generation_view(expl: Any) -> str:
    """The matrix generated tokens (rows, the targets) x elements (prompt elements, then generated tokens)."""
    scores = np.asarray(expl.scores, dtype=float)
    generated = expl.generated or (False,) * len(expl.elements)
    n_prompt = len(expl.elements) - sum(generated)
    # which cells can be non-zero: generated element j (token j) only influences targets after it
    if getattr(expl, "visible", None) is not None:
        visible = np.asarray(expl.visible, dtype=bool)
    else:
        gen_index = np.cumsum(generated) - 1
        visible = np.array([[not generated[e] or gen_index[e] < t for e in range(len(expl.elements))]
                            for t in range(len(expl.targets))], dtype=bool)
    vmax = _vmax(np.where(visible, scores, np.nan))
    head = "".join(
        f'<th class="itp-col{" itp-gen" if generated[e] else ""}">{html_text(_visible_token(expl.elements[e]))}</th>'
        for e in range(len(expl.elements))
    )
    rows = []
    for t, target in enumerate(expl.targets):
        cells = []
        for e in range(len(expl.elements)):
            if not visible[t, e]:
                cells.append('<td class="itp-na" title="cannot influence this token"></td>')
                continue
            v = float(scores[t, e])
            title = f"{expl.elements[e]} -> {target.label}: {_fmt(v)}"
            cells.append(f'<td style="{_css_color(v, vmax)}" title="{html_attr(title)}">{html_text(f"{v:.2g}")}</td>')
        rows.append(f'<tr><th class="itp-gen">{html_text(_visible_token(target.label))}</th>{"".join(cells)}</tr>')
    summed = np.where(visible[:, :n_prompt], scores[:, :n_prompt], 0.0).sum(0)
    score = getattr(expl, "score", None) or "log-probability"
    if expl.output_text is None and not any(generated):  # token-level targets of the input (tagging, masks)
        return (
            '<div class="itp-view">'
            f'<div class="itp-text">{html_text(expl.text)}</div>'
            f'<div class="itp-meta">each row explains one target ({html_text(score)}) over the input\'s elements</div>'
            f'<div class="itp-scroll"><table class="itp-matrix"><tr><th>target \\ element</th>{head}</tr>'
            f'{"".join(rows)}</table></div>{_legend(vmax)}</div>'
            '<div class="itp-view"><div class="itp-meta">elements, scores summed over the targets</div>'
            f'<div class="itp-text">{_segmented_text(expl, summed, _vmax(summed))}</div>'
            f"{_legend(_vmax(summed))}</div>"
        )
    output = expl.output_text if expl.output_text is not None else "".join(t.label for t in expl.targets)
    source, produced = ("source", "target") if getattr(expl, "task", None) == "seq2seq" else ("prompt", "continuation")
    return (
        '<div class="itp-view">'
        f'<div class="itp-text"><b>{source}</b> {html_text(expl.text)}<br><b>{produced}</b> '
        f'<span class="itp-gen">{html_text(output)}</span></div>'
        f'<div class="itp-meta">each row explains one {produced} token ({html_text(score)}) over the '
        f"{source}'s elements and the tokens before it; hatched cells cannot influence that token</div>"
        f'<div class="itp-scroll"><table class="itp-matrix"><tr><th>{produced} \\ element</th>{head}</tr>'
        f'{"".join(rows)}</table></div>'
        f"{_legend(vmax)}</div>"
        f'<div class="itp-view"><div class="itp-meta">{source} elements, scores summed over the {produced} tokens</div>'
        f'<div class="itp-text">{_highlighted_text(expl, summed, _vmax(summed), limit=n_prompt)}</div>'
        f"{_legend(_vmax(summed))}</div>"
    )


def explanation_fragment(expl: Any, *, heading: bool = True) -> str:
    """An explanation as an HTML fragment (a ``div``; include :data:`_CSS` once in the page)."""
    task = getattr(expl, "task", None) or expl.model_kind
    score = f" · score: {expl.score}" if getattr(expl, "score", None) else ""
    meta = f"{expl.method} · {expl.granularity} elements · task: {task.replace('_', ' ')}{score}"
    top = f'<h3>{html_text(expl.method)}</h3><div class="itp-meta">{html_text(meta)}</div>' if heading else ""
    token_level = any(t.position is not None for t in expl.targets) or any(expl.generated)
    body = _generation_view(expl) if token_level else _classifier_views(expl)
    return f"<div>{top}{body}</div>"


def _page(title: str, body: str) -> str:
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html_text(title)}</title><style>{_CSS}</style></head>"
        f'<body><div class="itp">{body}</div></body></html>\n'
    )


def page_body(page: str) -> str:
    """The content of a page made by :func:`_page` (to combine several pages' sections into one)."""
    start = page.index('<div class="itp">') + len('<div class="itp">')
    return page[start : page.rindex("</div></body>")]


def explanation_html(expl: Any) -> str:
    """A self-contained HTML page for one :class:`~interpreto_core.Explanation` (``Explanation.to_html``).

    Classifiers: one highlighted view of the text per target. Causal LMs: the generated text and the
    matrix generated tokens x input elements. Inline CSS only; every token HTML-escaped.
    """
    return _page(f"interpreto: {expl.method}", explanation_fragment(expl))


# -- several methods ----------------------------------------------------------------------------
def _metric_table(metrics: Mapping[str, Mapping[str, Any]]) -> str:
    """``metrics[method][metric] -> MetricResult``: methods as rows, metrics as columns, best in bold."""
    names: list[str] = []
    for per_method in metrics.values():
        names += [m for m in per_method if m not in names]
    best: dict[str, float] = {}
    for name in names:
        values = [(r.mean if r.higher_is_better else -r.mean) for per in metrics.values()
                  if (r := per.get(name)) is not None and math.isfinite(r.mean)]
        if values:
            best[name] = max(values)
    head = "".join(
        f"<th>{html_text(n)} {'↑' if _direction(metrics, n) else '↓'}</th>" for n in names
    )
    rows = []
    for method, per in metrics.items():
        cells = []
        for name in names:
            r = per.get(name)
            if r is None:
                cells.append("<td>–</td>")
                continue
            signed = r.mean if r.higher_is_better else -r.mean
            cls = ' class="itp-best"' if name in best and math.isclose(signed, best[name]) else ""
            cells.append(f'<td{cls}>{html_text(f"{r.mean:.3f}")} <span class="itp-rand">'
                         f'(random {html_text(f"{r.random_mean:.3f}")})</span></td>')
        rows.append(f"<tr><th>{html_text(method)}</th>{''.join(cells)}</tr>")
    return f"<table><tr><th>method</th>{head}</tr>{''.join(rows)}</table>"


def _direction(metrics: Mapping[str, Mapping[str, Any]], name: str) -> bool:
    for per in metrics.values():
        if name in per:
            return bool(per[name].higher_is_better)
    return True


def _png_tag(png: bytes, alt: str) -> str:
    return f'<img alt="{html_attr(alt)}" src="data:image/png;base64,{base64.b64encode(png).decode("ascii")}">'


def report_html(
    explanations: Mapping[str, Sequence[Any]],
    *,
    metrics: Mapping[str, Mapping[str, Any]] | None = None,
    plots: Sequence[bytes] = (),
    title: str = "interpreto report",
) -> str:
    """A page comparing methods on the same texts.

    Parameters
    ----------
    explanations:
        ``{method name: explanations}``, the same texts in the same order for every method.
    metrics:
        ``{method name: {metric name: MetricResult}}`` shown as a table (mean, random baseline beside).
    plots:
        PNG images (e.g. from :func:`plot_curves`) embedded in the page.
    """
    methods = list(explanations)
    n_texts = {len(v) for v in explanations.values()}
    if len(n_texts) > 1:
        raise ValueError(f"every method must explain the same texts; got {sorted(n_texts)} explanations")
    parts = [f"<h1>{html_text(title)}</h1>"]
    if metrics:
        parts.append("<h2>Faithfulness metrics</h2>"
                     '<div class="itp-meta">mean over texts; the random-order baseline in grey; '
                     "↑ higher is better, ↓ lower is better; best method in bold</div>")
        parts.append(_metric_table(metrics))
    for png in plots:
        parts.append(_png_tag(png, "metric curves"))
    n = n_texts.pop() if n_texts else 0
    for i in range(n):
        first = explanations[methods[0]][i]
        parts.append(f"<h2>Text {i + 1}</h2>")
        cells = []
        for m in methods:
            expl = explanations[m][i]
            if expl.text != first.text:
                raise ValueError(f"text {i} differs between methods {methods[0]!r} and {m!r}")
            cells.append(f'<div><h3>{html_text(m)}</h3>{explanation_fragment(expl, heading=False)}</div>')
        parts.append(f'<div class="itp-grid">{"".join(cells)}</div>')
    return _page(title, "".join(parts))


def save_report(path: str | Path, explanations: Mapping[str, Sequence[Any]], **kwargs: Any) -> Path:
    """Write :func:`report_html` to ``path``."""
    path = Path(path)
    path.write_text(report_html(explanations, **kwargs), encoding="utf-8")
    return path


# -- the interactive page -------------------------------------------------------------------------
#: CSS added to the interactive page: switchers show only when the script runs (``.itp-js``); without
#: it every method and every target is shown, stacked, each with its heading.
_CSS_INTERACTIVE = """
.itp .itp-tabs{display:none;flex-wrap:wrap;gap:.3em;margin:.3em 0}
.itp.itp-js .itp-tabs{display:flex}
.itp.itp-js .itp-pane:not(.itp-on){display:none}
.itp .itp-tab{font:inherit;font-size:.85em;border:1px solid #bbb;border-radius:4px;background:#f7f7f7;
 padding:.15em .6em;cursor:pointer;color:#1a1a1a}
.itp .itp-tab.itp-on{background:#1a1a1a;color:#fff;border-color:#1a1a1a}
.itp .itp-tab:focus-visible,.itp .itp-el:focus-visible{outline:2px solid #e08a00;outline-offset:1px}
.itp .itp-tabs-label{font-size:.8em;color:#555;align-self:center}
.itp .itp-input{border-top:2px solid #eee;margin-top:1em}
.itp .itp-pane{margin:.4em 0}
.itp.itp-js tr.itp-row{cursor:pointer}
.itp tr.itp-row:hover th,.itp tr.itp-row.itp-on th{outline:2px solid #e08a00;outline-offset:-2px}
.itp .itp-tip{position:fixed;z-index:10;pointer-events:none;background:#1a1a1a;color:#fff;font-size:.8em;
 padding:.25em .5em;border-radius:4px;white-space:nowrap;font-variant-numeric:tabular-nums;display:none}
"""

#: the page's only script: adds ``itp-js`` to its root (the switchers appear, only the chosen method
#: and target show), wires the switchers and the matrix rows, and shows each element's ``title`` (the
#: exact score) in a tooltip on hover and keyboard focus. It reads attributes the library wrote and
#: writes text with ``textContent`` only (never ``innerHTML``).
_JS = """(function(){
var here=document.currentScript,
 root=here&&here.parentNode&&here.parentNode.closest?here.parentNode.closest('.itp'):null;
if(!root){var all=document.querySelectorAll('.itp:not(.itp-js)');root=all.length?all[all.length-1]:null;}
if(!root||root.classList.contains('itp-js'))return;
root.classList.add('itp-js');
var index={},order=[];
root.querySelectorAll('[data-group],[data-for]').forEach(function(el){
 var g=el.getAttribute('data-group')||el.getAttribute('data-for');
 if(!index[g]){index[g]=[];order.push([g,el.getAttribute('data-key')]);}index[g].push(el);});
function select(group,key){(index[group]||[]).forEach(function(el){var on=el.getAttribute('data-key')===key;
 el.classList.toggle('itp-on',on);if(el.tagName==='BUTTON'){el.setAttribute('aria-pressed',on?'true':'false');}});}
order.forEach(function(gk){select(gk[0],gk[1]);});
root.addEventListener('click',function(ev){var el=ev.target.closest('[data-for]');
 if(el&&root.contains(el)){select(el.getAttribute('data-for'),el.getAttribute('data-key'));}});
root.addEventListener('keydown',function(ev){var el=ev.target.closest('tr[data-for]');
 if(el&&(ev.key==='Enter'||ev.key===' ')){ev.preventDefault();
  select(el.getAttribute('data-for'),el.getAttribute('data-key'));}});
var tip=document.createElement('div');tip.className='itp-tip';tip.setAttribute('role','tooltip');root.appendChild(tip);
root.querySelectorAll('[title]').forEach(function(el){el.setAttribute('data-tip',el.getAttribute('title'));
 el.removeAttribute('title');});
function show(el){tip.textContent=el.getAttribute('data-tip');tip.style.display='block';
 var r=el.getBoundingClientRect(),w=tip.offsetWidth;
 tip.style.left=Math.max(4,Math.min(r.left,window.innerWidth-w-4))+'px';tip.style.top=(r.bottom+6)+'px';}
function hide(){tip.style.display='none';}
function over(ev){var el=ev.target.closest('[data-tip]');if(el&&root.contains(el)){show(el);}else{hide();}}
root.addEventListener('mouseover',over);root.addEventListener('focusin',over);
root.addEventListener('mouseleave',hide);root.addEventListener('focusout',hide);
})();"""

_SCRIPT_HASH = "sha256-" + base64.b64encode(hashlib.sha256(_JS.encode("utf-8")).digest()).decode("ascii")

#: no network at all (``default-src 'none'``); images only as ``data:``; the one script above only
#: (by its hash: an injected inline script or ``on...=`` handler would not run even if it got through)
CONTENT_SECURITY_POLICY = (f"default-src 'none'; img-src data:; style-src 'unsafe-inline'; "
                           f"script-src '{_SCRIPT_HASH}'")

SCALES = ("row", "global")


def _exact(value: float) -> str:
    """The score as Python prints the float (shortest text that reads back as the same number)."""
    return f"{value:+}" if math.isfinite(value) else "n/a"


def _exact_chip(element: str, value: float, vmax: float) -> str:
    title = f"{_visible_token(element)}: {_exact(value)}"
    return (f'<span class="itp-el" tabindex="0" style="{_css_color(value, vmax)}" title="{html_attr(title)}">'
            f"{html_text(element)}</span>")


def _tabs(group: str, labels: Sequence[str], caption: str) -> str:
    """Buttons that switch the panes of ``group`` (shown only when the script runs)."""
    buttons = "".join(f'<button type="button" class="itp-tab" data-for="{group}" data-key="{k}" '
                      f'aria-pressed="false">{html_text(label)}</button>' for k, label in enumerate(labels))
    return f'<div class="itp-tabs" role="group"><span class="itp-tabs-label">{html_text(caption)}</span>{buttons}</div>'


def _scaled(values: np.ndarray, visible: np.ndarray, scale: str) -> list[float]:
    """``vmax`` of each row: its own largest |score| (``row``), or the explanation's (``global``)."""
    masked = np.where(visible, values, np.nan)
    if scale == "global":
        return [_vmax(masked)] * len(values)
    return [_vmax(r) for r in masked]


def _visible_cells(expl: Any) -> np.ndarray:
    n_t, n_e = len(expl.targets), len(expl.elements)
    if getattr(expl, "visible", None) is not None:
        return np.asarray(expl.visible, dtype=bool)
    generated = expl.generated or (False,) * n_e
    gen_index = np.cumsum(generated) - 1
    return np.array([[not generated[e] or gen_index[e] < t for e in range(n_e)] for t in range(n_t)], dtype=bool)


def _step_note(expl: Any, t: int) -> str:
    steps = getattr(expl, "step_scores", None) or {}
    parts = []
    if "probability" in steps:
        parts.append(f"p={steps['probability'][t]:.3g}")
    if "rank" in steps:
        parts.append(f"rank {int(steps['rank'][t])}")
    return ", ".join(parts)


def _interactive_explanation(expl: Any, uid: str, scale: str) -> str:
    """One explanation: a target switcher, then per target a pane (its label, the coloured text with
    exact scores on hover / focus, its legend); token-level targets also get the matrix targets x
    elements, each row clickable (it selects that target's pane)."""
    scores = np.asarray(expl.scores, dtype=float)
    visible = _visible_cells(expl)
    vmaxes = _scaled(scores, visible, scale)
    group = f"{uid}-t"
    token_level = any(t.position is not None for t in expl.targets) or any(expl.generated)
    generated = expl.generated or (False,) * len(expl.elements)
    n_prompt = len(expl.elements) - sum(generated)
    labels = [_target_label(t) if not token_level else _visible_token(t.label) for t in expl.targets]
    scale_note = "one scale per row" if scale == "row" else "one scale for the whole explanation"
    parts = []
    if token_level:
        output = expl.output_text if expl.output_text is not None else None
        if output is not None or any(generated):
            shown = output if output is not None else "".join(t.label for t in expl.targets)
            source, produced = ("source", "target") if getattr(expl, "task", None) == "seq2seq" else (
                "prompt", "continuation")
            parts.append(f'<div class="itp-text"><b>{source}</b> {html_text(expl.text)}<br><b>{produced}</b> '
                         f'<span class="itp-gen">{html_text(shown)}</span></div>')
        else:
            produced = "target"
            parts.append(f'<div class="itp-text">{html_text(expl.text)}</div>')
        head = "".join(
            f'<th class="itp-col{" itp-gen" if generated[e] else ""}">{html_text(_visible_token(el))}</th>'
            for e, el in enumerate(expl.elements))
        rows = []
        for t, target in enumerate(expl.targets):
            cells = []
            for e, el in enumerate(expl.elements):
                if not visible[t, e]:
                    cells.append('<td class="itp-na" title="cannot influence this token"></td>')
                    continue
                v = float(scores[t, e])
                title = f"{_visible_token(el)} -> {_visible_token(target.label)}: {_exact(v)}"
                cells.append(f'<td style="{_css_color(v, vmaxes[t])}" title="{html_attr(title)}">'
                             f'{html_text(f"{v:.2g}")}</td>')
            note = _step_note(expl, t)
            row_title = f"row {t + 1}: {_visible_token(target.label)}" + (f" ({note})" if note else "")
            rows.append(f'<tr class="itp-row" data-for="{group}" data-key="{t}" tabindex="0">'
                        f'<th class="itp-gen" title="{html_attr(row_title)}">{html_text(_visible_token(target.label))}'
                        f'</th>{"".join(cells)}</tr>')
        parts.append(
            f'<div class="itp-meta">each row explains one {produced} token over the elements before it '
            f"({scale_note}); hatched cells cannot influence that token; click a row to read it below</div>"
            f'<div class="itp-scroll"><table class="itp-matrix"><tr><th>{produced} \\ element</th>{head}</tr>'
            f'{"".join(rows)}</table></div>')
    if len(expl.targets) > 1:
        parts.append(_tabs(group, labels, "target"))
    for t, target in enumerate(expl.targets):
        row = scores[t]
        if token_level:
            keep = [e for e in range(len(expl.elements)) if visible[t, e]]
            text = _highlighted_text(expl, row, vmaxes[t], keep=[e for e in keep if e < n_prompt], exact=True)
            before = [e for e in keep if e >= n_prompt]
            if before:
                text += " " + "".join(_exact_chip(expl.elements[e], float(row[e]), vmaxes[t]) for e in before)
            what = f"row {t + 1}: {html_text(_visible_token(target.label))}"
        else:
            text = _segmented_text(expl, row, vmaxes[t], exact=True)
            what = f"target <b>{html_text(_target_label(target))}</b>"
        parts.append(f'<div class="itp-pane itp-view" data-group="{group}" data-key="{t}">'
                     f'<div class="itp-meta">{what}</div><div class="itp-text">{text}</div>'
                     f"{_legend(vmaxes[t])}</div>")
    return "".join(parts)


def _input_key(expl: Any) -> str:
    import json

    raw = expl.input if getattr(expl, "input", None) is not None else expl.text
    return json.dumps(raw, sort_keys=True, default=str)


def _groups(explanations: Sequence[Any] | Mapping[str, Sequence[Any]]) -> list[list[tuple[str, Any]]]:
    """``[(label, explanation), ...]`` per input: a mapping ``{label: explanations}`` is read position by
    position (the same inputs for every label); a sequence is grouped by input (several methods on one
    input share a group; an input explained twice by one method starts a new group)."""
    if isinstance(explanations, Mapping):
        labels = list(explanations)
        sizes = {len(v) for v in explanations.values()}
        if len(sizes) > 1:
            raise ValueError(f"every method must explain the same inputs; got {sorted(sizes)} explanations")
        n = sizes.pop() if sizes else 0
        out = []
        for i in range(n):
            group = [(str(m), explanations[m][i]) for m in labels]
            first = _input_key(group[0][1])
            for m, expl in group[1:]:
                if _input_key(expl) != first:
                    raise ValueError(f"input {i} differs between {labels[0]!r} and {m!r}")
            out.append(group)
        return out
    groups: list[list[tuple[str, Any]]] = []
    last: dict[str, int] = {}
    for expl in explanations:
        key = _input_key(expl)
        g = last.get(key)
        if g is None or any(m == expl.method for m, _ in groups[g]):
            last[key] = len(groups)
            groups.append([(expl.method, expl)])
        else:
            groups[g].append((expl.method, expl))
    return groups


def _meta(expl: Any) -> str:
    task = getattr(expl, "task", None) or expl.model_kind
    score = f" · score: {expl.score}" if getattr(expl, "score", None) else ""
    return f"{expl.method} · {expl.granularity} elements · task: {task.replace('_', ' ')}{score}"


def interactive_html(
    explanations: Sequence[Any] | Mapping[str, Sequence[Any]],
    *,
    title: str = "interpreto explanations",
    scale: str = "row",
    metrics: Mapping[str, Mapping[str, Any]] | None = None,
    plots: Sequence[bytes] = (),
) -> str:
    """One self-contained interactive page for many explanations (``Explanations.to_html``).

    Per input: a method switcher when several methods explain it, a target switcher when it has
    several targets, the coloured text of the chosen target (hover or focus an element: its exact
    score), and for token-level targets (generation, tagging) the matrix targets x elements, read
    row by row (click a row: that target's text below). Without JavaScript every method and target
    is shown, stacked, and each score is in the element's ``title``.

    Self-contained: inline CSS and one inline script, no network (a Content-Security-Policy allows
    no fetch and only that script, by hash); every text from the input, model, tokenizer, plugins
    or caller is escaped (:mod:`interpreto_core._safe_text`).

    Parameters
    ----------
    explanations:
        Explanations (grouped by input), or ``{method label: explanations}`` with the same inputs
        in the same order for every label.
    scale:
        ``row``: each target's colours saturate at its own largest ``|score|``; ``global``: at the
        explanation's largest (rows comparable).
    metrics, plots:
        As in :func:`report_html`: a metric table and PNG plots above the explanations.
    """
    if scale not in SCALES:
        from ._errors import InputError

        raise InputError(f"unknown scale {scale!r}; choose one of {', '.join(SCALES)}")
    groups = _groups(explanations)
    parts = [f"<h1>{html_text(title)}</h1>"]
    if metrics:
        parts.append("<h2>Faithfulness metrics</h2>"
                     '<div class="itp-meta">mean over texts; the random-order baseline in grey; '
                     "↑ higher is better, ↓ lower is better; best method in bold</div>")
        parts.append(_metric_table(metrics))
    for png in plots:
        parts.append(_png_tag(png, "metric curves"))
    if not groups:
        parts.append("<p>no explanations</p>")
    for i, group in enumerate(groups):
        parts.append(f'<div class="itp-input"><h2>Input {i + 1}</h2>')
        mgroup = f"i{i}-m"
        if len(group) > 1:
            parts.append(_tabs(mgroup, [label for label, _ in group], "method"))
        for k, (label, expl) in enumerate(group):
            parts.append(f'<div class="itp-pane" data-group="{mgroup}" data-key="{k}">'
                         f'<h3>{html_text(label)}</h3><div class="itp-meta">{html_text(_meta(expl))}</div>'
                         f"{_interactive_explanation(expl, f'i{i}-m{k}', scale)}</div>")
        parts.append("</div>")
    body = "".join(parts) + f"<script>{_JS}</script>"
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{html_attr(CONTENT_SECURITY_POLICY)}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html_text(title)}</title><style>{_CSS}{_CSS_INTERACTIVE}</style></head>"
        f'<body><div class="itp">{body}</div></body></html>\n'
    )


def compare(explanations_by_method: Mapping[str, Sequence[Any]], **kwargs: Any) -> str:
    """:func:`interactive_html` of ``{method label: explanations}`` (the same inputs for every label):
    one page, a method switcher on each input."""
    return interactive_html(explanations_by_method, **kwargs)


# -- plots ----------------------------------------------------------------------------------------
_XLABELS = {
    "insertion": "fraction of elements inserted",
    "deletion": "fraction of elements deleted",
    "comprehensiveness": "top-k fraction deleted",
    "sufficiency": "top-k fraction kept",
}


def plot_curves(results: Sequence[Any], *, path: str | Path | None = None, title: str | None = None) -> bytes:
    """PNG of the mean curves of :class:`~interpreto_core.metrics.CurveResult` objects.

    One panel per metric, one line per method (its area or AOPC in the legend) and the random
    baseline dashed. Uses matplotlib's Agg canvas directly: no pyplot state, no GUI backend.
    Returns the PNG bytes (also written to ``path`` if given).
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    by_metric: dict[str, list[Any]] = {}
    for r in results:
        if not hasattr(r, "curves"):
            raise ValueError(f"{r.metric} has no curves to plot")
        by_metric.setdefault(r.metric, []).append(r)
    if not by_metric:
        raise ValueError("no curve results to plot")
    n_lines = max(len(rs) for rs in by_metric.values())
    many = n_lines > 6
    fig = Figure(figsize=((6.6 if many else 5.2) * len(by_metric), 4.2 if many else 3.8), dpi=110,
                 layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, len(by_metric), squeeze=False)[0]
    # the default colour cycle repeats after 10 lines: tab20 keeps up to 20 methods apart
    from matplotlib import colormaps

    tab20 = cast(Any, colormaps["tab20"]).colors  # a ListedColormap: its 20 colours
    palette = tab20[0::2] + tab20[1::2]  # ten distinct hues, then their light shades (dashed)
    for ax, (metric, rs) in zip(axes, by_metric.items(), strict=True):
        for k, r in enumerate(rs):
            grid, y = r.mean_curve()
            if metric in ("comprehensiveness", "sufficiency"):
                grid = np.asarray(r.x[0])
                y = np.mean([c.mean(0) for c in r.curves], axis=0)
            ax.plot(grid, y, lw=1.8, color=palette[k % len(palette)], ls="-" if k % 20 < 10 else "--",
                    label=f"{r.method} ({r.mean:.3f})")
        r0 = rs[0]
        grid, y = r0.mean_curve(random=True)
        if metric in ("comprehensiveness", "sufficiency"):
            grid = np.asarray(r0.x[0])
            y = np.mean([c.mean(0) for c in r0.random_curves], axis=0)
        ax.plot(grid, y, color="black", ls=(0, (5, 2)), lw=1.6, label=f"random ({r0.random_mean:.3f})")
        ax.set_xlabel(_XLABELS.get(metric, "fraction of elements"))
        ax.set_ylabel(f"target score ({r0.parameters.get('mode', 'softmax')})")
        ax.set_title(f"{metric} ({'higher' if r0.higher_is_better else 'lower'} is better)")
        ax.grid(alpha=0.3)
        if many:
            ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
        else:
            ax.legend(fontsize=7, loc="best")
    if title:
        fig.suptitle(title)
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    png = buf.getvalue()
    if path is not None:
        Path(path).write_bytes(png)
    return png


# -- terminal -----------------------------------------------------------------------------------
def _printable(s: Any) -> str:
    """Control characters (ESC included) shown escaped, so a token cannot drive the terminal."""
    return terminal(s)


def explanation_terminal(expl: Any, *, color: bool = True) -> str:
    """The explanation as terminal text: elements on 24-bit background colours (or ``[score]`` tags)."""
    lines = [f"{_printable(expl.method)} · {_printable(expl.granularity)} · {_printable(expl.text)[:80]}"]
    if expl.model_kind == "causal_lm" and expl.output_text is not None:
        lines.append(f"  generated: {_printable(expl.output_text)}")
    generated = expl.generated or (False,) * len(expl.elements)
    for t, target in enumerate(expl.targets):
        row = np.asarray(expl.scores[t], dtype=float)
        vmax = _vmax(row)
        chips = []
        for e, el in enumerate(expl.elements):
            if generated[e] and (np.cumsum(generated)[e] - 1) >= t:
                continue
            text = _printable(el)
            if color:
                r, g, b = score_color(float(row[e]), vmax)
                fg = "97" if (0.299 * r + 0.587 * g + 0.114 * b) < 140 else "30"
                chips.append(f"\x1b[48;2;{r};{g};{b}m\x1b[{fg}m{text}\x1b[0m")
            else:
                chips.append(f"{text}[{row[e]:+.2f}]")
        lines.append(f"  {_printable(target.label)!s:>12} | " + " ".join(chips))
    if color:
        lines.append(f"  scale: \x1b[48;2;{_NEG[0]};{_NEG[1]};{_NEG[2]}m\x1b[97m against \x1b[0m "
                     f"\x1b[48;2;{_POS[0]};{_POS[1]};{_POS[2]}m\x1b[97m for \x1b[0m the target (per row)")
    return "\n".join(lines)

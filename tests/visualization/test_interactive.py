"""The interactive page (``interactive_html``, ``compare``, ``Explanations.to_html``): method and target
switchers, exact scores on hover / focus, the generation matrix read row by row, per-row or global colour
scales; self-contained (one inline script allowed by hash in a Content-Security-Policy, no network); every
text escaped; readable with JavaScript off. Parsed, and rendered in headless Chromium with JS on and off."""

from __future__ import annotations

import base64
import hashlib
import html
import json
import re
import shutil
import subprocess
from html.parser import HTMLParser

import attrs
import numpy as np
import pytest

from interpreto_core import Explanations, InputError, explain
from interpreto_core import visualization as viz
from interpreto_core.visualization import compare, interactive_html, score_color

SCRIPT = "<script>document.title='pwned';document.body.setAttribute('data-pwned','1')</script>"
ATTR = "x\" onmouseover=\"document.title='pwned'\" y=\""
ANSI = "\x1b]0;pwned\x07\x1b[2J\r"
HOSTILE = f"{SCRIPT} {ATTR} {ANSI} bleak"

TAGS = {"html", "head", "meta", "title", "style", "body", "div", "span", "h1", "h2", "h3", "p", "b", "br",
        "table", "tr", "th", "td", "details", "summary", "img", "button", "script"}
ATTRS = {"lang", "charset", "name", "content", "http-equiv", "class", "style", "title", "alt", "src", "type",
         "tabindex", "role", "aria-pressed", "data-for", "data-key", "data-group"}
STYLE = re.compile(r"background:rgb\(\d+,\d+,\d+\);color:#(fff|111)")
GROUP = re.compile(r"i\d+-m\d*(-t)?")


class Page(HTMLParser):
    """Every element with its attributes, the text, the script bodies; problems found on the way."""

    def __init__(self, page: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.scripts: list[str] = []
        self.text: list[str] = []
        self.problems: list[str] = []
        self._in_script = False
        self.feed(page)
        self.close()

    def handle_starttag(self, tag, attrs_):
        a = {k: v or "" for k, v in attrs_}
        self.tags.append((tag, a))
        if tag not in TAGS:
            self.problems.append(f"<{tag}>")
        for k, v in a.items():
            if k not in ATTRS or k.startswith("on"):
                self.problems.append(f"{k}= on <{tag}>")
            if k == "style" and not STYLE.fullmatch(v):
                self.problems.append(f"style {v!r}")
            if k in ("data-for", "data-group") and not GROUP.fullmatch(v):
                self.problems.append(f"{k}={v!r}")
        self._in_script = tag == "script"

    def handle_endtag(self, tag):
        if tag == "script":
            self._in_script = False

    def handle_data(self, data):
        (self.scripts if self._in_script else self.text).append(data)

    def titles(self, tag: str = "span") -> list[str]:
        return [a["title"] for t, a in self.tags if t == tag and "title" in a and "itp-el" in a.get("class", "")]


def checked(page: str) -> Page:
    """Parse ``page``: only the library's own elements and attributes, one script (the library's), the CSP
    holding that script's hash and forbidding any fetch, no raw control character."""
    parsed = Page(page)
    assert not parsed.problems, parsed.problems
    assert parsed.scripts == [viz._JS]
    digest = base64.b64encode(hashlib.sha256(parsed.scripts[0].encode()).digest()).decode()
    csp = [a["content"] for t, a in parsed.tags if t == "meta" and a.get("http-equiv") == "Content-Security-Policy"]
    assert csp == [f"default-src 'none'; img-src data:; style-src 'unsafe-inline'; script-src 'sha256-{digest}'"]
    assert page.count("<script") == 1 and "\x1b" not in page and "\x07" not in page
    assert not re.search(r"(src|href)=\"(https?:|//)", page)  # nothing fetched
    return parsed


@pytest.fixture(scope="module")
def three_targets(classifier, tokenizer):
    texts = ["a charming and often affecting journey.", "dull"]
    return {m: explain(classifier, tokenizer, texts, method=m, targets=[[0, 1, 2]] * 2)
            for m in ("occlusion", "saliency")}


@pytest.fixture(scope="module")
def generation(causal_lm, tokenizer):
    return explain(causal_lm, tokenizer, ["the capital of france is"], method="occlusion", max_new_tokens=4)


# -- structure -------------------------------------------------------------------------------------------
def test_one_input_explained_by_two_methods_shares_a_section_with_switchers(three_targets):
    both = Explanations(three_targets["occlusion"] + three_targets["saliency"])
    page = both.to_html()
    assert page == compare(three_targets) == interactive_html(both)
    parsed = checked(page)
    assert [t for t, _ in parsed.tags].count("h2") == 2  # two inputs, not four explanations
    buttons = [(a["data-for"], a["data-key"]) for t, a in parsed.tags if t == "button"]
    assert buttons[:2] == [("i0-m", "0"), ("i0-m", "1")]  # the method switcher of input 1
    assert [b for b in buttons if b[0] == "i0-m0-t"] == [("i0-m0-t", "0"), ("i0-m0-t", "1"), ("i0-m0-t", "2")]
    panes = [(a["data-group"], a["data-key"]) for t, a in parsed.tags if "data-group" in a]
    assert len(panes) == 2 * (2 + 2 * 3)  # per input: 2 method panes, each with 3 target panes
    # each method pane is headed by its name: readable without the switcher
    assert "".join(parsed.text).count("occlusion · word elements") == 2


def test_the_same_method_twice_on_one_text_is_two_inputs(classifier, tokenizer):
    twice = explain(classifier, tokenizer, ["dull", "dull"], method="occlusion")
    assert [t for t, _ in checked(twice.to_html()).tags].count("h2") == 2


def test_compare_refuses_different_inputs(three_targets, classifier, tokenizer):
    other = explain(classifier, tokenizer, ["a charming and often affecting journey.", "bright"], method="occlusion")
    with pytest.raises(ValueError, match="input 1 differs"):
        compare({"occlusion": three_targets["occlusion"], "other": other})
    with pytest.raises(ValueError, match="the same inputs"):
        compare({"a": three_targets["occlusion"], "b": other[:1]})
    with pytest.raises(InputError, match="unknown scale 'rows'; choose one of row, global"):
        interactive_html(other, scale="rows")


def test_every_element_title_holds_its_exact_score(three_targets):
    expls = three_targets["saliency"]
    parsed = checked(expls.to_html())
    titles = parsed.titles()
    want = [f"{el}: {float(expl.scores[t, e]):+}" for expl in expls for t in range(3)
            for e, el in enumerate(expl.elements)]
    assert titles == want
    for title, (expl, t, e) in zip(titles, [(x, t, e) for x in expls for t in range(3)
                                            for e in range(len(x.elements))], strict=True):
        assert float(title.rsplit(": ", 1)[1]) == float(expl.scores[t, e])  # exact, not rounded
    # every chip takes keyboard focus, so the score is reachable without a mouse
    chips = [a for t, a in parsed.tags if t == "span" and "itp-el" in a.get("class", "")]
    assert all(a.get("tabindex") == "0" for a in chips)


def _colours(parsed: Page, group: str) -> list[set[str]]:
    """The chip colours of each pane of ``group``, in order."""
    out: list[set[str]] = []
    current = None
    for tag, a in parsed.tags:
        if a.get("data-group", "").startswith("i"):
            current = a["data-group"] == group
            if current:
                out.append(set())
        elif current and tag == "span" and "itp-el" in a.get("class", ""):
            out[-1].add(a["style"].split(";")[0])
    return out


def test_row_and_global_colour_scales(three_targets):
    expl = three_targets["occlusion"][0]
    ends = {f"background:rgb{score_color(s, 1.0)}".replace(" ", "") for s in (1.0, -1.0)}
    rows = _colours(checked(interactive_html([expl], scale="row")), "i0-m0-t")
    assert len(rows) == 3 and all(r & ends for r in rows)  # every row saturates at its own largest |score|
    glob = _colours(checked(interactive_html([expl], scale="global")), "i0-m0-t")
    top = int(np.argmax(np.abs(expl.scores).max(1)))
    saturated = [bool(r & ends) for r in glob]
    assert saturated[top] and sum(saturated) == int((np.abs(expl.scores) == np.abs(expl.scores).max()).any(1).sum())
    assert glob != rows


def test_generation_matrix_reads_row_by_row(generation):
    expl = generation[0]
    parsed = checked(generation.to_html())
    rows = [a for t, a in parsed.tags if t == "tr" and "itp-row" in a.get("class", "")]
    assert [(a["data-for"], a["data-key"]) for a in rows] == [("i0-m0-t", str(t)) for t in range(len(expl.targets))]
    heads = [a["title"] for t, a in parsed.tags if t == "th" and a.get("title", "").startswith("row ")]
    vis = viz._visible_token
    assert [h.split(" (")[0] for h in heads] == [f"row {t + 1}: {vis(x.label)}" for t, x in enumerate(expl.targets)]
    cells = [a["title"] for t, a in parsed.tags if t == "td" and "title" in a]
    visible = np.asarray(expl.visible, dtype=bool)
    assert cells.count("cannot influence this token") == int((~visible).sum())
    exact = [c for c in cells if c != "cannot influence this token"]
    want = [f"{vis(el)} -> {vis(x.label)}: {float(expl.scores[t, e]):+}" for t, x in enumerate(expl.targets)
            for e, el in enumerate(expl.elements) if visible[t, e]]
    assert exact == want
    # below the matrix, one pane per row: the elements that row can see, coloured by that row
    per_row = [len([c for c in _colours_of_pane(parsed, t)]) for t in range(len(expl.targets))]
    assert per_row == [int(visible[t].sum()) for t in range(len(expl.targets))]


def _colours_of_pane(parsed: Page, key: int) -> list[str]:
    out, inside = [], False
    for tag, a in parsed.tags:
        if "data-group" in a:
            inside = a["data-group"] == "i0-m0-t" and a["data-key"] == str(key)
        elif inside and tag == "span" and "itp-el" in a.get("class", ""):
            out.append(a["title"])
    return out


def test_hostile_tokens_labels_and_method_names_are_text(classifier, tokenizer, causal_lm):
    expl = explain(classifier, tokenizer, [HOSTILE], method="occlusion", targets=[[0, 1]])[0]
    n = len(expl.elements)
    targets = tuple(attrs.evolve(t, label=SCRIPT if k else ATTR + ANSI) for k, t in enumerate(expl.targets))
    bad = attrs.evolve(expl, method=ATTR, targets=targets, elements=(SCRIPT, ATTR + ANSI) + expl.elements[2:n])
    parsed = checked(compare({HOSTILE: [bad], "plain": [expl]}, title=HOSTILE))
    text = "".join(parsed.text)
    assert SCRIPT in text and "\\x1b]0;pwned\\x07" in text  # shown as text, controls escaped
    assert any(title.startswith(SCRIPT) for title in parsed.titles())
    lm = explain(causal_lm, tokenizer, ["the capital of <b>france</b> is"], method="occlusion", max_new_tokens=2)[0]
    bad_lm = attrs.evolve(lm, output_text=SCRIPT, targets=tuple(attrs.evolve(t, label=ATTR) for t in lm.targets),
                          elements=(ANSI + SCRIPT,) + lm.elements[1:])
    checked(interactive_html([bad_lm]))


def test_empty_collection():
    page = Explanations().to_html()
    assert "no explanations" in page and Page(page).scripts == [viz._JS]


# -- in a browser ---------------------------------------------------------------------------------------------
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--hide-scrollbars"]
needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install chromium)")

#: test-only probe, appended to a copy of the page (its CSP removed so that the probe may run): it reads
#: what the page's own script did, clicks a switcher and a matrix row, hovers and focuses elements
PROBE = """<script>
(function(){var r={},root=document.querySelector('.itp');
function shown(sel){return Array.from(root.querySelectorAll(sel)).filter(function(e){
  return getComputedStyle(e).display!=='none';}).map(function(e){return e.getAttribute('data-key');});}
r.js=root.classList.contains('itp-js');r.titles=root.querySelectorAll('[title]').length;
r.tabs=getComputedStyle(root.querySelector('.itp-tabs')||root).display;
r.methods=shown('[data-group="i0-m"]');r.targets=shown('[data-group="i0-m0-t"]');
var b=root.querySelector('button[data-for="i0-m"][data-key="1"]');if(b){b.click();}
r.methods_after=shown('[data-group="i0-m"]');
var t=root.querySelector('button[data-for="i0-m1-t"][data-key="2"]');if(t){t.click();}
r.targets_after=shown('[data-group="i0-m1-t"]');
var row=root.querySelector('tr[data-for="i0-m0-t"][data-key="2"] td');if(row){row.click();}
r.row_after=shown('[data-group="i0-m0-t"]');
var chip=Array.from(root.querySelectorAll('.itp-el')).filter(function(e){return e.offsetParent!==null;})[0];
chip.dispatchEvent(new MouseEvent('mouseover',{bubbles:true}));var tip=root.querySelector('.itp-tip');
r.hover=[tip.textContent,chip.getAttribute('data-tip'),getComputedStyle(tip).display];
root.dispatchEvent(new MouseEvent('mouseleave'));r.left=getComputedStyle(tip).display;
chip.focus();r.focus=[tip.textContent===chip.getAttribute('data-tip'),getComputedStyle(tip).display];
document.body.setAttribute('data-result',JSON.stringify(r));})();
</script>"""


def _chromium(tmp_path, *args):
    done = subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={tmp_path / 'profile'}", *args],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def _probe(tmp_path, page: str) -> dict:
    csp = re.search(r'<meta http-equiv="Content-Security-Policy"[^>]*>', page).group()
    path = tmp_path / "probe.html"
    path.write_text(page.replace(csp, "").replace("</body>", PROBE + "</body>"), encoding="utf-8")
    dom = _chromium(tmp_path, "--virtual-time-budget=3000", "--dump-dom", path.as_uri())
    return json.loads(html.unescape(re.search(r'data-result="([^"]*)"', dom).group(1)))


@needs_chromium
def test_switchers_and_tooltips_with_javascript(three_targets, tmp_path):
    r = _probe(tmp_path, compare(three_targets))
    assert r["js"] and r["tabs"] == "flex" and r["titles"] == 0  # titles moved to the tooltip
    assert r["methods"] == ["0"] and r["targets"] == ["0"]  # one method, one target at a time
    assert r["methods_after"] == ["1"] and r["targets_after"] == ["2"]
    text, tip, display = r["hover"]
    assert text == tip and display == "block" and re.fullmatch(r".+: [+-]\d.*", text)
    assert r["left"] == "none" and r["focus"] == [True, "block"]


@needs_chromium
def test_clicking_a_matrix_row_shows_that_row(generation, tmp_path):
    r = _probe(tmp_path, generation.to_html())
    assert r["targets"] == ["0"] and r["row_after"] == ["2"]


def _pixels(png) -> np.ndarray:
    from matplotlib.image import imread

    img = (imread(png)[..., :3] * 255).astype(int)
    r, b = img[..., 0], img[..., 2]
    return ((r - b > 60) & (r > 150)) | ((b - r > 60) & (b > 120))  # red or blue chips


@needs_chromium
def test_without_javascript_everything_is_shown_stacked(three_targets, tmp_path):
    page = compare(three_targets)
    # scripts off, as a browser with JavaScript disabled: the page's own policy set to run no script
    # (headless Chromium's --blink-settings=scriptEnabled=false cannot dump or screenshot a page)
    off = page.replace(viz._SCRIPT_HASH, "none")
    assert off.count("script-src &#x27;none&#x27;") == 1
    paths = {"on": tmp_path / "on.html", "off": tmp_path / "off.html"}
    paths["on"].write_text(page, encoding="utf-8")
    paths["off"].write_text(off, encoding="utf-8")
    dom = _chromium(tmp_path, "--virtual-time-budget=2000", "--dump-dom", paths["off"].as_uri())
    assert '<div class="itp">' in dom and 'class="itp itp-js"' not in dom and ' data-tip="' not in dom
    assert dom.count(' title="') == sum(len(e.elements) * 3 for m in three_targets.values() for e in m)
    shots = {}
    for name, path in paths.items():
        shots[name] = tmp_path / f"{name}.png"
        _chromium(tmp_path, "--window-size=1000,4000", f"--screenshot={shots[name]}", path.as_uri())
    on, stacked = _pixels(shots["on"]), _pixels(shots["off"])
    # with JS one method x one target shows per input; without it all 2 x 3 panes do
    rows_on, rows_off = int(on.any(1).sum()), int(stacked.any(1).sum())
    assert rows_on > 0 and rows_off > 4 * rows_on


@needs_chromium
def test_the_policy_runs_only_the_librarys_script(three_targets, tmp_path):
    page = compare(three_targets)
    injected = page.replace("<h1>", f"{SCRIPT}<img src=x onerror=\"document.title='pwned'\"><h1>", 1)
    path = tmp_path / "injected.html"
    path.write_text(injected, encoding="utf-8")
    dom = _chromium(tmp_path, "--virtual-time-budget=2000", "--dump-dom", path.as_uri())
    assert 'class="itp itp-js"' in dom  # the library's script ran (its hash is allowed) ...
    assert 'data-pwned="1"' not in dom and "<title>pwned" not in dom  # ... a script that got in did not
    # the control: without the policy the same injection runs, so the check above can fail
    csp = re.search(r'<meta http-equiv="Content-Security-Policy"[^>]*>', injected).group()
    path.write_text(injected.replace(csp, ""), encoding="utf-8")
    assert 'data-pwned="1"' in _chromium(tmp_path, "--virtual-time-budget=2000", "--dump-dom", path.as_uri())

"""``Explanations`` (what explain() returns): still a list, plus HTML / terminal views, save / from_json, top;
the HTML views of metric results. Every view is parsed: hostile text shows as text, never as an element."""

from __future__ import annotations

import json
import pickle
from html.parser import HTMLParser

import numpy as np
import pytest

from interpreto_core import CurveResult, Explainer, Explanation, Explanations, InputError, MetricResult, explain

from .conftest import HOSTILE_IMG


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self.scripts: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        self._in_script = tag == "script"

    def handle_endtag(self, tag):
        if tag == "script":
            self._in_script = False

    def handle_data(self, data):
        (self.scripts if self._in_script else self.text).append(data)


def _parse(html: str) -> _Tags:
    parser = _Tags()
    parser.feed(html)
    parser.close()
    return parser


def _no_hostile_elements(html: str) -> _Tags:
    from interpreto_core.visualization import _JS

    parsed = _parse(html)
    names = [t for t, _ in parsed.tags]
    # the interactive page's one script is the library's own; no other script element
    assert names.count("script") == len(parsed.scripts) and parsed.scripts in ([], [_JS])
    # the only images are data: PNGs of our own plots, never the input's <img src=x>
    for tag, attrs in parsed.tags:
        if tag == "img":
            assert (attrs.get("src") or "").startswith("data:image/png;base64,")
        assert not any(k.startswith("on") for k in attrs), (tag, attrs)
    return parsed


@pytest.fixture(scope="module")
def expls(cls_expls):
    return cls_expls


# -- list behaviour -----------------------------------------------------------------------------------
def test_explain_returns_explanations_that_behave_as_a_list(expls, classifier, tokenizer):
    assert isinstance(expls, Explanations) and isinstance(expls, list)
    assert len(expls) == 3 and all(isinstance(e, Explanation) for e in expls)
    assert expls == list(expls) and list(expls) == expls
    assert expls[0] is list(expls)[0] and [e for e in expls] == list(expls)
    assert expls[1:] == list(expls)[1:]
    back = pickle.loads(pickle.dumps(expls))
    assert isinstance(back, Explanations) and back == expls
    single = explain(classifier, tokenizer, "a fine film", method="occlusion")
    assert isinstance(single, Explanations) and len(single) == 1
    again = Explainer(classifier, tokenizer, method="occlusion").explain("a fine film")
    assert isinstance(again, Explanations) and again == single


def test_top_is_each_explanations_top(expls):
    assert expls.top(2) == [e.top(2) for e in expls]
    assert expls.top(3, target=0) == [e.top(3, target=0) for e in expls]
    assert all(len(t) == 2 for t in expls.top(2))


# -- serialisation ------------------------------------------------------------------------------------
def test_to_json_is_a_list_of_each_to_json(expls):
    data = expls.to_json()
    assert data == [e.to_json() for e in expls]
    json.dumps(data, allow_nan=False)  # strict JSON
    assert Explanations.from_json(data) == expls
    assert Explanations.from_json(json.dumps(data)) == expls


@pytest.mark.parametrize("suffix", [".json", ".jsonl"])
def test_save_and_read_back(expls, tmp_path, suffix):
    path = expls.save(tmp_path / f"out{suffix}")
    text = path.read_text(encoding="utf-8")
    if suffix == ".jsonl":
        lines = text.splitlines()
        assert len(lines) == len(expls)
        assert [json.loads(line) for line in lines] == expls.to_json()
    else:
        assert json.loads(text) == expls.to_json()
    back = Explanations.from_json(path)
    assert isinstance(back, Explanations) and back == expls
    assert Explanations.from_json(str(path)) == expls


def test_save_html_is_one_escaped_page(expls, tmp_path):
    path = expls.save(tmp_path / "out.html")
    html = path.read_text(encoding="utf-8")
    assert html == expls.to_html() == expls._repr_html_()
    assert html.count("<!DOCTYPE html>") == 1
    parsed = _no_hostile_elements(html)
    assert [t for t, _ in parsed.tags].count("h2") == len(expls)  # one section per explanation
    assert "onerror" in "".join(parsed.text)  # the hostile text is shown, as text


def test_save_refuses_a_missing_folder_and_an_unknown_suffix(expls, tmp_path):
    target = tmp_path / "missing" / "out.json"
    with pytest.raises(InputError, match="does not exist"):
        expls.save(target)
    assert not target.parent.exists()
    with pytest.raises(InputError, match=r"\.html, \.json or \.jsonl"):
        expls.save(tmp_path / "out.csv")
    with pytest.raises(InputError, match="no explanations file"):
        Explanations.from_json(tmp_path / "nothing.json")
    with pytest.raises(InputError, match="JSON list"):
        Explanations.from_json('{"a": 1}')


# -- views -------------------------------------------------------------------------------------------
def test_repr_html_escapes_a_hostile_img(classifier, tokenizer):
    out = explain(classifier, tokenizer, [HOSTILE_IMG, "<img src=x onerror=alert(1)>"], method="occlusion")
    html = out._repr_html_()
    parsed = _no_hostile_elements(html)
    assert "img" not in [t for t, _ in parsed.tags]
    assert "&lt;" in html and "onerror" in "".join(parsed.text)


def test_empty_collection_renders():
    html = Explanations()._repr_html_()
    assert "no explanations" in html and Explanations() == []


def test_show_outside_a_notebook_prints_the_terminal_view(expls, capsys):
    from interpreto_core.visualization import explanation_terminal

    expls.show()
    out = capsys.readouterr().out
    assert out == "".join(explanation_terminal(e) + "\n" for e in expls)
    assert "\x1b[48;2;" in out  # 24-bit colours


def test_show_in_a_notebook_displays_the_html(expls, monkeypatch):
    import sys
    import types

    from interpreto_core import _collection

    shown = []

    class HTML:  # IPython.display.HTML, as far as show() uses it
        def __init__(self, data):
            self.data = data

    display_mod = types.ModuleType("IPython.display")
    display_mod.HTML = HTML
    display_mod.display = shown.append
    ipython = types.ModuleType("IPython")
    ipython.display = display_mod
    ipython.get_ipython = lambda: None  # a plain interpreter: no kernel
    monkeypatch.setitem(sys.modules, "IPython", ipython)
    monkeypatch.setitem(sys.modules, "IPython.display", display_mod)
    assert not _collection._in_notebook()
    ipython.get_ipython = lambda: types.SimpleNamespace(kernel=object())  # a kernel runs
    assert _collection._in_notebook()
    expls.show()
    assert len(shown) == 1 and shown[0].data == expls.to_html()


# -- metric results ------------------------------------------------------------------------------------
HOSTILE_NAME = "<img src=x onerror=alert(1)>"


def test_metric_result_html_is_a_table_beside_the_random_baseline():
    r = MetricResult(metric="sensitivity", method=HOSTILE_NAME, values=[0.1, 0.3], random_values=[0.5, 0.7],
                     higher_is_better=False)
    html = r._repr_html_()
    parsed = _no_hostile_elements(html)
    assert "img" not in [t for t, _ in parsed.tags] and "table" in [t for t, _ in parsed.tags]
    text = "".join(parsed.text)
    assert "0.2 ± 0.1" in text and "0.6 ± 0.1" in text and "random" in text and HOSTILE_NAME in text
    assert "lower is better" in text


def test_curve_result_html_has_an_inline_plot():
    pytest.importorskip("matplotlib")
    x = np.linspace(0, 1, 5)
    r = CurveResult(metric="deletion", method=HOSTILE_NAME, values=[0.4], random_values=[0.6],
                    higher_is_better=False, x=[x], curves=[np.array([[1.0, 0.7, 0.4, 0.2, 0.1]])],
                    random_curves=[np.array([[1.0, 0.9, 0.7, 0.5, 0.3]])])
    parsed = _no_hostile_elements(r._repr_html_())
    imgs = [a for t, a in parsed.tags if t == "img"]
    assert len(imgs) == 1 and imgs[0]["src"].startswith("data:image/png;base64,")
    assert "table" in [t for t, _ in parsed.tags]


def test_evaluated_results_render(classifier, tokenizer, expls):
    from interpreto_core import evaluate

    results = evaluate(classifier, tokenizer, expls, metrics=["deletion"])
    html = results["deletion"]._repr_html_()
    _no_hostile_elements(html)
    assert "deletion" in html and "random" in html


# -- as a person sees it -----------------------------------------------------------------------------
def test_collection_page_in_chromium_runs_no_injected_script(expls, tmp_path):
    import shutil
    import subprocess

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("chromium is not installed (apt-get install chromium)")
    path = expls.save(tmp_path / "all.html")
    cmd = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
           "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={tmp_path / 'p'}",
           "--virtual-time-budget=2000", "--dump-dom", path.as_uri()]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    dom = done.stdout
    assert "<title>interpreto explanations</title>" in dom
    assert "data-pwned" not in dom and "<title>pwned" not in dom and "<img" not in dom
    for i in range(len(expls)):
        assert f"<h2>Input {i + 1}</h2>" in dom

"""Concept views: a self-contained page per dictionary, ordered by importance, escaped, sortable in a browser."""

from __future__ import annotations

import html.parser
import re
import shutil
import subprocess

import numpy as np
import pytest

from interpreto_core.concepts import SplitModel, concept_importance, concept_view, interpret_concepts, make_learner

SCRIPT = "<script>document.title='pwned';document.body.setAttribute('data-pwned','1')</script>"
IMG = "<img src=x onerror=\"document.title='pwned'\">"
TEXTS = ["The cat sat on the mat.", f"Stocks fell {SCRIPT} sharply today.", "The team won the cup final.",
         f"New chips {IMG} use less power.", "Rain is expected tomorrow in Paris.", "A goal in extra time."]


class _Tags(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags, self.attrs = [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.attrs += [name for name, _ in attrs]


@pytest.fixture(scope="module")
def fitted(classifier, tokenizer):
    split = SplitModel(classifier, tokenizer, split_points=1)
    acts = split.collect(TEXTS, granularity="word", progress=False)
    learner = make_learner("pca", n_concepts=4).fit(acts)
    return split, acts, learner


def test_cards_follow_importance_and_highlight_the_top_units(fitted):
    split, acts, learner = fitted
    imp = concept_importance(split, learner, TEXTS, targets=0, progress=False)
    items = interpret_concepts(learner, activations=acts)
    view = concept_view(learner, acts, interpretations=items, importance=imp, metrics={"concept_r2": 0.5},
                        context_chars=1000)  # whole texts: every firing word of a context is in it
    order = [int(c) for c in re.findall(r"<h3>concept (\d+):", view.fragment)]
    assert order == list(np.argsort(-np.abs(imp.mean)))  # static order: |importance|, highest first
    codes = learner.encode(acts.values).detach().double().numpy()
    for record in view.concepts:
        c = record["concept"]
        assert record["importance"] == pytest.approx(imp.mean[c])
        assert record["frequency"] == pytest.approx((codes[:, c] > 0).mean())
        top = int(np.argmax(codes[:, c]))
        first = record["contexts"][0]
        assert first["text"] == acts.text_index[top] and first["score"] == pytest.approx(codes[top, c])
        strongest = max((s for s in first["segments"] if s[1] is not None), key=lambda s: s[1])
        assert strongest == (acts.units[top], pytest.approx(1.0))  # the top unit, fully shaded
        row_of_text = [r for r in range(len(acts)) if acts.text_index[r] == first["text"] and codes[r, c] > 0]
        assert sum(s[1] is not None for s in first["segments"]) == len(row_of_text)  # every firing word of it
        assert len({ctx["text"] for ctx in record["contexts"]}) == len(record["contexts"])  # distinct texts
    from interpreto_core._safe_text import html_text

    first_words = ", ".join(w for w, _ in items[order[0]].words[:5])  # no label: the top words name it
    assert f"<h3>concept {order[0]}: <bdi>{html_text(first_words)}</bdi></h3>" in view.fragment
    assert "<th>concept_r2</th><td>0.5</td>" in view.html and "http" not in view.html  # no network


def test_hostile_text_is_escaped_and_only_our_script_is_there(fitted, tmp_path):
    _, acts, learner = fitted
    view = concept_view(learner, acts, title=SCRIPT)
    for page, scripts in ((view.html, 1), (view.fragment, 0)):
        parsed = _Tags()
        parsed.feed(page)
        assert parsed.tags.count("script") == scripts and "img" not in parsed.tags
        assert not [a for a in parsed.attrs if a.startswith("on")]
    assert "&lt;script&gt;document.title=" in view.html
    assert view.save(tmp_path / "view.html").read_text(encoding="utf-8") == view.html


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed")
def test_chromium_renders_sorts_and_runs_no_injected_script(fitted, tmp_path):
    _, acts, learner = fitted
    view = concept_view(learner, acts, importance=[0.1, -3.0, 2.0, 0.5])
    path = view.save(tmp_path / "view.html")

    def dom(url):
        flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--no-first-run", f"--user-data-dir={tmp_path / 'profile'}", "--virtual-time-budget=2000"]
        done = subprocess.run([CHROMIUM, *flags, "--dump-dom", url], capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr[-2000:]
        return done.stdout

    plain = dom(path.as_uri())
    assert [int(c) for c in re.findall(r"<h3>concept (\d+):", plain)] == [1, 2, 3, 0]
    assert 'data-pwned="1"' not in plain and "<title>pwned" not in plain  # the injected script is text
    assert "sort by: " in plain  # the script ran: it added the sort buttons
    by_index = dom(path.as_uri() + "#sort=index")
    assert 'data-sorted="index"' in by_index
    assert [int(c) for c in re.findall(r"<h3>concept (\d+):", by_index)] == [0, 1, 2, 3]


def test_interpretations_have_an_escaped_notebook_view(fitted):
    _, acts, learner = fitted
    items = interpret_concepts(learner, activations=acts)
    page = items._repr_html_()
    assert page.count("<tr>") == 1 + learner.n_concepts and "<script" not in page and isinstance(items, list)


def test_pipeline_report_shows_the_view_and_saves_the_page(classifier, tokenizer, tmp_path):
    from interpreto_core.pipeline import Pipeline

    folder = tmp_path / "model"
    classifier.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    data = {"model": {"path": str(folder)}, "data": {"texts": TEXTS},
            "concepts": [{"learner": "pca", "split": 1, "granularity": "word", "params": {"n_concepts": 3},
                          "show": 2}]}
    result = Pipeline.from_dict(data).run(tmp_path / "out", progress=False)
    page = result.report.read_text()
    assert result.concepts[0]["view"] == "concepts_0_pca_view.html"
    view = (tmp_path / "out" / "concepts_0_pca_view.html").read_text()
    assert view.count("<h3>concept ") == 3 and page.count("<h3>concept ") == 2  # the report shows `show` cards
    parsed = _Tags()
    parsed.feed(page)
    assert "img" not in parsed.tags and parsed.tags.count("script") == 0  # the report's cards carry no script
    assert "icv-hl" in page  # highlighted contexts

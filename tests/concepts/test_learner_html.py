"""The notebook card of a fitted / unfitted learner: its facts, escaping of hostile labels, Chromium."""

from __future__ import annotations

import html.parser
import re
import shutil
import subprocess

import attrs
import pytest

from interpreto_core.concepts import SplitModel, concept_view, interpret_concepts, make_learner

SCRIPT = "<script>document.title='pwned';document.body.setAttribute('data-pwned','1')</script>"
HOSTILE = f"{SCRIPT}</textarea><img src=x onerror=\"document.title='pwned'\">\u202egnp.exe"
TEXTS = ["The cat sat on the mat.", f"Stocks fell {SCRIPT} sharply today.", "The team won the cup final.",
         "New chips use less power.", "Rain is expected tomorrow in Paris.", "A goal in extra time."]


class _Tags(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags, self.attrs, self.text = [], [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.attrs += [name for name, _ in attrs]

    def handle_data(self, data):
        self.text.append(data)


def _parsed(page):
    p = _Tags()
    p.feed(page)
    return p


@pytest.fixture(scope="module")
def fitted(classifier, tokenizer):
    split = SplitModel(classifier, tokenizer, split_points=1)
    acts = split.collect(TEXTS, granularity="word", progress=False, standardize=True)
    learner = make_learner("pca", n_concepts=3).fit(acts)
    items = [attrs.evolve(i, label=HOSTILE if i.concept == 1 else None)
             for i in interpret_concepts(learner, activations=acts)]
    return acts, learner, items


def test_unfitted_learner_card_says_so():
    learner = make_learner("topk_sae", n_concepts=7)
    page = learner._repr_html_()
    assert "not fitted" in page and "7 concepts asked" in page and "topk_sae" in page
    assert "not fitted" in repr(learner) and "n_concepts=7" in repr(learner)
    assert "script" not in _parsed(page).tags


def test_fitted_card_shows_what_it_was_fitted_on(fitted):
    acts, learner, items = fitted
    page = learner.html_card(metrics={"concept_r2": 0.4321}, interpretations=items)
    text = " ".join(_parsed(page).text)
    assert f"{len(acts):,} rows x {acts.hidden_size} at {acts.split_point} (word rows)" in text
    assert "<th>concepts</th><td>3</td>" in page and "units standardised" in text and "0.4321" in text
    assert "outlier tokens (norm &gt; 10 x its text&#x27;s median) left out" in page
    # the learner's own repr: name, concepts, split point, hygiene
    assert re.fullmatch(r"PCA\(n_concepts=3, seed=0; 3 concepts x 32; fitted at .*units standardised\)\)",
                        repr(learner))
    # without interpretations and no view: a pointer to concept_view
    assert "concept_view(learner, activations" in learner._repr_html_()


def test_hostile_labels_are_escaped_and_isolated(fitted):
    acts, learner, items = fitted
    view = concept_view(learner, acts, interpretations=items, title=SCRIPT)
    learner.view, learner.metrics = view, {"<b>bold</b>": 1.0}
    try:
        page = learner._repr_html_()
    finally:
        learner.view = learner.metrics = None
    parsed = _parsed(page)
    assert "script" not in parsed.tags and "img" not in parsed.tags and "textarea" not in parsed.tags
    assert "b" not in parsed.tags and not [a for a in parsed.attrs if a.startswith("on")]
    assert "&lt;script&gt;document.title=" in page and "&lt;/textarea&gt;" in page
    assert page.count("<details>") == 1 and view.fragment in page  # the concept view, folded in
    # the bidi override stays inside its <bdi> element (it cannot reorder what follows the label)
    for match in re.finditer("\u202e", page):
        opened = page.rfind("<bdi>", 0, match.start())
        assert opened >= 0 and page.find("</bdi>", opened) > match.start()
        assert page.rfind("</bdi>", 0, match.start()) < opened
    assert "body{" not in page  # the embedded view restyles nothing around it


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed")
def test_chromium_renders_the_card_and_runs_no_injected_script(fitted, tmp_path):
    acts, learner, items = fitted
    view = concept_view(learner, acts, interpretations=items)
    card = learner.html_card(interpretations=items, view=view, metrics={"concept_r2": 0.5})
    assert "<script" not in card  # no script of ours: what renders is the static markup
    path = tmp_path / "card.html"
    path.write_text(f'<!DOCTYPE html><html><head><meta charset="utf-8"><title>card</title></head>'
                    f"<body>{card}</body></html>", encoding="utf-8")
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run",
             f"--user-data-dir={tmp_path / 'profile'}", "--virtual-time-budget=2000"]
    done = subprocess.run([CHROMIUM, *flags, "--dump-dom", path.as_uri()], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    dom = done.stdout
    assert 'data-pwned="1"' not in dom and "<title>pwned" not in dom and "<title>card</title>" in dom
    assert "&lt;script&gt;document.title=" in dom  # the hostile label is shown as text
    assert dom.count('class="icv-card"') == 3 and "<th>concept_r2</th><td>0.5</td>" in dom
    assert f"{len(acts):,} rows x {acts.hidden_size}" in dom

"""Every string that reaches HTML is escaped: input text, tokens, labels (id2label, targets, foils, segments,
concepts), method / metric / task / score names, titles, file names; every attribute value is quoted.

Each page is parsed: no element or attribute the library does not write itself may appear."""

from __future__ import annotations

import types

import attrs
import pytest

from interpreto_core import explain
from interpreto_core._safe_text import html_attr, html_text
from interpreto_core.visualization import explanation_html, report_html

from .conftest import ATTR_BREAK, HOSTILE, HOSTILE_LABELS, IMG, SCRIPT, check_page


def test_the_helper_escapes_markup_quotes_and_controls():
    assert html_text(SCRIPT).startswith("&lt;script&gt;")
    assert '"' not in html_attr(ATTR_BREAK) and "'" not in html_attr("it's") and "<" not in html_attr(IMG)
    assert html_text("a\x00b\x1bc\x9bd\udc80e") == "a\\x00b\\x1bc\\x9bd\\udc80e"  # shown, not written raw
    assert html_text("tab\tnew\nline") == "tab\tnew\nline"
    assert html_text(3) == "3"


@pytest.fixture(scope="module")
def hostile_expls(hostile_classifier, tokenizer):
    return explain(hostile_classifier, tokenizer, [HOSTILE, "a fine film"], method="occlusion", targets=[[0, 1, 2]] * 2)


def test_to_html_escapes_text_tokens_and_id2label(hostile_expls):
    expl = hostile_expls[0]
    assert {t.label for t in expl.targets} == set(HOSTILE_LABELS.values())
    check_page(expl.to_html())


def test_foil_labels_are_escaped(hostile_classifier, tokenizer):
    expl = explain(hostile_classifier, tokenizer, [HOSTILE], method="occlusion", targets=[0], contrast=2)[0]
    assert expl.targets[0].foil_label == HOSTILE_LABELS[2]
    check_page(expl.to_html())


def test_names_scores_tasks_segments_and_elements_are_escaped(hostile_expls):
    expl = hostile_expls[1]
    n = len(expl.elements)
    bad = attrs.evolve(expl, method=HOSTILE, granularity=IMG, score=ATTR_BREAK, task=SCRIPT,
                       elements=(IMG,) + expl.elements[1:], spans=(None,) * n,
                       segments=(0,) * (n // 2) + (1,) * (n - n // 2), segment_names=(SCRIPT, ATTR_BREAK))
    check_page(explanation_html(bad))
    with_spans = attrs.evolve(expl, segments=(0,) * (n // 2) + (1,) * (n - n // 2), segment_names=(SCRIPT, IMG))
    check_page(explanation_html(with_spans))


def test_generation_view_escapes_tokens_labels_and_output(causal_lm, tokenizer):
    expl = explain(causal_lm, tokenizer, [HOSTILE[:60]], method="occlusion", max_new_tokens=2)[0]
    targets = tuple(attrs.evolve(t, label=IMG) for t in expl.targets)
    bad = attrs.evolve(expl, targets=targets, output_text=SCRIPT, elements=(ATTR_BREAK,) + expl.elements[1:])
    check_page(explanation_html(bad))


def _metric(name: str, higher: bool = True):
    return types.SimpleNamespace(metric=name, mean=0.5, random_mean=0.25, higher_is_better=higher)


def test_report_escapes_method_metric_and_title(hostile_expls):
    metrics = {HOSTILE: {IMG: _metric(IMG), ATTR_BREAK: _metric(ATTR_BREAK, False)}, "plain": {IMG: _metric(IMG)}}
    page = report_html({HOSTILE: hostile_expls, "plain": hostile_expls}, metrics=metrics, plots=[b"\x89PNG"],
                       title=HOSTILE)
    checker = check_page(page, images=1)
    assert checker.title.startswith("<script>")  # the title is the text, shown as text


def test_concept_table_escapes_labels_words_and_names():
    from interpreto_core.concepts.pipeline import concept_table_html

    summary = {"learner": SCRIPT, "split_point": ATTR_BREAK, "rows": 3, "fit_seconds": 0.5,
               "metrics": {IMG: 0.5},
               "concepts": {IMG: [{"label": HOSTILE, "words": [[SCRIPT, 1.0], [IMG, 0.5]], "method": ATTR_BREAK}]}}
    check_page("<html><body>" + concept_table_html(summary) + "</body></html>")

"""Explanation HTML: self-contained, escaped, a diverging scale centred at zero, one view per target."""

from __future__ import annotations

import html
import re

import numpy as np
import pytest

from interpreto_core import Explanation, explain
from interpreto_core.visualization import explanation_html, score_color


def test_score_color_is_diverging_and_centred():
    assert score_color(0.0, 1.0) == (255, 255, 255)
    assert score_color(1.0, 1.0) == (178, 24, 43)  # red end
    assert score_color(-1.0, 1.0) == (33, 102, 172)  # blue end
    assert score_color(5.0, 1.0) == score_color(1.0, 1.0)  # saturates
    r, g, b = score_color(0.5, 1.0)
    assert r > g and r > b and (r, g, b) != (255, 255, 255)
    assert score_color(float("nan"), 1.0) == (255, 255, 255)
    assert score_color(1.0, 0.0) == (255, 255, 255)


def test_every_token_is_escaped(cls_expls):
    page = cls_expls[1].to_html()
    assert "<script" not in page.lower()
    assert "onmouseover=x" not in page.replace("&quot; onmouseover=x", "")
    assert html.escape("<script>") in page or "&lt;" in page
    for el in cls_expls[1].elements:
        assert html.escape(el, quote=True) in page
    page = cls_expls[2].to_html()
    assert "<img" not in page


def test_self_contained_page(cls_expls):
    page = explanation_html(cls_expls[0])
    assert page.startswith("<!DOCTYPE html>") and '<meta charset="utf-8">' in page
    assert "<style>" in page and "<script" not in page
    assert not re.search(r"(src|href)=\"?(https?:)?//", page)  # no CDN, no remote resource
    assert "@import" not in page and "url(" not in page
    assert cls_expls[0]._repr_html_() == page


def test_one_view_per_target_with_legend(classifier, tokenizer):
    expl = explain(classifier, tokenizer, "a charming journey", method="occlusion", targets=[[0, 1, 2]])[0]
    page = expl.to_html()
    assert page.count('class="itp-view"') == 3
    assert page.count('class="itp-legend"') == 3
    for t in expl.targets:
        assert html.escape(t.label) in page
    # each view's legend is symmetric around zero, saturating at that target's largest |score|
    vmax = float(np.abs(expl.scores[1]).max())
    assert f"{-vmax:+.3g}" in page and f"{vmax:+.3g}" in page


def test_colour_of_each_element_follows_its_score(cls_expls):
    expl = cls_expls[0]
    page = expl.to_html()
    row = expl.scores[0]
    vmax = np.abs(row).max()
    for e in range(len(expl.elements)):
        r, g, b = score_color(float(row[e]), float(vmax))
        assert f"background:rgb({r},{g},{b})" in page


def test_text_between_elements_is_kept(cls_expls):
    page = cls_expls[0].to_html()
    text = re.sub(r"<[^>]+>", "", page.split('class="itp-text">')[1].split("</div>")[0])
    assert html.unescape(text) == cls_expls[0].text


def test_generation_matrix(lm_expl):
    page = lm_expl.to_html()
    n_t, n_e = lm_expl.scores.shape
    matrix = page.split('class="itp-matrix"')[1].split("</table>")[0]
    assert matrix.count("<tr>") == n_t + 1  # header + one row per generated token
    # generated token j cannot influence tokens up to and including j: a triangle of hatched cells
    n_gen = sum(lm_expl.generated)
    assert matrix.count('class="itp-na"') == n_gen * (n_gen + 1) // 2
    assert html.escape(lm_expl.output_text) in page
    assert "&lt;b&gt;" in page and "<b>france" not in page


def test_html_and_json_round_trip(cls_expls, tmp_path):
    expl = cls_expls[1]
    expl.save(tmp_path / "x.html")
    assert (tmp_path / "x.html").read_text(encoding="utf-8") == expl.to_html()
    expl.save(tmp_path / "x.json")
    back = Explanation.from_json(tmp_path / "x.json")
    assert back == expl and back.text.startswith("<script>")
    np.testing.assert_array_equal(back.scores, expl.scores)
    assert back.to_html() == expl.to_html()


@pytest.mark.parametrize("granularity", ["token", "sentence"])
def test_other_granularities(classifier, tokenizer, granularity):
    expl = explain(classifier, tokenizer, "Great acting. Dull plot!", method="occlusion", granularity=granularity)[0]
    page = expl.to_html()
    for el in expl.elements:
        assert html.escape(el) in page


def test_whitespace_tokens_stay_visible_in_the_matrix(lm_expl):
    import attrs

    elements = lm_expl.elements[:-1] + ("\n",)
    targets = list(lm_expl.targets)
    targets[-1] = attrs.evolve(targets[-1], label=" ")
    page = attrs.evolve(lm_expl, elements=elements, targets=targets).to_html()
    matrix = page.split('class="itp-matrix"')[1]
    assert ">⏎</th>" in matrix and ">␣</th>" in matrix

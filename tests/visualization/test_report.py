"""The multi-method report page and the curve plot."""

from __future__ import annotations

import base64
import html

import matplotlib
import pytest

from interpreto_core import explain
from interpreto_core.metrics import evaluate
from interpreto_core.visualization import plot_curves, report_html, save_report

TEXTS = ["a charming and often affecting journey.", "<b>bleak</b> & desperate"]


@pytest.fixture(scope="module")
def compared(classifier, tokenizer):
    expls = {m: explain(classifier, tokenizer, TEXTS, method=m) for m in ("occlusion", "saliency")}
    metrics = {m: evaluate(classifier, tokenizer, e, metrics=["insertion", "deletion"]) for m, e in expls.items()}
    return expls, metrics


def test_plot_has_every_method_and_is_a_png(compared, tmp_path):
    backend = matplotlib.get_backend()
    _, metrics = compared
    results = [r for per in metrics.values() for r in per.values()]
    png = plot_curves(results, path=tmp_path / "c.png", title="curves")
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and (tmp_path / "c.png").read_bytes() == png
    assert matplotlib.get_backend() == backend  # no global backend switch
    from matplotlib.image import imread

    img = imread(tmp_path / "c.png")
    assert img.shape[1] > img.shape[0] * 1.8  # two panels side by side
    with pytest.raises(ValueError, match="no curve"):
        plot_curves([])


def test_report_page(compared, tmp_path):
    expls, metrics = compared
    png = plot_curves([r for per in metrics.values() for r in per.values()])
    page = report_html(expls, metrics=metrics, plots=[png], title="<i>report</i>")
    assert "<script" not in page and "<i>report" not in page and "&lt;i&gt;report" in page
    assert page.count("<h2>Text ") == len(TEXTS)
    assert base64.b64encode(png).decode()[:100] in page
    for m, per in metrics.items():
        assert f"<th>{m}</th>" in page
        for r in per.values():
            assert f"{r.mean:.3f}" in page and f"random {r.random_mean:.3f}" in page
    # the best mean of each metric is bold
    best_ins = max(per["insertion"].mean for per in metrics.values())
    assert f'class="itp-best">{best_ins:.3f}' in page
    assert "<b>bleak" not in page and ">bleak</span>" in page
    path = save_report(tmp_path / "r.html", expls, metrics=metrics)
    assert path.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")


def test_report_refuses_different_texts(compared):
    expls, _ = compared
    bad = {"a": expls["occlusion"], "b": expls["saliency"][::-1]}
    with pytest.raises(ValueError, match="differs"):
        report_html(bad)
    with pytest.raises(ValueError, match="same texts"):
        report_html({"a": expls["occlusion"], "b": expls["saliency"][:1]})
    assert html.escape("occlusion") in report_html({"occlusion": expls["occlusion"]})


def test_plot_with_a_dozen_methods(compared, tmp_path):
    import attrs

    _, metrics = compared
    base = metrics["occlusion"]["insertion"]
    many = [attrs.evolve(base, method=f"method_{k}") for k in range(12)]
    png = plot_curves(many, path=tmp_path / "many.png")
    assert png[:4] == b"\x89PNG"

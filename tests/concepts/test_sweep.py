"""concept_sweep: one collection pass for every layer, one learner per layer, every metric per layer."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from interpreto_core import InputError
from interpreto_core.concepts import SplitModel, collect_activations, concept_metrics, concept_sweep, make_learner

TEXTS = ["Hello world. Goodbye moon!", "The cat sat on the mat.", "A b c d e f g", "Stocks fell sharply today.",
         "The team won the cup final.", "New chips use less power."]
METRICS = ("concept_mse", "concept_r2", "concept_sparsity")


def test_one_collection_pass_for_all_layers(classifier, tokenizer, monkeypatch):
    calls = []
    original = SplitModel.hidden_states

    def counting(self, inputs, **kw):
        calls.append(sorted(self.split_points))
        return original(self, inputs, **kw)

    monkeypatch.setattr(SplitModel, "hidden_states", counting)
    sweep = concept_sweep(classifier, tokenizer, TEXTS, layers=[0, 1], learner="pca", params={"n_concepts": 3},
                          metrics=METRICS, batch_size=4, progress=False)
    assert len(calls) == 2  # ceil(6 texts / 4): one traced forward per batch, both layers captured in it
    assert all(points == ["bert.encoder.layer.0", "bert.encoder.layer.1"] for points in calls)
    assert [f.layer for f in sweep.layers] == [0, 1]


def test_each_layer_matches_a_fit_on_that_layer_alone(classifier, tokenizer):
    sweep = concept_sweep(classifier, tokenizer, TEXTS, layers=[1, 0], learner="pca", params={"n_concepts": 3},
                          metrics=METRICS, progress=False)
    assert [f.split_point for f in sweep.layers] == ["bert.encoder.layer.0", "bert.encoder.layer.1"]  # model order
    for layer in (0, 1):
        split = SplitModel(classifier, tokenizer, split_points=layer)
        acts = collect_activations(split, TEXTS, progress=False)[split.split_points[0]]
        alone = make_learner("pca", n_concepts=3).fit(acts)
        fit = sweep.layers[layer]
        assert fit.rows == len(acts)
        np.testing.assert_allclose(fit.learner.dictionary.abs(), alone.dictionary.abs(), atol=1e-4)
        expected = concept_metrics(alone, acts, metrics=METRICS)
        for m in METRICS:
            assert fit.metrics[m] == pytest.approx(expected[m], rel=1e-4, abs=1e-6)
    rows = sweep.table()
    assert [r["layer"] for r in rows] == [0, 1] and set(METRICS) <= set(rows[0])
    assert json.loads(json.dumps(sweep.to_json()))["layers"][1]["metrics"]["concept_r2"] == rows[1]["concept_r2"]
    best = sweep.best("concept_mse")
    assert best.metrics["concept_mse"] == min(f.metrics["concept_mse"] for f in sweep.layers)


def test_bad_layers_name_the_valid_split_points(classifier, tokenizer):
    with pytest.raises(InputError, match=r"layer 5 is not a block .*2 blocks.*block indices 0\.\.1"):
        concept_sweep(classifier, tokenizer, TEXTS, layers=[0, 5], progress=False)
    with pytest.raises(InputError, match=r"no module 'bert.encoder.layer.9'.*valid: block indices"):
        concept_sweep(classifier, tokenizer, TEXTS, layers=["bert.encoder.layer.9"], progress=False)
    with pytest.raises(InputError, match="asked twice"):
        concept_sweep(classifier, tokenizer, TEXTS, layers=[1, -1], progress=False)
    with pytest.raises(InputError, match="does not take n_concept"):
        concept_sweep(classifier, tokenizer, TEXTS, layers=[0], params={"n_concept": 3}, progress=False)
    with pytest.raises(InputError, match="supervised: give labels"):
        concept_sweep(classifier, tokenizer, TEXTS, layers=[0], learner="cav", progress=False)


def test_default_layers_plot_and_html(causal_lm, tokenizer, tmp_path):
    sweep = concept_sweep(causal_lm, tokenizer, TEXTS, learner="pca", params={"n_concepts": 2}, metrics=METRICS,
                          granularity="word", progress=False)
    assert [f.layer for f in sweep.layers] == [0, 1]  # every block by default
    fig = sweep.plot(tmp_path / "sweep.png")
    visible = [ax for ax in fig.axes if ax.get_visible()]
    assert [ax.get_title() for ax in visible] == [*METRICS, "fit seconds"]
    for ax, m in zip(visible, METRICS, strict=False):
        np.testing.assert_allclose(ax.lines[0].get_ydata(), [f.metrics[m] for f in sweep.layers])
    assert (tmp_path / "sweep.png").read_bytes()[:4] == b"\x89PNG"
    html = sweep._repr_html_()
    assert html.count("<tr>") == 3 and "transformer.h.1" in html
    assert "| layer | split point |" in sweep.to_markdown()


def test_supervised_sweep_records_probe_accuracy_per_layer(classifier, tokenizer):
    labels = ["a", "b", "a", "b", "a", "b"]
    sweep = concept_sweep(classifier, tokenizer, TEXTS, layers=[0, 1], learner="cav", params={"test_fraction": 0.0},
                          metrics=("concept_r2",), granularity="sample", labels=labels, progress=False)
    for fit in sweep.layers:
        assert fit.extras["concept_names"] == ["a", "b"] and len(fit.extras["train_accuracy"]) == 2
        assert fit.rows == len(TEXTS) and fit.learner.cavs.shape == (2, 32)
    with pytest.raises(InputError, match="one label per text"):
        concept_sweep(classifier, tokenizer, TEXTS, layers=[0], learner="cav", labels=labels[:3], progress=False)


def test_sweep_leaves_the_model_untouched(classifier, tokenizer):
    before = {k: v.clone() for k, v in classifier.state_dict().items()}
    hooks = [dict(m._forward_hooks) for m in classifier.modules()]  # a shared fixture: others' hooks stay theirs
    concept_sweep(classifier, tokenizer, TEXTS[:2], layers=[0], params={"n_concepts": 2}, metrics=(), progress=False)
    assert all(torch.equal(before[k], v) for k, v in classifier.state_dict().items())
    assert [dict(m._forward_hooks) for m in classifier.modules()] == hooks


@pytest.fixture(scope="module")
def model_folder(tmp_path_factory, classifier, tokenizer):
    folder = tmp_path_factory.mktemp("tiny-classifier")
    classifier.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def test_pipeline_sweep_step(model_folder, tmp_path):
    from interpreto_core.pipeline import Pipeline, PipelineError

    data = {"model": {"path": str(model_folder)}, "data": {"texts": TEXTS},
            "concepts": [{"learner": "pca", "layers": [0, 1], "params": {"n_concepts": 2},
                          "metrics": ["concept_r2"]}]}
    result = Pipeline.from_dict(data).run(tmp_path / "out", progress=False)
    summary = result.concepts[0]["sweep"]
    assert [row["layer"] for row in summary["layers"]] == [0, 1]
    page = result.report.read_text()
    assert "Concepts per layer: pca" in page and "data:image/png;base64," in page
    assert json.loads((tmp_path / "out" / "concepts_0_sweep.json").read_text()) == summary
    bad = {**data, "concepts": [{"learner": "pca", "layers": [0], "split": 1}]}
    with pytest.raises(PipelineError, match="not both"):
        Pipeline.from_dict(bad)
    with pytest.raises(PipelineError, match="supervised: add labels"):
        Pipeline.from_dict({**data, "concepts": [{"learner": "cav", "layers": [0]}]})


def test_cli_concept_sweep(model_folder, tmp_path, capsys):
    from interpreto_core.cli import main

    data = tmp_path / "texts.tsv"
    data.write_text("text\n" + "\n".join(TEXTS) + "\n")
    code = main(["concept-sweep", str(data), "--model", str(model_folder), "--layers", "0", "1", "-p", "n_concepts=2",
                 "--column", "text", "--metrics", "concept_r2", "concept_mse", "--out", str(tmp_path / "out")])
    out = capsys.readouterr()
    assert code == 0, out.err
    lines = out.out.strip().splitlines()
    assert lines[0] == "| layer | split point | rows | fit s | concept_r2 | concept_mse |" and len(lines) == 4
    saved = json.loads((tmp_path / "out" / "concepts_0_sweep.json").read_text())
    assert lines[2].split(" | ")[4] == f"{saved['layers'][0]['metrics']['concept_r2']:.4g}"
    assert (tmp_path / "out" / "report.html").is_file()
    assert main(["concept-sweep", str(data), "--model", str(model_folder), "--layers", "7"]) == 2
    assert "layer 7 is not a block" in capsys.readouterr().err

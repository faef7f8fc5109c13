"""Pipeline files: validated before any model loads; the examples in docs/examples run."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

from interpreto_core.pipeline import Pipeline, PipelineError

EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples"


@pytest.fixture(scope="module")
def model_folder(tmp_path_factory, tokenizer):
    """A tiny binary classifier saved as a local folder, standing in for the embedded model."""
    import torch
    from transformers import BertConfig, BertForSequenceClassification

    torch.manual_seed(0)
    config = BertConfig(vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, num_labels=2, max_position_embeddings=64, initializer_range=0.4)
    folder = tmp_path_factory.mktemp("tiny-model")
    BertForSequenceClassification(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


@pytest.mark.parametrize("example", sorted(p.name for p in EXAMPLES.glob("*.toml")))
def test_example_pipelines_run(example, model_folder, tmp_path):
    pipeline = Pipeline.from_toml(EXAMPLES / example, overrides={"model": {"path": str(model_folder)}})
    result = pipeline.run(tmp_path / "out", progress=False)
    html = result.report.read_text()
    data = json.loads(result.results.read_text())
    assert set(data["explanations"]) == {s.name for s in pipeline.attributions}
    for step in pipeline.attributions:
        assert f"<h3>{step.name}</h3>" in html
    for metrics in result.metrics.values():
        assert set(metrics) == {m.name for m in pipeline.metrics}
        for name_, m in metrics.items():
            assert math.isfinite(m.mean) and math.isfinite(m.random_mean)
            if name_ in ("insertion", "deletion"):  # areas under softmax curves
                assert 0.0 <= m.mean <= 1.0
    if any(m.name == "deletion" for m in pipeline.metrics):
        assert (tmp_path / "out" / "deletion_curves.png").stat().st_size > 1000
    for step, summary in zip(pipeline.concepts, result.concepts, strict=True):
        assert set(summary["metrics"]) == set(step["metrics"])
        assert len(summary["concepts"]) == step["params"]["n_concepts"]
        assert f"Concepts: {step['learner']}" in html
        assert (tmp_path / "out" / f"concepts_0_{step['learner']}" / "config.json").is_file()  # saved, no pickle


def test_invalid_concept_step(tmp_path):
    body = MODEL + DATA + '[[concepts]]\nlearner = "nmff"\n'
    with pytest.raises(PipelineError,
                       match=r"concepts\[0\].learner: unknown dictionary_learner 'nmff'; available: nmf"):
        _validate(tmp_path, body)
    body = MODEL + DATA + '[[concepts]]\nlearner = "nmf"\nmetrics = ["deletion"]\n'
    with pytest.raises(PipelineError, match="is an attribution metric"):
        _validate(tmp_path, body)
    body = MODEL + DATA + '[[attribution]]\nmethod = "lime"\n[[metric]]\nname = "concept_mse"\n'
    with pytest.raises(PipelineError, match=r"metric\[0\].name: 'concept_mse' is a concept metric"):
        _validate(tmp_path, body)


def _validate(tmp_path, text: str) -> None:
    path = tmp_path / "p.toml"
    path.write_text(text)
    Pipeline.from_toml(path)


MODEL = '[model]\nembedded = "sentiment"\n'
DATA = '[data]\ntexts = ["a fine film"]\n'


@pytest.mark.parametrize(
    ("body", "match"),
    [
        (MODEL + DATA + '[[attribution]]\nmethod = "limes"\n',
         r"p.toml: attribution\[0\].method: unknown attribution 'limes'; available: lime,"),
        (MODEL + DATA + '[[attribution]]\nmethod = "lime"\nparams = { n_steps = 3 }\n',
         r"attribution\[0\].params: lime does not take n_steps; it takes: .*n_samples"),
        (MODEL + DATA + '[[attribution]]\nrecipe = { perturbator = "sobol", aggregator = "nope" }\n',
         r"attribution\[0\].recipe.aggregator: unknown aggregator 'nope'; available:"),
        (MODEL + '[data]\npath = "missing.csv"\n[[attribution]]\nmethod = "lime"\n', r"data.path: no such file"),
        ('[model]\npath = "./nowhere"\n' + DATA + '[[attribution]]\nmethod = "lime"\n',
         "model.path: .* is not a local model folder"),
        ('[model]\nembedded = "gpt5"\n' + DATA + '[[attribution]]\nmethod = "lime"\n',
         "model.embedded: unknown embedded model 'gpt5'; choose sentiment, smollm2"),
        (MODEL + DATA + '[[attribution]]\nmethod = "lime"\n[[metric]]\nname = "delet"\n',
         r"metric\[0\].name: unknown metric 'delet'; available: deletion"),
        (MODEL + DATA + '[[attribution]]\nmethod = "lime"\ngranularity = "char"\n', "granularity: 'char'"),
        (MODEL + DATA + '[[attribution]]\nmethod = "lime"\nstep = 3\n', r"unknown key\(s\) step"),
        (MODEL + DATA, "no steps"),
        ("[model\n", "not valid TOML"),
    ],
)
def test_invalid_pipelines_fail_before_loading_a_model(tmp_path, body, match):
    with pytest.raises(PipelineError, match=match):
        _validate(tmp_path, body)


def test_cli_run_check_and_errors(tmp_path):
    ok = subprocess.run([sys.executable, "-m", "interpreto_core.cli", "run", "--check",
                         str(EXAMPLES / "sentiment.toml")], capture_output=True, text=True, check=False)
    assert ok.returncode == 0 and "valid" in ok.stderr
    bad = tmp_path / "bad.toml"
    bad.write_text(MODEL + DATA + '[[attribution]]\nmethod = "limes"\n')
    out = subprocess.run([sys.executable, "-m", "interpreto_core.cli", "run", str(bad)],
                         capture_output=True, text=True, check=False)
    assert out.returncode == 2 and "unknown attribution 'limes'" in out.stderr and "Traceback" not in out.stderr


def test_pipeline_from_python(model_folder, tmp_path):
    pipeline = Pipeline.from_dict({
        "model": {"path": str(model_folder)},
        "data": {"texts": ["good", "bad movie"]},
        "attribution": [{"method": "saliency", "granularity": "token"}],
    })
    result = pipeline.run(tmp_path, progress=False)
    assert [e.elements for e in result.explanations["saliency"]] == [("good",), ("bad", "movie")]
    # the static report links the interactive page, which holds every explanation's exact scores
    assert result.explorer == tmp_path / "explorer.html"
    assert "explorer.html, next to this report" in result.report.read_text()
    page = result.explorer.read_text()
    assert "<script" in page and "movie" in page
    for e in result.explanations["saliency"]:
        assert all(f"{v:.4g}" in page or f"{v:.3g}" in page for v in e.scores.ravel())

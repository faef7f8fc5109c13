"""Bad input is one clear InterpretoError naming what was wrong, never a traceback from deep inside."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from interpreto_core import Explanation, InputError, InterpretoError, explain
from interpreto_core.metrics import evaluate


def _raises(pattern: str, call, *args, error=InterpretoError, **kwargs):
    with pytest.raises(InterpretoError, match=pattern) as info:
        call(*args, **kwargs)
    assert isinstance(info.value, error)
    return info.value


@pytest.fixture(scope="module")
def small_vocab_classifier():
    import torch
    from transformers import BertConfig, BertForSequenceClassification

    torch.manual_seed(0)
    config = BertConfig(vocab_size=100, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                        intermediate_size=32, num_labels=2, max_position_embeddings=64)
    return BertForSequenceClassification(config).eval()


# -- explain() arguments -----------------------------------------------------------------------------
def test_texts_none(classifier, tokenizer):
    _raises(r"no inputs to explain", explain, classifier, tokenizer, None, error=InputError)


def test_numpy_integer_target_just_works(classifier, tokenizer):
    (e,) = explain(classifier, tokenizer, "a fine film", method="occlusion", targets=np.int64(1))
    assert e.targets[0].index == 1


def test_method_not_a_name(classifier, tokenizer):
    _raises(r"method must be a method name.*got 42", explain, classifier, tokenizer, "hi", method=42)


@pytest.mark.parametrize(("method", "param"), [("lime", "n_samples"), ("kernel_shap", "n_samples"),
                                               ("integrated_gradients", "n_steps"), ("smoothgrad", "n_samples")])
def test_budgets_that_cannot_fit_are_refused_before_allocating(classifier, tokenizer, method, param):
    err = _raises(rf"{param}=1000000000000 .* needs about [\d.]+ GiB.*available: lower {param}", explain,
                  classifier, tokenizer, "a fine film", method=method, **{param: 10**12}, error=InputError)
    assert "at most about" in str(err)


@pytest.mark.parametrize(("method", "param", "value"), [
    ("lime", "alpha", float("nan")), ("lime", "alpha", -1.0), ("lime", "alpha", float("inf")),
    ("lime", "kernel_width", float("nan")), ("lime", "kernel_width", 0.0), ("lime", "n_samples", 2.5),
    ("lime", "n_samples", True), ("kernel_shap", "n_samples", -5), ("sobol", "n_samples", float("nan")),
    ("integrated_gradients", "n_steps", 0), ("smoothgrad", "noise_level", float("nan")),
    ("smoothgrad", "noise_level", -0.1), ("gradient_shap", "noise_level", float("inf")),
    ("gradient_shap", "n_samples", "10"), ("vargrad", "n_samples", 0),
    ("input_x_gradient", "multiply_by_inputs", "false"),
])
def test_bad_numeric_parameters_name_the_part_and_parameter(classifier, tokenizer, method, param, value):
    _raises(rf"{param} must be", explain, classifier, tokenizer, "a fine film", method=method, **{param: value},
            error=InputError)


def test_numpy_integer_budget_is_accepted(classifier, tokenizer):
    (e,) = explain(classifier, tokenizer, "a fine film", method="lime", n_samples=np.int64(8))
    assert np.isfinite(e.scores).all()


# -- language-model targets ----------------------------------------------------------------------------
@pytest.mark.parametrize("continuation", ["", "   "])
def test_continuation_that_tokenizes_to_nothing(causal_lm, tokenizer, continuation):
    _raises(r"continuation.*(empty|no token)", explain, causal_lm, tokenizer, "a fine film",
            targets=continuation, method="occlusion", error=InputError)


@pytest.mark.parametrize("ids", [[10**7], [-3]])
def test_token_ids_outside_the_vocabulary(causal_lm, tokenizer, ids):
    _raises(rf"{ids[0]}", explain, causal_lm, tokenizer, "a fine film", targets=ids, method="occlusion",
            error=InputError)


def test_model_tokenizer_vocabulary_mismatch(small_vocab_classifier, tokenizer):
    _raises(r"tokenizer .*30522 ids.* does not fit .*100 rows.*resize_token_embeddings", explain,
            small_vocab_classifier, tokenizer, "a fine film", method="occlusion", error=InputError)


# -- non-finite scores ---------------------------------------------------------------------------------
def _with_scores(e: Explanation, value: float) -> Explanation:
    data = e.to_json()
    data["scores"] = [[value] + row[1:] for row in data["scores"]]
    return Explanation.from_json(data)


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")])
def test_non_finite_scores_survive_json_and_equal_themselves(classifier, tokenizer, tmp_path, value):
    (e,) = explain(classifier, tokenizer, "a fine film", method="occlusion")
    bad = _with_scores(e, value)
    assert bad == bad and not bad.finite
    again = Explanation.from_json(json.dumps(bad.to_json(), allow_nan=False))  # strict JSON
    assert again == bad
    s = again.scores[0, 0]
    assert (math.isnan(s) if math.isnan(value) else s == value)
    path = bad.save(tmp_path / "e.json")
    assert "NaN" not in path.read_text().replace('"NaN"', "")  # strict JSON on disk: only the string form
    assert Explanation.from_json(path) == bad
    assert e.finite and e == Explanation.from_json(e.to_json())


def test_metrics_refuse_non_finite_scores_naming_the_explanation(classifier, tokenizer):
    good = explain(classifier, tokenizer, ["a fine film", "a dull plot"], method="occlusion")
    bad = _with_scores(good[1], float("nan"))
    _raises(r"explanation 1 \(occlusion of 'a dull plot'\) has \d+ non-finite score", evaluate, classifier,
            tokenizer, [good[0], bad], metrics=["deletion"], error=InputError)
    all_nan = Explanation.from_json(good[0].to_json() | {"scores": [["NaN"] * len(good[0].elements)]})
    _raises(r"explanation 0 .*non-finite", evaluate, classifier, tokenizer, [all_nan],
            metrics=["insertion", "comprehensiveness"], error=InputError)


# -- command line and loading --------------------------------------------------------------------------
@pytest.fixture(scope="module")
def classifier_dir(tmp_path_factory, classifier, tokenizer):
    folder = tmp_path_factory.mktemp("clf")
    classifier.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def test_html_into_a_missing_folder_is_refused_before_computing(classifier_dir, tmp_path, capsys, monkeypatch):
    from interpreto_core.cli import explain as cli_explain
    from interpreto_core.cli import main

    def no_model(*args, **kwargs):
        raise AssertionError("the model must not load")

    monkeypatch.setattr(cli_explain, "load_local_model", no_model)
    for flag in ("--html", "--json"):
        out = tmp_path / "missing" / "report.out"
        assert main(["explain", "--model", str(classifier_dir), flag, str(out), "hi"]) == 2
        err = capsys.readouterr().err
        assert flag in err and "missing" in err and "does not exist" in err


def test_model_folder_without_tokenizer_files(classifier, tmp_path):
    from interpreto_core._loading import load_local_model

    classifier.save_pretrained(tmp_path)
    _raises(r"no tokenizer files.*tokenizer\.save_pretrained", load_local_model, str(tmp_path), error=InputError)


@pytest.mark.parametrize(("params", "pattern"), [
    ("method = \"lime\"\nparams = { alpha = nan }",
     r"attribution\[0\]\.params: aggregator 'lime_regression': lime_regression: alpha must be"),
    ("method = \"lime\"\nparams = { n_samples = -3 }", r"n_samples must be an integer >= 2"),
    ("method = \"integrated_gradients\"\nparams = { n_steps = 1.5 }", r"n_steps must be an integer"),
    ("method = \"smoothgrad\"\nparams = { noise_level = -inf }", r"noise_level must be a finite number"),
    ("method = \"lime\"\nparams = { batch_size = 0 }", r"params\.batch_size: must be a positive integer"),
    ("method = \"lime\"\nparams = { reduction = \"max\" }", r"params\.reduction: 'max'"),
    ("method = \"lime\"\nparams = { baseline = \"noise\" }", r"params\.baseline: 'noise'"),
])
def test_run_check_validates_parameter_values(tmp_path, capsys, params, pattern):
    from interpreto_core._errors import PipelineError
    from interpreto_core.cli import main
    from interpreto_core.pipeline import Pipeline

    path = tmp_path / "p.toml"
    path.write_text('[model]\nembedded = "sentiment"\n[data]\ntexts = ["a fine film"]\n[[attribution]]\n'
                    + params + "\n")
    _raises(pattern, Pipeline.from_toml, path, error=PipelineError)
    assert main(["run", "--check", str(path)]) == 2
    assert "p.toml" in capsys.readouterr().err


def test_run_check_validates_metric_parameter_values(tmp_path):
    from interpreto_core._errors import PipelineError
    from interpreto_core.pipeline import Pipeline

    path = tmp_path / "p.toml"
    path.write_text('[model]\nembedded = "sentiment"\n[data]\ntexts = ["a fine film"]\n[[attribution]]\n'
                    'method = "lime"\n[[metric]]\nname = "deletion"\nparams = { batch_size = -1 }\n')
    _raises(r"metric\[0\]\.params: metric 'deletion'", Pipeline.from_toml, path, error=PipelineError)

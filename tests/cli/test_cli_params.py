"""``-p KEY=VALUE`` / ``-p METHOD.KEY=VALUE`` (typed, routed, checked before the model loads), ``-m``,
``interpreto explain MODEL TEXT...``, texts from standard input (``-``), chat input from ``--chat FILE.json``,
and the same parameters in ``explain-dataset``."""

from __future__ import annotations

import copy
import io
import json

import numpy as np
import pytest

import interpreto_core
from interpreto_core import Explanation, InputError
from interpreto_core.cli import main
from interpreto_core.cli._common import method_params, param_value, route_params

TEMPLATE = (
    "{% for m in messages %}<|{{ m['role'] }}|> {{ m['content'] }} [SEP] {% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>{% endif %}"
)


def _save(model, tok, folder):
    model.save_pretrained(folder)
    tok.save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def cls_dir(classifier, tokenizer, tmp_path_factory):
    return _save(classifier, tokenizer, tmp_path_factory.mktemp("cls"))


@pytest.fixture(scope="module")
def chat_dir(causal_lm, tokenizer, tmp_path_factory):
    tok = copy.deepcopy(tokenizer)
    tok.chat_template = TEMPLATE
    return _save(causal_lm, tok, tmp_path_factory.mktemp("chat-lm"))


def _explanations(path, method):
    return [Explanation.from_json(d) for d in json.loads(path.read_text())["explanations"][method]]


def _same_scores(got, want):
    assert got.elements == want.elements
    np.testing.assert_allclose(got.scores, want.scores, rtol=1e-5, atol=1e-6)


# -- typing and routing (no model) -----------------------------------------------------------------------
@pytest.mark.parametrize(("text", "value"), [
    ("32", 32), ("-3", -3), ("0.5", 0.5), ("1e-3", 1e-3), ("true", True), ("False", False), ("None", None),
    ("null", None), ("[1, 2]", [1, 2]), ('["user", "system"]', ["user", "system"]), ('{"a": 1}', {"a": 1}),
    ('"32"', "32"), ("mask", "mask"), ("log_softmax", "log_softmax"), ("", ""),
])
def test_values_are_typed(text, value):
    got = param_value(text)
    assert got == value and type(got) is type(value)


def test_nan_is_a_float_and_bad_json_is_an_error():
    assert np.isnan(param_value("nan"))
    with pytest.raises(InputError, match=r"-p roles=\[user: the value is not valid JSON"):
        param_value("[user", "roles=[user")


def test_global_parameters_go_to_every_method_that_takes_them():
    shared, own = route_params(["n_samples=8", "seed=3"], ["lime", "kernel_shap", "occlusion"])
    assert shared == {"seed": 3}  # every method takes seed
    assert own == {"lime": {"n_samples": 8}, "kernel_shap": {"n_samples": 8}, "occlusion": {}}


def test_a_method_parameter_goes_to_that_method_only_and_wins_over_a_global_one():
    for pairs in (["n_samples=8", "lime.n_samples=16"], ["lime.n_samples=16", "n_samples=8"]):
        shared, own = route_params(pairs, ["lime", "kernel_shap"])
        assert {m: {**shared, **own[m]} for m in own} == {"lime": {"n_samples": 16}, "kernel_shap": {"n_samples": 8}}


def test_accepted_parameters_come_from_the_registry():
    names, parts = method_params("lime", "sequence_classification")
    assert {"n_samples", "alpha", "kernel_width", "batch_size", "seed"} <= set(names)
    assert "roles" not in names  # a causal-LM task option
    assert "roles" in method_params("lime", "causal_lm")[0]
    assert parts["n_samples"][:2] == ("perturbator", "lime")
    assert "n_samples" not in method_params("saliency")[0]


@pytest.mark.parametrize(("pairs", "message"), [
    (["nope=1"], "-p nope=1: no method here takes 'nope' on task 'sequence_classification' (lime takes: alpha, "),
    (["lime.nope=1"], "-p lime.nope=1: lime does not take 'nope'; it takes: alpha, baseline, batch_size, "),
    (["saliency.n_steps=3"], "-p saliency.n_steps=3: saliency is not one of the methods explained (lime, occlusion)"),
    (["lime.n_samples=1"], "n_samples must be an integer >= 2, got 1"),
    (["n_samples=abc"], "-p n_samples='abc' for lime (perturbator 'lime'): lime: n_samples must be an integer >= 2"),
    (["batch_size=0"], "batch_size must be a positive integer"),
    (["n_samples"], "-p takes KEY=VALUE or METHOD.KEY=VALUE"),
    (["score=probability"], "-p score=probability: score is not a method parameter; use --score instead"),
])
def test_bad_parameters_are_one_clear_error(pairs, message):
    with pytest.raises(InputError) as info:
        route_params(pairs, ["lime", "occlusion"], "sequence_classification")
    assert message in str(info.value) and "\n" not in str(info.value)


# -- explain ---------------------------------------------------------------------------------------------
def test_explain_routes_parameters_to_each_method(cls_dir, classifier, tokenizer, tmp_path):
    out = tmp_path / "r.json"
    assert main(["explain", str(cls_dir), "a fine film", "dull", "-m", "lime", "-m", "kernel_shap",
                 "-p", "n_samples=8", "-p", "lime.n_samples=16", "-p", "lime.alpha=0.5", "--json", str(out),
                 "--color", "never"]) == 0
    lime, shap = _explanations(out, "lime"), _explanations(out, "kernel_shap")
    assert [e.parameters["n_samples"] for e in lime] == [16, 16] and lime[0].parameters["alpha"] == 0.5
    assert [e.parameters["n_samples"] for e in shap] == [8, 8]
    # the same numbers as the Python API with those parameters
    want = interpreto_core.explain(classifier, tokenizer, ["a fine film", "dull"], method="lime", n_samples=16,
                                   alpha=0.5)
    for g, w in zip(lime, want, strict=True):
        _same_scores(g, w)


@pytest.mark.parametrize(("argv", "message"), [
    (["-m", "lime", "-p", "n_steps=4"], "no method here takes 'n_steps' on task 'sequence_classification'"),
    (["-m", "lime", "-p", "lime.n_samples=-1"], "n_samples must be an integer >= 2, got -1"),
    (["-m", "lime", "-p", "occlusion.x=1"], "occlusion is not one of the methods explained (lime)"),
    (["-m", "lmie"], "unknown attribution 'lmie'"),
])
def test_parameters_fail_before_the_model_loads(cls_dir, monkeypatch, capsys, argv, message):
    import interpreto_core.cli.explain as cli_explain

    def refuse(*args, **kwargs):
        raise AssertionError("the model was loaded before the parameters were checked")

    monkeypatch.setattr(cli_explain, "load_local_model", refuse)
    assert main(["explain", str(cls_dir), "hi", *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_unknown_parameter_lists_the_accepted_ones_without_a_model_folder(tmp_path, capsys):
    assert main(["explain", str(tmp_path / "missing"), "hi", "-m", "lime", "-p", "lime.nope=2"]) == 2
    err = capsys.readouterr().err
    assert "lime does not take 'nope'; it takes: " in err and "n_samples" in err and "not a local folder" not in err


def test_model_first_texts_from_stdin_and_the_old_model_flag(cls_dir, tmp_path, monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO("a fine film\n\n  dull  \n"))
    out = tmp_path / "stdin.json"
    assert main(["explain", str(cls_dir), "first", "-", "-m", "occlusion", "--json", str(out),
                 "--color", "never"]) == 0
    assert [e.text for e in _explanations(out, "occlusion")] == ["first", "a fine film", "dull"]
    old = tmp_path / "old.json"
    assert main(["explain", "--model", str(cls_dir), "-m", "occlusion", "first", "--json", str(old),
                 "--color", "never"]) == 0
    assert [e.text for e in _explanations(old, "occlusion")] == ["first"]


def test_no_model_and_no_text_are_clear_errors(cls_dir, capsys):
    assert main(["explain", "-"]) == 2
    assert "give the model folder first" in capsys.readouterr().err
    assert main(["explain", str(cls_dir), "-m", "occlusion"]) == 2
    assert "nothing to explain" in capsys.readouterr().err


def test_chat_from_a_json_file(chat_dir, tmp_path):
    chat = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "The capital of France?"}]
    other = [{"role": "user", "content": "Hello there"}]
    model, tok = interpreto_core._loading.load_local_model(str(chat_dir))
    for data, want_inputs in ((chat, [chat]), ({"messages": chat}, [chat]), ([chat, other], [chat, other])):
        file = tmp_path / "chat.json"
        file.write_text(json.dumps(data), encoding="utf-8")
        out = tmp_path / "chat-out.json"
        assert main(["explain", str(chat_dir), "--chat", str(file), "-m", "occlusion", "--target", " paris",
                     "-p", 'roles=["system", "user"]', "--json", str(out), "--color", "never"]) == 0
        got = _explanations(out, "occlusion")
        assert [g.input for g in got] == want_inputs
    want = interpreto_core.explain(model, tok, [chat, other], method="occlusion", targets=" paris",
                                   roles=["system", "user"])
    for g, w in zip(got, want, strict=True):
        _same_scores(g, w)
    assert "Be" in got[0].elements and "France" in got[0].elements


@pytest.mark.parametrize(("content", "message"), [
    ("{not json", "is not JSON"),
    ('[{"role": "user"}]', 'expected a list of {"role": ..., "content": ...} messages'),
    ('[[{"role": "user", "content": "hi"}], [{"content": 3}]]', "(conversation 2): expected a list"),
    ("[]", "expected a list of"),
])
def test_bad_chat_files_are_one_clear_error(chat_dir, tmp_path, capsys, content, message):
    file = tmp_path / "bad.json"
    file.write_text(content, encoding="utf-8")
    assert main(["explain", str(chat_dir), "--chat", str(file), "-m", "occlusion"]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


# -- explain-dataset --------------------------------------------------------------------------------------
def test_explain_dataset_takes_method_parameters(cls_dir, tmp_path, capsys):
    src = tmp_path / "d.txt"
    src.write_text("a fine film\ndull\n", encoding="utf-8")
    out = tmp_path / "r.jsonl"
    assert main(["explain-dataset", str(src), "--model", str(cls_dir), "-m", "lime", "-m", "kernel_shap",
                 "-p", "n_samples=8", "-p", "lime.n_samples=12", "-p", "seed=5", "--out", str(out)]) == 0
    recs = [json.loads(x) for x in out.read_text().splitlines()]
    by_method = {(r["method"], r["explanation"]["parameters"]["n_samples"], r["explanation"]["parameters"]["seed"])
                 for r in recs}
    assert by_method == {("lime", 12, 5), ("kernel_shap", 8, 5)} and len(recs) == 4
    capsys.readouterr()
    assert main(["explain-dataset", str(src), "--model", str(cls_dir), "-m", "lime", "-p", "lime.n_steps=3",
                 "--out", str(tmp_path / "x.jsonl")]) == 2
    err = capsys.readouterr().err
    assert "lime does not take 'n_steps'; it takes: " in err and not (tmp_path / "x.jsonl").exists()


def test_html_is_the_interactive_page_with_a_method_switcher(cls_dir, tmp_path):
    from interpreto_core.visualization import _JS

    page_path = tmp_path / "r.html"
    assert main(["explain", str(cls_dir), "a fine film", "-m", "occlusion", "-m", "saliency", "--target", "0",
                 "--target", "1", "--scale", "global", "--html", str(page_path), "--color", "never"]) == 0
    page = page_path.read_text(encoding="utf-8")
    assert page.count("<script>") == 1 and _JS in page and "Content-Security-Policy" in page
    assert 'data-for="i0-m" data-key="1"' in page and ">saliency</button>" in page  # the method switcher
    assert 'data-for="i0-m0-t" data-key="1"' in page  # the target switcher

"""Pipeline files for every task: a seq2seq model from its folder, text pairs, chat messages, scores
and contrasts; task / score names checked before any model loads."""

from __future__ import annotations

import copy
import json
import subprocess
import sys

import numpy as np
import pytest

import interpreto_core
from interpreto_core._loading import load_local_model
from interpreto_core.pipeline import Pipeline, PipelineError
from interpreto_core.testing import make_tiny_tokenizer

SOURCE = "the cat sat on the mat."
TARGET = "a small dog"
TEMPLATE = (
    "{% for m in messages %}<|{{ m['role'] }}|> {{ m['content'] }} [SEP] {% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>{% endif %}"
)


def _names(kind: str) -> list[str]:
    from interpreto_core._registry import get_registry

    return get_registry().names(kind)


def _lists_all(message: str, kind: str) -> bool:
    """The message's ``available: ...`` list names every registered part of ``kind``."""
    listed = message.split("available: ", 1)[1].split(" (")[0]
    return set(listed.replace(".", ",").split(", ")) >= set(_names(kind))


@pytest.fixture(scope="module")
def t5_folder(tmp_path_factory):
    import torch
    from transformers import T5Config, T5ForConditionalGeneration

    tok = make_tiny_tokenizer()
    torch.manual_seed(0)
    config = T5Config(d_model=32, d_ff=64, d_kv=16, num_layers=2, num_heads=2, vocab_size=len(tok),
                      pad_token_id=tok.pad_token_id, eos_token_id=tok.sep_token_id,
                      decoder_start_token_id=tok.cls_token_id)
    folder = tmp_path_factory.mktemp("t5")
    T5ForConditionalGeneration(config).save_pretrained(folder)
    tok.save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def classifier_folder(classifier, tokenizer, tmp_path_factory):
    folder = tmp_path_factory.mktemp("cls")
    classifier.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def chat_lm_folder(causal_lm, tokenizer, tmp_path_factory):
    folder = tmp_path_factory.mktemp("chat-lm")
    tok = copy.deepcopy(tokenizer)  # the session tokenizer stays without a template
    tok.chat_template = TEMPLATE
    causal_lm.save_pretrained(folder)
    tok.save_pretrained(folder)
    return folder


def _write(tmp_path, text: str, name: str = "p.toml"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _same_scores(got, expected):
    assert got.elements == expected.elements
    assert [t.to_json() for t in got.targets] == [t.to_json() for t in expected.targets]
    np.testing.assert_allclose(got.scores, expected.scores, rtol=1e-5, atol=1e-6)


def test_seq2seq_folder_explained_through_a_pipeline_file(t5_folder, tmp_path):
    path = _write(tmp_path, f"""
[model]
path = "{t5_folder}"

[data]
texts = ["{SOURCE}"]

[[attribution]]
method = "occlusion"
targets = "{TARGET}"

[[attribution]]
name = "generated"
method = "occlusion"
params = {{ max_new_tokens = 2 }}

[[metric]]
name = "deletion"
""")
    pipeline = Pipeline.from_toml(path)
    assert pipeline.model.known_task == "seq2seq"  # from config.json, before any model loads
    result = pipeline.run(tmp_path / "out", progress=False)
    expl = result.explanations["occlusion"][0]
    model, tok = load_local_model(str(t5_folder))
    assert type(model).__name__ == "T5ForConditionalGeneration"
    assert expl.task == "seq2seq" and expl.score == "log_probability"
    assert [t.index for t in expl.targets] == tok(TARGET, add_special_tokens=False)["input_ids"]
    _same_scores(expl, interpreto_core.explain(model, tok, SOURCE, method="occlusion", targets=TARGET)[0])
    generated = result.explanations["generated"][0]
    assert generated.task == "seq2seq" and 1 <= len(generated.targets) <= 2
    data = json.loads(result.results.read_text())
    assert data["explanations"]["occlusion"][0]["task"] == "seq2seq"
    assert np.isfinite(result.metrics["occlusion"]["deletion"].mean)


def test_pair_classification_from_two_columns(classifier_folder, tmp_path):
    (tmp_path / "nli.csv").write_text(
        "premise,hypothesis,label\n"
        "a man plays a guitar,someone makes music,0\n"
        "the dog sleeps,an animal runs,1\n", encoding="utf-8")
    path = _write(tmp_path, """
[model]
path = "cls"
kind = "classifier"

[data]
path = "nli.csv"
pair_columns = ["premise", "hypothesis"]

[[attribution]]
method = "occlusion"
targets = 2
""")
    (tmp_path / "cls").symlink_to(classifier_folder)
    pipeline = Pipeline.from_toml(path)
    assert pipeline.model.task == "sequence_classification"  # the former kind, an alias
    result = pipeline.run(tmp_path / "out", progress=False)
    model, tok = load_local_model(str(classifier_folder))
    pairs = [("a man plays a guitar", "someone makes music"), ("the dog sleeps", "an animal runs")]
    expected = interpreto_core.explain(model, tok, pairs, method="occlusion", targets=2)
    for got, want, pair in zip(result.explanations["occlusion"], expected, pairs, strict=True):
        assert got.input == list(pair) and got.segment_names == ("text_a", "text_b")
        assert set(got.segments) == {0, 1} and got.text == "\n\n".join(pair)
        _same_scores(got, want)
    assert json.loads(result.results.read_text())["texts"] == [list(p) for p in pairs]


def test_score_and_contrast_of_a_step(classifier_folder, tmp_path):
    path = _write(tmp_path, f"""
[model]
path = "{classifier_folder}"
task = "sequence_classification"

[data]
texts = ["a fine film", ["the dog sleeps", "an animal runs"]]

[[attribution]]
name = "why 0 rather than 1"
method = "occlusion"
targets = 0
contrast = 1

[[attribution]]
name = "probability"
method = "saliency"
score = "probability"
""")
    result = Pipeline.from_toml(path).run(tmp_path / "out", progress=False)
    model, tok = load_local_model(str(classifier_folder))
    inputs = ["a fine film", ("the dog sleeps", "an animal runs")]
    contrast = result.explanations["why 0 rather than 1"]
    assert [e.score for e in contrast] == ["contrast", "contrast"]
    assert all(t.foil == 1 and t.index == 0 for e in contrast for t in e.targets)
    for got, want in zip(contrast, interpreto_core.explain(model, tok, inputs, method="occlusion", targets=0,
                                                           contrast=1), strict=True):
        _same_scores(got, want)
    probability = result.explanations["probability"]
    assert [e.score for e in probability] == ["probability", "probability"]
    for got, want in zip(probability, interpreto_core.explain(model, tok, inputs, method="saliency",
                                                              score="probability"), strict=True):
        _same_scores(got, want)


def test_chat_messages_from_jsonl_with_a_task_option(chat_lm_folder, tmp_path):
    chat = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "What is the capital?"}]
    (tmp_path / "chats.jsonl").write_text(json.dumps({"messages": chat}) + "\n" + json.dumps({"messages": "hello"})
                                          + "\n", encoding="utf-8")
    path = _write(tmp_path, f"""
[model]
path = "{chat_lm_folder}"

[data]
path = "chats.jsonl"
column = "messages"

[[attribution]]
method = "occlusion"
targets = " paris"
params = {{ roles = ["system", "user"] }}
""")
    result = Pipeline.from_toml(path).run(tmp_path / "out", progress=False)
    model, tok = load_local_model(str(chat_lm_folder))
    got = result.explanations["occlusion"]
    assert got[0].input == chat and got[0].task == "causal_lm" and set(got[0].segments) >= {0, 1}
    want = interpreto_core.explain(model, tok, [chat, "hello"], method="occlusion", targets=" paris",
                                   roles=["system", "user"])
    for g, w in zip(got, want, strict=True):
        _same_scores(g, w)
    assert "What" in got[0].elements and "Be" in got[0].elements  # both roles explained


MODEL = '[model]\nembedded = "sentiment"\n'
DATA = '[data]\ntexts = ["a fine film"]\n'


@pytest.mark.parametrize(
    ("body", "match"),
    [
        ('[model]\nembedded = "sentiment"\ntask = "clasification"\n' + DATA + '[[attribution]]\nmethod = "lime"\n',
         r"model.task: unknown task 'clasification'; available: .*sequence_classification"),
        ('[model]\nembedded = "sentiment"\nkind = "encoder"\n' + DATA + '[[attribution]]\nmethod = "lime"\n',
         r"model.kind: unknown task 'encoder'; available: .*causal_lm"),
        ('[model]\nembedded = "sentiment"\ntask = "causal_lm"\n' + DATA + '[[attribution]]\nmethod = "lime"\n',
         "model.task: the embedded model 'sentiment' is a sequence_classification model"),
        (MODEL + DATA + '[[attribution]]\nmethod = "lime"\ntask = "seq2sec"\n',
         r"attribution\[0\].task: unknown task 'seq2sec'; available: seq2seq, "),
        (MODEL + DATA + '[[attribution]]\nmethod = "lime"\nscore = "probabilty"\n',
         r"attribution\[0\].score: unknown score 'probabilty'; available: probability, .*contrast, .*entropy"),
        (MODEL + DATA + '[[attribution]]\nmethod = "lime"\nparams = { score = "nope" }\n',
         r"attribution\[0\].score: unknown score 'nope'"),
        (MODEL + DATA + '[[attribution]]\nmethod = "lime"\nscore = "contrast"\n',
         r"attribution\[0\].score: score 'contrast' compares each target with a foil: add contrast"),
        (MODEL + DATA + '[[attribution]]\nmethod = "lime"\ncontrast = { a = 1 }\n',
         r"attribution\[0\].contrast: a contrast is a class index or label"),
        (MODEL + DATA + '[[attribution]]\nmethod = "lime"\nparams = { roles = ["user"] }\n',
         r"lime does not take roles; it takes: .* \(on task 'sequence_classification'\)"),
        (MODEL + '[data]\ntexts = [["only one"]]\n[[attribution]]\nmethod = "lime"\n',
         r"texts\[0\]: an input is a text, a \[text_a, text_b\] pair or chat messages"),
        (MODEL + '[data]\ntexts = [[{ role = "user" }]]\n[[attribution]]\nmethod = "lime"\n',
         r"chat message 0 must be"),
        (MODEL + '[data]\npath = "d.csv"\ncolumn = ["a", "b"]\n[[attribution]]\nmethod = "lime"\n',
         r"data.column: must be a field name.*pair_columns"),
        (MODEL + '[data]\ntexts = [["a", "b"]]\n[[concepts]]\nlearner = "nmf"\n',
         "concept steps learn from plain texts"),
    ],
)
def test_bad_tasks_scores_and_inputs_fail_before_loading(tmp_path, body, match):
    (tmp_path / "d.csv").write_text("a,b\nx,y\n")
    with pytest.raises(PipelineError, match=match) as info:
        Pipeline.from_toml(_write(tmp_path, body))
    for kind in ("task", "score"):
        if f"unknown {kind}" in str(info.value):
            assert _lists_all(str(info.value), kind), str(info.value)


def test_task_options_are_checked_against_the_folders_task(t5_folder, tmp_path):
    ok = (f'[model]\npath = "{t5_folder}"\n' + DATA
          + '[[attribution]]\nmethod = "lime"\nparams = { max_new_tokens = 3 }\n')
    assert Pipeline.from_toml(_write(tmp_path, ok)).attributions[0].params == {"max_new_tokens": 3}
    bad = ok.replace("max_new_tokens = 3", 'roles = ["user"]')
    with pytest.raises(PipelineError, match=r"does not take roles; .*\(on task 'seq2seq'\)"):
        Pipeline.from_toml(_write(tmp_path, bad))


def test_check_lists_the_tasks_and_scores(tmp_path):
    for body, kind in (
        (MODEL + DATA + '[[attribution]]\nmethod = "lime"\ntask = "nope"\n', "task"),
        ('[model]\nembedded = "sentiment"\ntask = "nope"\n' + DATA + '[[attribution]]\nmethod = "lime"\n', "task"),
        (MODEL + DATA + '[[attribution]]\nmethod = "lime"\nscore = "nope"\n', "score"),
    ):
        path = _write(tmp_path, body, "bad.toml")
        out = subprocess.run([sys.executable, "-m", "interpreto_core.cli", "run", "--check", str(path)],
                             capture_output=True, text=True, check=False)
        assert out.returncode == 2 and f"unknown {kind} 'nope'" in out.stderr, out.stderr
        assert "Traceback" not in out.stderr and _lists_all(out.stderr.strip(), kind), out.stderr

"""``interpreto explain`` for every task: a seq2seq folder with a target text, a causal LM with
--contrast, classifier scores and contrasts; task / score names checked before the model loads;
``load_local_model`` picks the model class of each task."""

from __future__ import annotations

import copy
import json
import shutil

import numpy as np
import pytest

import interpreto_core
from interpreto_core import InputError
from interpreto_core._loading import load_local_model, task_of_folder
from interpreto_core.cli import main
from interpreto_core.testing import make_tiny_tokenizer

SOURCE = "the cat sat on the mat."
TEMPLATE = (
    "{% for m in messages %}<|{{ m['role'] }}|> {{ m['content'] }} [SEP] {% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>{% endif %}"
)


def _save(model, tok, folder):
    model.save_pretrained(folder)
    tok.save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def t5_folder(tmp_path_factory):
    import torch
    from transformers import T5Config, T5ForConditionalGeneration

    tok = make_tiny_tokenizer()
    torch.manual_seed(0)
    config = T5Config(d_model=32, d_ff=64, d_kv=16, num_layers=2, num_heads=2, vocab_size=len(tok),
                      pad_token_id=tok.pad_token_id, eos_token_id=tok.sep_token_id,
                      decoder_start_token_id=tok.cls_token_id)
    return _save(T5ForConditionalGeneration(config), tok, tmp_path_factory.mktemp("t5"))


@pytest.fixture(scope="module")
def lm_folder(causal_lm, tokenizer, tmp_path_factory):
    tok = copy.deepcopy(tokenizer)
    tok.chat_template = TEMPLATE
    return _save(causal_lm, tok, tmp_path_factory.mktemp("lm"))


@pytest.fixture(scope="module")
def cls_folder(classifier, tokenizer, tmp_path_factory):
    return _save(classifier, tokenizer, tmp_path_factory.mktemp("cls"))


def _run(folder, tmp_path, *argv):
    out = tmp_path / "out.json"
    assert main(["explain", "--model", str(folder), "--json", str(out), "--color", "never", *argv]) == 0
    return [interpreto_core.Explanation.from_json(d) for d in json.loads(out.read_text())["explanations"]["occlusion"]]


def _same(got, want):
    assert got.elements == want.elements and (got.task, got.score) == (want.task, want.score)
    assert [t.to_json() for t in got.targets] == [t.to_json() for t in want.targets]
    np.testing.assert_allclose(got.scores, want.scores, rtol=1e-5, atol=1e-6)


def test_seq2seq_folder_with_a_target_text(t5_folder, tmp_path, capsys):
    got = _run(t5_folder, tmp_path, "--method", "occlusion", "--target", "a small dog", SOURCE)
    model, tok = load_local_model(str(t5_folder))
    assert type(model).__name__ == "T5ForConditionalGeneration"  # not T5ForSequenceClassification
    assert got[0].task == "seq2seq" and got[0].output_text == "a small dog"
    _same(got[0], interpreto_core.explain(model, tok, SOURCE, method="occlusion", targets="a small dog")[0])
    assert "small" in capsys.readouterr().out
    # a contrast of the same length, and greedy generation with --max-new-tokens
    foil = _run(t5_folder, tmp_path, "--method", "occlusion", "--target", "a small dog", "--contrast", "a big cat",
                SOURCE)[0]
    assert foil.score == "contrast" and [t.foil_label for t in foil.targets] == ["a", "big", "cat"]
    _same(foil, interpreto_core.explain(model, tok, SOURCE, method="occlusion", targets="a small dog",
                                        contrast="a big cat")[0])
    generated = _run(t5_folder, tmp_path, "--method", "occlusion", "--max-new-tokens", "2", SOURCE)[0]
    assert generated.task == "seq2seq" and 1 <= len(generated.targets) <= 2


def test_causal_lm_with_a_contrast_and_a_score(lm_folder, tmp_path):
    model, tok = load_local_model(str(lm_folder))
    prompt = "the capital of france is"
    got = _run(lm_folder, tmp_path, "--method", "occlusion", "--target", " paris", "--contrast", " rome", prompt)[0]
    assert got.task == "causal_lm" and got.score == "contrast"
    assert [(t.label, t.foil_label) for t in got.targets] == [("paris", "rome")]
    want = interpreto_core.explain(model, tok, prompt, method="occlusion", targets=" paris", contrast=" rome")[0]
    _same(got, want)
    # digits stay text for an LM: "1" is a continuation, not a class
    digit = _run(lm_folder, tmp_path, "--method", "occlusion", "--target", "1", "--score", "probability", prompt)[0]
    assert digit.score == "probability" and digit.targets[0].index == tok("1", add_special_tokens=False)["input_ids"][0]
    _same(digit, interpreto_core.explain(model, tok, prompt, method="occlusion", targets="1", score="probability")[0])


def test_chat_messages_from_a_jsonl_file_with_task_options(lm_folder, tmp_path):
    chat = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "The capital of France?"}]
    file = tmp_path / "chats.jsonl"
    file.write_text(json.dumps({"messages": chat}) + "\n", encoding="utf-8")
    got = _run(lm_folder, tmp_path, "--method", "occlusion", "--file", str(file), "--target", " paris",
               "--param", 'roles=["system", "user"]')[0]
    model, tok = load_local_model(str(lm_folder))
    assert got.input == chat and "Be" in got.elements and "France" in got.elements
    _same(got, interpreto_core.explain(model, tok, chat, method="occlusion", targets=" paris",
                                       roles=["system", "user"])[0])


def test_classifier_contrast_by_index_and_label(cls_folder, tmp_path):
    model, tok = load_local_model(str(cls_folder))
    got = _run(cls_folder, tmp_path, "--method", "occlusion", "--target", "0", "--contrast", "LABEL_2",
               "a fine film", "dull")
    want = interpreto_core.explain(model, tok, ["a fine film", "dull"], method="occlusion", targets=0, contrast=2)
    for g, w in zip(got, want, strict=True):
        assert g.score == "contrast" and g.targets[0].foil == 2
        _same(g, w)
    several = _run(cls_folder, tmp_path, "--method", "occlusion", "--target", "0", "--target", "LABEL_1",
                   "--task", "classifier", "a fine film")[0]
    assert [t.index for t in several.targets] == [0, 1] and several.task == "sequence_classification"


@pytest.mark.parametrize(("argv", "message"), [
    (["--task", "seq2sec"], "unknown task 'seq2sec'; available: seq2seq, "),
    (["--score", "probabilty"], "unknown score 'probabilty'; available: probability, "),
    (["--score", "contrast_probability"], "--score contrast_probability compares each target with a foil"),
])
def test_names_are_checked_before_the_model_loads(tmp_path, capsys, argv, message):
    missing = tmp_path / "no-such-model"  # never read: the names fail first
    assert main(["explain", "--model", str(missing), *argv, "hi"]) == 2
    err = capsys.readouterr().err
    assert message in err and "not a local folder" not in err
    from interpreto_core._registry import get_registry

    kind = "task" if "task" in argv[0] else "score"
    if "unknown" in message:
        assert all(name in err for name in get_registry().names(kind))


def test_a_task_the_model_does_not_serve_is_refused(t5_folder, capsys):
    assert main(["explain", "--model", str(t5_folder), "--task", "causal_lm", "--method", "occlusion", "hi"]) == 2
    assert "as a causal_lm model (AutoModelForCausalLM does not take a t5 config); its config is a seq2seq model: " \
           "pass task='seq2seq'" in capsys.readouterr().err


def test_load_local_model_picks_each_tasks_class(tmp_path, t5_folder, tokenizer):
    import torch
    from transformers import (
        BertConfig,
        BertForMaskedLM,
        BertForQuestionAnswering,
        BertForTokenClassification,
    )

    torch.manual_seed(0)
    config = BertConfig(vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=64, num_labels=3)
    for cls, task in ((BertForTokenClassification, "token_classification"),
                      (BertForQuestionAnswering, "question_answering"), (BertForMaskedLM, "masked_lm")):
        folder = _save(cls(config), tokenizer, tmp_path / task)
        assert task_of_folder(folder) == task
        model, _ = load_local_model(str(folder))
        assert type(model) is cls
    # an encoder-decoder config without architectures is still a seq2seq model
    bare = tmp_path / "bare-t5"
    shutil.copytree(t5_folder, bare)
    cfg = json.loads((bare / "config.json").read_text())
    cfg.pop("architectures", None)
    (bare / "config.json").write_text(json.dumps(cfg))
    assert task_of_folder(bare) == "seq2seq"
    assert type(load_local_model(str(bare))[0]).__name__ == "T5ForConditionalGeneration"
    # task= chooses the class (the MLM folder's encoder under a token-classification head)
    model, _ = load_local_model(str(tmp_path / "masked_lm"), task="token_classification")
    assert type(model) is BertForTokenClassification
    with pytest.raises(InputError, match="unknown task 'mlm'; available: "):
        load_local_model(str(tmp_path / "masked_lm"), task="mlm")

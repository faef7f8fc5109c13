"""explain_dataset for every task: a seq2seq folder with target texts, text pairs, chat messages,
per-row contrasts; records carry the task; resuming still never loses or duplicates a record."""

from __future__ import annotations

import argparse
import copy
import json
import os

import numpy as np
import pytest

import interpreto_core
from interpreto_core import InputError, explain_dataset
from interpreto_core._loading import load_local_model
from interpreto_core.cli.dataset import add_parser
from interpreto_core.dataset import BadRow, Row, read_results, read_rows
from interpreto_core.testing import make_tiny_tokenizer

SOURCES = ["the cat sat on the mat.", "a dog ran in the park.", "birds sing at dawn."]
TARGETS = ["a small dog", "the big cat", "it rains"]
TEMPLATE = (
    "{% for m in messages %}<|{{ m['role'] }}|> {{ m['content'] }} [SEP] {% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>{% endif %}"
)


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
def t5(t5_folder):
    return load_local_model(str(t5_folder))


def _jsonl(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def _same(got, want):
    assert got.elements == want.elements and got.task == want.task and got.score == want.score
    assert [t.to_json() for t in got.targets] == [t.to_json() for t in want.targets]
    np.testing.assert_allclose(got.scores, want.scores, rtol=1e-5, atol=1e-6)


def test_seq2seq_rows_with_target_texts_resume_without_duplicates(t5, tmp_path):
    model, tok = t5
    src = _jsonl(tmp_path / "d.jsonl", [{"text": s, "target": t} for s, t in zip(SOURCES, TARGETS, strict=True)])
    out = tmp_path / "r.jsonl"
    run = explain_dataset(model, tok, src, method="occlusion", target_column="target", out=out, chunk_size=2)
    assert (run.explained, run.records, run.failures) == (3, 3, ())
    recs = {r["id"]: r for r in read_results(out)}
    assert sorted(recs) == [1, 2, 3]
    for line, (source, target) in enumerate(zip(SOURCES, TARGETS, strict=True), start=1):
        rec = recs[line]
        assert rec["task"] == "seq2seq" and rec["target"] == target and rec["contrast"] is None
        assert "input" not in rec  # a plain text's input is its text
        _same(rec["explanation"], interpreto_core.explain(model, tok, source, method="occlusion", targets=target)[0])
    again = explain_dataset(model, tok, src, method="occlusion", target_column="target", out=out)
    assert (again.already_done, again.explained, again.records) == (3, 0, 0)
    assert len(out.read_bytes().splitlines()) == 3
    with pytest.raises(InputError, match="task differ"):  # the task is a setting of the run
        explain_dataset(model, tok, src, method="occlusion", target_column="target", out=out, task="seq2seq")


def test_pairs_from_two_columns_and_per_row_contrasts(classifier, tokenizer, tmp_path):
    src = tmp_path / "nli.csv"
    src.write_text("premise,hypothesis,foil\n"
                   "a man plays a guitar,someone makes music,1\n"
                   "the dog sleeps,an animal runs,\n"
                   "it is sunny,the sky is clear,LABEL_2\n"
                   "an empty,,0\n", encoding="utf-8")
    rows = list(read_rows(src, pair_columns=["premise", "hypothesis"], contrast_column="foil"))
    assert isinstance(rows[-1], BadRow) and "empty text in pair column 'hypothesis'" in rows[-1].reason
    assert [r.contrast for r in rows[:3]] == [1, None, "LABEL_2"]
    out = tmp_path / "r.jsonl"
    with pytest.warns(UserWarning, match="line 5"):
        run = explain_dataset(classifier, tokenizer, src, method="occlusion", pair_columns=["premise", "hypothesis"],
                              contrast_column="foil", out=out)
    assert (run.explained, run.records, len(run.bad_rows)) == (3, 3, 1)
    recs = [json.loads(x) for x in out.read_text().splitlines()]
    assert [r["id"] for r in recs] == [2, 3, 4]  # rows with and without a foil explained apart, in order
    for rec, row in zip(recs, rows[:3], strict=True):
        assert rec["input"] == list(row.input) and rec["text"] == "\n\n".join(row.input)
        assert rec["task"] == "sequence_classification" and rec["contrast"] == row.contrast
        want = interpreto_core.explain(classifier, tokenizer, row.input, method="occlusion", contrast=row.contrast)[0]
        got = interpreto_core.Explanation.from_json(rec["explanation"])
        _same(got, want)
        assert got.score == ("logit" if row.contrast is None else "contrast")
        assert set(got.segments) == {0, 1}


def test_a_run_contrast_for_lm_rows_and_chat_messages(causal_lm, tokenizer, tmp_path):
    tok = copy.deepcopy(tokenizer)
    tok.chat_template = TEMPLATE
    chat = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "The capital of France?"}]
    rows = [{"messages": "the capital of france is", "target": " paris"},
            {"messages": chat, "target": " paris", "foil": " lyon"},
            {"messages": [{"role": "user"}], "target": " paris"}]
    src = _jsonl(tmp_path / "chats.jsonl", rows)
    out = tmp_path / "r.parquet" if _has_pyarrow() else tmp_path / "r.jsonl"
    with pytest.warns(UserWarning, match="needs string 'role' and 'content'"):
        run = explain_dataset(causal_lm, tok, src, method="occlusion", target_column="target",
                              contrast_column="foil", contrast=" rome", out=out)
    assert (run.explained, run.records) == (2, 2)
    recs = list(read_results(out))
    assert [r["id"] for r in recs] == [1, 2] and [r["contrast"] for r in recs] == [" rome", " lyon"]
    assert "input" not in recs[0] and recs[1]["input"] == chat and recs[1]["task"] == "causal_lm"
    for rec, value, foil in zip(recs, [rows[0]["messages"], chat], [" rome", " lyon"], strict=True):
        want = interpreto_core.explain(causal_lm, tok, value, method="occlusion", targets=" paris", contrast=foil)[0]
        _same(rec["explanation"], want)
        assert rec["explanation"].score == "contrast" and rec["explanation"].targets[0].foil_label == foil.strip()
    meta = json.loads((out / "interpreto-run.json" if out.suffix == ".parquet" else
                       out.with_name(out.name + ".meta.json")).read_text())
    assert meta["contrast"] == " rome" and "task" not in meta


def _has_pyarrow() -> bool:
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        return False
    return True


def test_json_fields_hold_pairs_and_chats():
    chat = [{"role": "user", "content": "hi"}]
    good = list(read_rows([{"text": ["a", "b"]}, {"text": chat, "c": 3}], contrast_column="c"))
    assert good == [Row(id=0, text="a\n\nb", input=("a", "b")), Row(id=1, text="user: hi", input=chat, contrast=3)]
    assert good[0].value == ("a", "b") and Row(id=0, text="x").value == "x"
    bad = list(read_rows([{"text": ["a"]}, {"text": ["a", ""]}, {"text": [{"role": "u", "content": " "}]}]))
    assert all(isinstance(b, BadRow) for b in bad)
    with pytest.raises(InputError, match="not both"):
        list(read_rows(["x"], text_column="a", pair_columns=["a", "b"]))
    with pytest.raises(InputError, match="two columns"):
        list(read_rows(["x"], pair_columns=["a"]))


def test_bad_task_and_score_fail_before_the_run(t5, tmp_path):
    model, tok = t5
    with pytest.raises(InputError, match=r"unknown task 'seq2sec'; available: seq2seq"):
        explain_dataset(model, tok, SOURCES, method="occlusion", task="seq2sec", out=tmp_path / "a.jsonl")
    with pytest.raises(InputError, match=r"unknown score 'logits_diff'; available: .*contrast"):
        explain_dataset(model, tok, SOURCES, method="occlusion", score="logits_diff", out=tmp_path / "b.jsonl")
    with pytest.raises(InputError, match="compares each target with a foil"):
        explain_dataset(model, tok, SOURCES, method="occlusion", score="contrast", out=tmp_path / "c.jsonl")
    assert not (tmp_path / "a.jsonl").exists() and not (tmp_path / "c.jsonl").exists()


def _command(argv):
    parser = argparse.ArgumentParser()
    add_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["explain-dataset", *argv])
    return args.func(args)


def test_command_on_a_seq2seq_folder(t5_folder, t5, tmp_path, capsys):
    model, tok = t5
    src = tmp_path / "d.tsv"
    src.write_text("id\tsource\ttarget\n" + "".join(f"k{i}\t{s}\t{t}\n" for i, (s, t) in
                                                    enumerate(zip(SOURCES, TARGETS, strict=True))), encoding="utf-8")
    out = tmp_path / "r.jsonl"
    assert _command([str(src), "--model", str(t5_folder), "--method", "occlusion", "--text-column", "source",
                     "--id-column", "id", "--target-column", "target", "--contrast", "a big cat",
                     "--task", "seq2seq", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "3 texts explained" in printed and "1 failures" in printed  # "it rains" has 2 tokens, the foil 3
    recs = list(read_results(out))
    assert [r["id"] for r in recs] == ["k0", "k1"]
    for rec, source, target in zip(recs, SOURCES[:2], TARGETS[:2], strict=True):
        assert rec["task"] == "seq2seq" and rec["contrast"] == "a big cat"
        want = interpreto_core.explain(model, tok, source, method="occlusion", targets=target,
                                       contrast="a big cat")[0]
        _same(rec["explanation"], want)
        assert rec["explanation"].score == "contrast"
    assert json.loads(out.with_name(out.name + ".meta.json").read_text())["task"] == "seq2seq"


@pytest.mark.parametrize(("argv", "message"), [
    (["--task", "seq2sec"], "unknown task 'seq2sec'; available: seq2seq"),
    (["--score", "probabilty"], "unknown score 'probabilty'; available: probability"),
    (["--score", "contrast"], "--score contrast compares each target with a foil"),
])
def test_command_checks_names_before_loading(tmp_path, argv, message):
    src = tmp_path / "d.txt"
    src.write_text("hello\n")
    with pytest.raises(InputError, match=message):  # the model folder does not exist: it was never read
        _command([str(src), "--model", str(tmp_path / "no-model"), "--method", "occlusion", *argv])


@pytest.fixture(scope="module")
def ray_session():
    ray = pytest.importorskip("ray")
    if os.environ.get("INTERPRETO_RAY_TESTS") != "1":
        pytest.skip("the Ray end-to-end test takes minutes here: set INTERPRETO_RAY_TESTS=1 to run it")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, object_store_memory=100 * 1024**2)
    yield ray
    ray.shutdown()


def test_ray_records_equal_the_local_ones_for_pairs_and_contrasts(ray_session, classifier, tokenizer, tmp_path):
    from interpreto_core.dataset import explain_dataset_ray

    folder = tmp_path / "model"
    classifier.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    rows = [{"id": f"r{i}", "text": [f"premise {i} is here", f"hypothesis {i}"], **({"foil": i % 3} if i % 2 else {})}
            for i in range(6)]
    src = _jsonl(tmp_path / "d.jsonl", rows)
    common = {"method": "occlusion", "id_column": "id", "contrast_column": "foil", "task": "classifier"}
    local = tmp_path / "local.jsonl"
    explain_dataset(classifier, tokenizer, src, out=local, **common)
    remote = tmp_path / "ray.jsonl"
    run = explain_dataset_ray(str(folder), src, out=remote, num_workers=2, chunk_size=2, **common)
    assert (run.explained, run.records, run.failures) == (6, 6, ())
    by_id = {r["id"]: r for r in read_results(remote)}
    assert len(remote.read_bytes().splitlines()) == 6
    for rec in read_results(local):
        other = by_id[rec["id"]]
        assert (other["input"], other["contrast"], other["task"]) == (rec["input"], rec["contrast"], rec["task"])
        assert other["explanation"].elements == rec["explanation"].elements
        assert other["explanation"].score == rec["explanation"].score
        np.testing.assert_allclose(other["explanation"].scores, rec["explanation"].scores, rtol=1e-4, atol=1e-6)

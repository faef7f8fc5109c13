"""explain_dataset: same results as Explainer, streamed to disk, resumable without duplicates."""

from __future__ import annotations

import json

import numpy as np
import pytest

from interpreto_core import Explainer, InputError, explain_dataset
from interpreto_core.dataset import BadRowWarning, read_results

TEXTS = [f"sample {i} is {'great' if i % 3 else 'dull'} " + "and long " * (i % 4) for i in range(8)]
SPECS = {"lime": {"n_samples": 16}, "integrated_gradients": {"n_steps": 5}}


def _by_key(path):
    return {(r["id"], r["method"]): r for r in read_results(path)}


@pytest.fixture(scope="module")
def reference(classifier, tokenizer):
    """Each text explained alone (one text per engine call): what the data set run must reproduce."""
    out = {}
    for name, params in SPECS.items():
        ex = Explainer(classifier, tokenizer, method=name, **params)
        for i, text in enumerate(TEXTS):
            out[(i, name)] = ex.explain([text])[0]
    return out


def test_records_equal_per_text_explanations(classifier, tokenizer, reference, tmp_path):
    out = tmp_path / "r.jsonl"
    run = explain_dataset(classifier, tokenizer, TEXTS, methods=SPECS, out=out, chunk_size=4, batch_size=7)
    assert (run.explained, run.already_done, run.records) == (len(TEXTS), 0, 2 * len(TEXTS))
    got = _by_key(out)
    assert set(got) == set(reference)
    for key, rec in got.items():
        assert rec["text"] == TEXTS[key[0]] and rec["line"] is None
        np.testing.assert_allclose(rec["explanation"].scores, reference[key].scores, rtol=1e-5, atol=1e-6)
        assert rec["explanation"].elements == reference[key].elements


def test_interrupted_run_resumes_without_duplicates(classifier, tokenizer, reference, tmp_path):
    out = tmp_path / "r.jsonl"

    def crashing():
        for i, t in enumerate(TEXTS):
            if i == 5:
                raise KeyboardInterrupt  # the user stops the job mid-chunk
            yield t

    with pytest.raises(KeyboardInterrupt):
        explain_dataset(classifier, tokenizer, crashing(), methods=SPECS, out=out, chunk_size=2)
    assert len(out.read_bytes().splitlines()) == 2 * 4  # two finished chunks on disk
    with out.open("ab") as f:
        f.write(b'{"id": 4, "method": "lime", "text": "trunc')  # a write cut by a crash
    run = explain_dataset(classifier, tokenizer, TEXTS, methods=SPECS, out=out, chunk_size=3)
    assert run.discarded_partial and (run.already_done, run.explained) == (4, 4)
    lines = out.read_bytes().splitlines()
    keys = [(json.loads(x)["id"], json.loads(x)["method"]) for x in lines]
    assert len(keys) == len(set(keys)) == 2 * len(TEXTS)
    for key, rec in _by_key(out).items():
        np.testing.assert_allclose(rec["explanation"].scores, reference[key].scores, rtol=1e-5, atol=1e-6)
    again = explain_dataset(classifier, tokenizer, TEXTS, methods=SPECS, out=out)
    assert (again.explained, again.records, again.already_done) == (0, 0, len(TEXTS))


def test_resume_refuses_other_settings(classifier, tokenizer, tmp_path):
    out = tmp_path / "r.jsonl"
    explain_dataset(classifier, tokenizer, TEXTS[:2], method="lime", n_samples=8, out=out)
    with pytest.raises(InputError, match="other settings"):
        explain_dataset(classifier, tokenizer, TEXTS[:2], method="lime", n_samples=9, out=out)
    with pytest.raises(InputError, match="already exists"):
        explain_dataset(classifier, tokenizer, TEXTS[:2], method="lime", n_samples=8, out=out, resume=False)
    run = explain_dataset(classifier, tokenizer, TEXTS[:3], method="lime", n_samples=8, out=out, batch_size=5)
    assert (run.already_done, run.explained) == (2, 1)  # batch_size changes packing, not results
    run = explain_dataset(classifier, tokenizer, TEXTS[:2], method="lime", n_samples=9, out=out,
                          resume=False, overwrite=True)
    assert run.explained == 2 and len(out.read_bytes().splitlines()) == 2


def test_bad_rows_and_unexplainable_texts_are_skipped(classifier, tokenizer, tmp_path):
    src = tmp_path / "in.jsonl"
    rows = [{"id": "a", "text": "a fine film"}, "{broken", {"id": "b", "text": "\u200b"},
            {"id": "a", "text": "duplicate id"}, {"id": "c", "text": "dull plot", "label": 2}]
    src.write_text("\n".join(r if isinstance(r, str) else json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    with pytest.warns(BadRowWarning) as caught:
        run = explain_dataset(classifier, tokenizer, src, method="occlusion", out=tmp_path / "r.jsonl",
                              id_column="id", target_column="label")
    assert [(b.line, b.reason.split(" (")[0]) for b in run.bad_rows] == [(2, "invalid JSON"), (4, "duplicate id 'a'")]
    assert [(f[0], f[1]) for f in run.failures] == [("b", "occlusion")] and "\\u200b" in run.failures[0][2]
    assert any("line 3" in str(w.message) for w in caught)
    got = _by_key(tmp_path / "r.jsonl")
    assert sorted(got) == [("a", "occlusion"), ("c", "occlusion")]
    assert got[("c", "occlusion")]["explanation"].targets[0].index == 2  # the target column was used


def test_causal_lm_with_continuations(causal_lm, tokenizer, tmp_path):
    rows = [{"text": "the cat sat on", "cont": " the mat"}, {"text": "hello there", "cont": " friend"}]
    run = explain_dataset(causal_lm, tokenizer, rows, method="occlusion", out=tmp_path / "r.jsonl",
                          target_column="cont")
    recs = list(read_results(tmp_path / "r.jsonl"))
    assert run.records == 2 and [r["explanation"].output_text.strip() for r in recs] == ["the mat", "friend"]


def test_parquet_output(classifier, tokenizer, reference, tmp_path):
    pytest.importorskip("pyarrow")
    out = tmp_path / "r.parquet"
    explain_dataset(classifier, tokenizer, TEXTS[:5], method="lime", n_samples=16, out=out, chunk_size=2)
    run = explain_dataset(classifier, tokenizer, TEXTS, method="lime", n_samples=16, out=out, chunk_size=4)
    assert (run.already_done, run.explained) == (5, 3)
    got = _by_key(out)
    assert sorted(got) == [(i, "lime") for i in range(len(TEXTS))]
    for (i, m), rec in got.items():
        np.testing.assert_allclose(rec["explanation"].scores, reference[(i, m)].scores, rtol=1e-5, atol=1e-6)


def test_argument_errors(classifier, tokenizer, tmp_path):
    with pytest.raises(InputError, match="exactly one"):
        explain_dataset(classifier, tokenizer, TEXTS, out=tmp_path / "r.jsonl")
    with pytest.raises(InputError, match=".jsonl or .parquet"):
        explain_dataset(classifier, tokenizer, TEXTS, method="lime", out=tmp_path / "r.csv")
    with pytest.raises(InputError, match="chunk_size"):
        explain_dataset(classifier, tokenizer, TEXTS, method="lime", out=tmp_path / "r.jsonl", chunk_size=0)


def test_foreign_or_corrupt_outputs_are_not_truncated(classifier, tokenizer, tmp_path):
    foreign = tmp_path / "mine.jsonl"
    foreign.write_text('{"something": "else"}\n')
    with pytest.raises(InputError, match="not written by explain_dataset"):
        explain_dataset(classifier, tokenizer, TEXTS[:1], method="lime", n_samples=8, out=foreign)
    assert foreign.read_text() == '{"something": "else"}\n'
    out = tmp_path / "r.jsonl"
    explain_dataset(classifier, tokenizer, TEXTS[:2], method="lime", n_samples=8, out=out)
    good = out.read_bytes()
    out.write_bytes(b"garbage\n" + good)
    with pytest.raises(InputError, match="line 1"):
        explain_dataset(classifier, tokenizer, TEXTS[:2], method="lime", n_samples=8, out=out)
    assert out.read_bytes() == b"garbage\n" + good

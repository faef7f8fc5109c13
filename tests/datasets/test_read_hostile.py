"""Hostile input files: a stray quote, deep nesting, invalid UTF-8 — each unreadable row is a
reported bad row (with its line), every other row is read; nothing raises but a bad header."""

from __future__ import annotations

import warnings

import pytest

from interpreto_core import InputError, explain_dataset
from interpreto_core.dataset import BadRow, BadRowWarning, Row, read_rows


def _split(rows):
    return [r for r in rows if isinstance(r, Row)], [r for r in rows if isinstance(r, BadRow)]


def test_stray_quote_running_to_the_end_does_not_merge_rows(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text('id,text\n1,"oops a stray quote\n2,fine\n3,also fine\n')
    good, bad = _split(list(read_rows(path)))
    assert [b.line for b in bad] == [2] and "stray quote" in bad[0].reason
    assert [(r.line, r.text) for r in good] == [(3, "fine"), (4, "also fine")]


def test_stray_quote_closed_by_a_later_quote(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text('id,text\n1,"oops\n2,fine\n3,"quoted" text\n4,"a ""real"" quote, kept"\n5,last\n')
    good, bad = _split(list(read_rows(path)))
    assert [b.line for b in bad] == [2]  # line 4's odd quoting stays on its line: read as csv reads it
    assert [(r.line, r.text) for r in good] == [
        (3, "fine"), (4, "quoted text"), (5, 'a "real" quote, kept'), (6, "last")]


def test_two_stray_quotes_and_legit_multiline_fields(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text('text,label\n"a real\nmulti-line text",1\n"stray one,0\nok row,1\n"stray two,0\nok again,0\n'
                    '"another\nreal one",1\n')
    good, bad = _split(list(read_rows(path, target_column="label")))
    assert [b.line for b in bad] == [4, 6]
    assert [(r.line, r.text, r.target) for r in good] == [
        (2, "a real\nmulti-line text", 1), (5, "ok row", 1), (7, "ok again", 0), (8, "another\nreal one", 1)]


def test_tsv_stray_quote(tmp_path):
    path = tmp_path / "d.tsv"
    path.write_text('sentence\tlabel\n"half quoted\t1\nnext\t0\n')
    good, bad = _split(list(read_rows(path, target_column="label")))
    assert [b.line for b in bad] == [2] and [r.text for r in good] == ["next"]


def test_field_over_the_size_limit_loses_no_following_row(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text('text\n"' + "x" * 200_000 + "\n" + "".join(f"row {i}\n" for i in range(5)))
    good, bad = _split(list(read_rows(path)))
    assert [b.line for b in bad] == [2]
    assert [r.text for r in good] == [f"row {i}" for i in range(5)]


def test_explain_dataset_reports_the_stray_quote_row(classifier, tokenizer, tmp_path):
    path = tmp_path / "d.csv"
    path.write_text('text\n"stray\nsecond row\nthird row\n')
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", BadRowWarning)
        run = explain_dataset(classifier, tokenizer, str(path), method="lime", n_samples=8, out=tmp_path / "r.jsonl")
    assert [b.line for b in run.bad_rows] == [2] and run.explained == 2


@pytest.mark.parametrize("deep", ["[" * 100_000, '{"text": ' + "[" * 100_000 + "]" * 100_000 + "}",
                                  '{"a":' * 50_000 + "1" + "}" * 50_000])
def test_deeply_nested_jsonl_row_is_a_bad_row(tmp_path, deep):
    path = tmp_path / "d.jsonl"
    path.write_text('{"text": "first"}\n' + deep + '\n{"text": "third"}\n')
    good, bad = _split(list(read_rows(path)))
    assert [b.line for b in bad] == [2] and [r.text for r in good] == ["first", "third"]


def test_deep_jsonl_does_not_kill_explain_dataset_on_resume(classifier, tokenizer, tmp_path):
    path = tmp_path / "d.jsonl"
    path.write_text('{"text": "first one"}\n' + "[" * 100_000 + '\n{"text": "third one"}\n')
    out = tmp_path / "r.jsonl"
    for expected in (2, 0):  # the run, then a resume: neither dies on the row
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", BadRowWarning)
            run = explain_dataset(classifier, tokenizer, str(path), method="lime", n_samples=8, out=out)
        assert run.explained == expected and [b.line for b in run.bad_rows] == [2]


@pytest.mark.parametrize("suffix", [".csv", ".tsv", ".jsonl", ".txt"])
def test_invalid_utf8_is_a_bad_row_with_its_byte_offset(tmp_path, suffix):
    path = tmp_path / f"d{suffix}"
    head = {".csv": b"text\n", ".tsv": b"text\n", ".jsonl": b"", ".txt": b""}[suffix]
    body = [b"good one", b"bad \xff\xfe byte", b"good two"]
    if suffix == ".jsonl":
        body = [b'{"text": "%s"}' % b for b in body]
    data = head + b"\n".join(body) + b"\n"
    path.write_bytes(data)
    good, bad = _split(list(read_rows(path)))
    assert [r.text for r in good] == ["good one", "good two"]
    assert len(bad) == 1 and bad[0].line == (3 if head else 2)
    offset = data.index(bytes([0xFF]))
    assert f"byte offset {offset}" in bad[0].reason


def test_invalid_utf8_inside_a_multiline_field(tmp_path):
    path = tmp_path / "d.csv"
    path.write_bytes(b'text\n"starts\nbad \xff\nends"\nnext\n')
    good, bad = _split(list(read_rows(path)))
    assert bad and all(isinstance(b, BadRow) for b in bad) and "next" in [r.text for r in good]


@pytest.mark.parametrize("data", [b"te\xffxt,label\na,1\n", b'"text,label\na,1\n'])
def test_unreadable_header_is_one_clear_error(tmp_path, data):
    path = tmp_path / "d.csv"
    path.write_bytes(data)
    with pytest.raises(InputError, match="header of .*d.csv.* cannot be read") as err:
        list(read_rows(path))
    assert "\n" not in str(err.value)


def test_binary_garbage_never_raises(tmp_path):
    import random

    rng = random.Random(0)
    for suffix in (".csv", ".jsonl", ".txt"):
        path = tmp_path / f"g{suffix}"
        path.write_bytes((b"text\n" if suffix == ".csv" else b"") + bytes(rng.randrange(256) for _ in range(5000)))
        try:
            rows = list(read_rows(path))
        except InputError:
            continue  # a header that cannot be read: one clear error
        assert all(isinstance(r, Row | BadRow) for r in rows)

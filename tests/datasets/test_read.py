"""Readers: every row keeps its line number; unreadable rows are reported and skipped, never fatal."""

from __future__ import annotations

import json

import pytest

from interpreto_core import InputError
from interpreto_core.dataset import BadRow, Row, read_rows


def _split(rows):
    good = [r for r in rows if isinstance(r, Row)]
    bad = [r for r in rows if isinstance(r, BadRow)]
    return good, bad


def test_tsv_line_numbers_and_bad_rows(tmp_path):
    path = tmp_path / "d.tsv"
    path.write_bytes(
        b"sentence\tlabel\n"          # 1 header
        b"a good movie\t1\n"          # 2
        b"bad \xff bytes\t0\n"        # 3 not UTF-8
        b"\t0\n"                      # 4 empty text
        b"\n"                         # 5 blank: not a row
        b"only one field\n"           # 6 wrong field count
        b"fine acting\t1\n"           # 7
    )
    good, bad = _split(list(read_rows(path, target_column="label")))
    assert [(r.id, r.line, r.text, r.target) for r in good] == [(2, 2, "a good movie", 1), (7, 7, "fine acting", 1)]
    assert [(b.line, b.reason.split(" (")[0]) for b in bad] == [
        (3, "not valid UTF-8"), (4, "empty text"), (6, "expected 2 fields, found 1")
    ]


def test_csv_multiline_field_starts_at_its_first_line(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text('id,title,body\nx1,Hello,"two\nlines"\nx2,Bye,short\n', encoding="utf-8")
    good, bad = _split(list(read_rows(path, text_column=["title", "body"], id_column="id")))
    assert not bad
    assert [(r.id, r.line, r.text) for r in good] == [("x1", 2, "Hello two\nlines"), ("x2", 4, "Bye short")]


def test_csv_without_header_uses_indices(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("3,one\n4,two\n", encoding="utf-8")
    good, _ = _split(list(read_rows(path, header=False, text_column=1, target_column=0)))
    assert [(r.id, r.text, r.target) for r in good] == [(1, "one", 3), (2, "two", 4)]
    with pytest.raises(InputError, match="text_column"):
        list(read_rows(path, header=False))


def test_jsonl_bad_json_and_missing_field(tmp_path):
    path = tmp_path / "d.jsonl"
    lines = [json.dumps({"text": "first"}), "{not json", json.dumps({"body": "x"}), json.dumps("a bare string"),
             "", json.dumps({"text": 3})]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    good, bad = _split(list(read_rows(path)))
    assert [(r.line, r.text) for r in good] == [(1, "first"), (4, "a bare string")]
    assert [b.line for b in bad] == [2, 3, 6]
    assert "invalid JSON" in bad[0].reason and "no text field" in bad[1].reason and "not text" in bad[2].reason


def test_iterables_and_txt(tmp_path):
    good, bad = _split(list(read_rows(["a", (7, "b"), {"text": "c", "id": "k"}, "  ", 5], id_column=None)))
    assert [(r.id, r.text) for r in good] == [(0, "a"), (7, "b"), (2, "c")]
    assert len(bad) == 2
    path = tmp_path / "d.txt"
    path.write_text("one\n\ntwo\n", encoding="utf-8")
    assert [(r.id, r.text) for r in read_rows(path)] == [(1, "one"), (3, "two")]


def test_clear_errors_for_bad_arguments(tmp_path):
    with pytest.raises(InputError, match="no data file"):
        list(read_rows(tmp_path / "missing.csv"))
    (tmp_path / "d.xlsx").write_text("x")
    with pytest.raises(InputError, match="format"):
        list(read_rows(tmp_path / "d.xlsx"))
    (tmp_path / "d.csv").write_text("a,b\n1,2\n")
    with pytest.raises(InputError, match="text_column"):
        list(read_rows(tmp_path / "d.csv"))
    with pytest.raises(InputError, match="no column 'z'"):
        list(read_rows(tmp_path / "d.csv", text_column="z"))


def test_headerless_column_out_of_range(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("3,one\n", encoding="utf-8")
    with pytest.raises(InputError, match="indices 0..1"):
        list(read_rows(path, header=False, text_column=1, id_column=5))

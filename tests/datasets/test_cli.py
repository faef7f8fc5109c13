"""The explain-dataset command (``interpreto_core.cli.dataset``, wired into ``interpreto`` through add_parser)."""

from __future__ import annotations

import argparse
import json

from interpreto_core.cli.dataset import add_parser


def test_explain_dataset_command(classifier, tokenizer, tmp_path, capsys):
    folder = tmp_path / "model"
    classifier.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    src = tmp_path / "d.csv"
    src.write_text("7,a fine film\n8,dull\nbroken,row,here\n", encoding="utf-8")
    parser = argparse.ArgumentParser()
    add_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["explain-dataset", str(src), "--model", str(folder), "--method", "lime",
                              "--no-header", "--text-column", "1", "--id-column", "0", "--param", "n_samples=8",
                              "--out", str(tmp_path / "r.jsonl")])
    assert args.func(args) == 0
    out = capsys.readouterr().out
    assert "2 texts explained" in out and "skipped line 3" in out
    recs = [json.loads(x) for x in (tmp_path / "r.jsonl").read_text().splitlines()]
    assert [r["id"] for r in recs] == ["7", "8"] and recs[0]["explanation"]["parameters"]["n_samples"] == 8

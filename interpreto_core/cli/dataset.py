"""``interpreto explain-dataset``: the command-line face of :func:`explain_dataset` (and its Ray path).

Nothing heavy is imported until it runs.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

__all__ = ["add_parser", "run_command"]


def _params(pairs: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            raise SystemExit(f"--param takes KEY=VALUE, got {pair!r}")
        try:
            out[key] = json.loads(value)
        except ValueError:
            out[key] = value
    return out


def add_parser(sub: Any) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "explain-dataset",
        help="explain every text of a CSV/TSV/JSONL/TXT file; results stream to JSONL/Parquet, resumable",
    )
    p.add_argument("source", help="data file (.csv, .tsv, .jsonl, .txt)")
    p.add_argument("--model", required=True, help="local model folder (save_pretrained model + tokenizer)")
    p.add_argument("--method", action="append", required=True, help="attribution method (repeat for several)")
    p.add_argument("--out", default="results.jsonl", help="output .jsonl file or .parquet folder")
    p.add_argument("--granularity", default="word")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--chunk-size", type=int, default=256)
    p.add_argument("--text-column", action="append", help="text column (repeat to join several)")
    p.add_argument("--id-column")
    p.add_argument("--target-column")
    p.add_argument("--no-header", action="store_true", help="CSV/TSV without a header line")
    p.add_argument("--param", action="append", default=[], metavar="KEY=VALUE",
                   help="method parameter for every method, e.g. n_samples=200 (JSON values)")
    p.add_argument("--restart", action="store_true", help="start the output over instead of resuming it")
    p.add_argument("--ray-workers", type=int, default=0, help="run on Ray with this many workers (needs ray)")
    p.set_defaults(func=run_command)
    return p


def run_command(args: argparse.Namespace) -> int:
    columns = args.text_column if args.text_column is None or len(args.text_column) > 1 else args.text_column[0]
    header = not args.no_header
    as_col = (lambda c: int(c) if c is not None and c.lstrip("-").isdigit() else c) if not header else (lambda c: c)
    common: dict[str, Any] = dict(
        methods=list(dict.fromkeys(args.method)), out=args.out, granularity=args.granularity,
        batch_size=args.batch_size, chunk_size=args.chunk_size, resume=not args.restart, overwrite=args.restart,
        text_column=[as_col(c) for c in columns] if isinstance(columns, list) else as_col(columns),
        id_column=as_col(args.id_column), target_column=as_col(args.target_column), progress=True,
        **_params(args.param),
    )
    if not header:
        common["header"] = False
    if args.ray_workers:
        from ..dataset import explain_dataset_ray

        run = explain_dataset_ray(args.model, args.source, num_workers=args.ray_workers, **common)
    else:
        from .._loading import load_local_model
        from ..dataset import explain_dataset

        model, tokenizer = load_local_model(args.model)
        run = explain_dataset(model, tokenizer, args.source, **common)
    print(
        f"{run.out}: {run.explained} texts explained, {run.already_done} already done, {run.records} records written, "
        f"{len(run.bad_rows)} bad rows, {len(run.failures)} failures, {run.texts_per_second:.2f} texts/s"
    )
    for bad in run.bad_rows[:20]:
        print(f"  skipped {bad}")
    return 0

"""``interpreto explain-dataset``: the command-line face of :func:`explain_dataset` (and its Ray path).

Nothing heavy is imported until it runs.
"""

from __future__ import annotations

import argparse
from typing import Any

from ._common import add_task_arguments, check_names, parse_value, route_params

__all__ = ["add_parser", "run_command"]


def add_parser(sub: Any) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "explain-dataset",
        help="explain every text of a CSV/TSV/JSONL/TXT file; results stream to JSONL/Parquet, resumable",
    )
    p.add_argument("source", help="data file (.csv, .tsv, .jsonl, .txt)")
    p.add_argument("--model", required=True, help="local model folder (save_pretrained model + tokenizer)")
    p.add_argument("-m", "--method", action="append", required=True, help="attribution method (repeat for several)")
    p.add_argument("--out", default="results.jsonl", help="output .jsonl file or .parquet folder")
    p.add_argument("--granularity", default="word")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--chunk-size", type=int, default=256)
    p.add_argument("--text-column", action="append", help="text column (repeat to join several)")
    p.add_argument("--pair-columns", nargs=2, metavar=("A", "B"),
                   help="two columns read as a (text_a, text_b) pair, e.g. premise hypothesis")
    p.add_argument("--id-column")
    p.add_argument("--target-column", help="a column holding each row's target (class, or continuation)")
    p.add_argument("--contrast-column", help="a column holding each row's contrast (foil)")
    p.add_argument("--no-header", action="store_true", help="CSV/TSV without a header line")
    p.add_argument("-p", "--param", action="append", default=[], metavar="[METHOD.]KEY=VALUE",
                   help="a parameter: KEY=VALUE for every method that takes it (n_samples=200, max_new_tokens=3), "
                   "METHOD.KEY=VALUE for one method (lime.n_samples=64); values typed (3, 0.5, true, none, JSON "
                   "lists, else text) and checked before the model loads")
    add_task_arguments(p)
    p.add_argument("--restart", action="store_true", help="start the output over instead of resuming it")
    p.add_argument("--ray-workers", type=int, default=0, help="run on Ray with this many workers (needs ray)")
    p.set_defaults(func=run_command)
    return p


def run_command(args: argparse.Namespace) -> int:
    from .._errors import InputError
    from .._loading import task_of_folder
    from .._safe_text import terminal

    columns = args.text_column if args.text_column is None or len(args.text_column) > 1 else args.text_column[0]
    header = not args.no_header
    as_col = (lambda c: int(c) if c is not None and c.lstrip("-").isdigit() else c) if not header else (lambda c: c)
    if args.pair_columns and args.text_column:
        raise InputError("give --text-column or --pair-columns, not both")
    # unknown task / score names fail here, before the model loads (locally or on Ray workers)
    task = check_names(args.task, args.score, contrast=args.contrast, contrast_column=args.contrast_column)
    # so do unknown methods and parameter names / values (from the registry and the folder's config.json)
    shared, own = route_params(args.param, list(dict.fromkeys(args.method)), task or task_of_folder(args.model))
    common: dict[str, Any] = dict(
        methods=own, out=args.out, granularity=args.granularity,
        batch_size=args.batch_size, chunk_size=args.chunk_size, resume=not args.restart, overwrite=args.restart,
        text_column=[as_col(c) for c in columns] if isinstance(columns, list) else as_col(columns),
        id_column=as_col(args.id_column), target_column=as_col(args.target_column), progress=True,
    )
    common.update(shared)  # -p batch_size=8 wins over --batch-size
    if args.pair_columns:
        common["pair_columns"] = [as_col(c) for c in args.pair_columns]
    if args.contrast_column is not None:
        common["contrast_column"] = as_col(args.contrast_column)
    if task is not None:
        common["task"] = task
    if args.score is not None:
        common["score"] = args.score
    if args.contrast is not None:  # a class for classifiers, verbatim text for LMs (the task from the config)
        common["contrast"] = parse_value(args.contrast, task or task_of_folder(args.model))
    if not header:
        common["header"] = False
    if args.ray_workers:
        from ..dataset import explain_dataset_ray

        run = explain_dataset_ray(args.model, args.source, num_workers=args.ray_workers, **common)
    else:
        from .._loading import load_local_model
        from ..dataset import explain_dataset

        model, tokenizer = load_local_model(args.model, task=task)
        run = explain_dataset(model, tokenizer, args.source, **common)
    print(
        f"{terminal(run.out)}: {run.explained} texts explained, {run.already_done} already done, "
        f"{run.records} records written, "
        f"{len(run.bad_rows)} bad rows, {len(run.failures)} failures, {run.texts_per_second:.2f} texts/s"
    )
    for bad in run.bad_rows[:20]:
        print(f"  skipped {terminal(bad)}")
    return 0

"""``interpreto concept-sweep``: "which layer?" -- one dictionary per layer over one collection pass.

It runs a pipeline with one ``[[concepts]]`` step holding ``layers = [...]`` (so the file checks
and the report are the pipeline's), then prints the table of every metric per layer.
"""

from __future__ import annotations

import argparse
from typing import Any

__all__ = ["add_parser", "run_command"]


def _layer(text: str) -> int | str:
    return int(text) if text.lstrip("-").isdigit() else text


def add_parser(sub: Any) -> argparse.ArgumentParser:
    p = sub.add_parser("concept-sweep", help="fit a concept dictionary at several layers and compare their metrics")
    p.add_argument("data", nargs="?", help="data file (.csv, .tsv, .jsonl); or --ag-news N")
    p.add_argument("--ag-news", type=int, metavar="N", help="use N of the shipped AG News texts (at most 400)")
    p.add_argument("--column", help="the text column of a CSV / TSV / JSONL file")
    p.add_argument("--limit", type=int, help="use the first LIMIT texts")
    where = p.add_mutually_exclusive_group(required=True)
    where.add_argument("--model", help="local model folder (save_pretrained model + tokenizer)")
    where.add_argument("--embedded", help="an embedded model: sentiment or smollm2")
    p.add_argument("--layers", nargs="+", type=_layer, required=True, metavar="LAYER",
                   help="block indices (0 2 4, -1) or module paths")
    p.add_argument("--learner", default="pca", help="a dictionary learner (`interpreto methods --kind "
                   "dictionary_learner`), default pca")
    p.add_argument("-p", "--param", action="append", default=[], metavar="KEY=VALUE",
                   help="a learner parameter (n_concepts=20); JSON values")
    p.add_argument("--metrics", nargs="+", help="concept metrics (default: mse, r2, sparsity, dead ratio)")
    p.add_argument("--granularity", default="token", help="token, word, sentence, sample, first_token, last_token")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--out", default="interpreto-sweep", help="output folder (report.html, the plot, JSON)")
    p.set_defaults(func=run_command)
    return p


def run_command(args: argparse.Namespace) -> int:
    import sys

    from .._errors import InputError
    from .._safe_text import terminal
    from ..pipeline import Pipeline
    from ._common import parse_params

    if (args.data is None) == (args.ag_news is None):
        raise InputError("give a data file or --ag-news N (not both)")
    if args.ag_news is not None:
        from ..zoo import load_ag_news

        if not 1 <= args.ag_news <= 400:
            raise InputError(f"--ag-news takes 1..400 texts, got {args.ag_news}")
        data: dict[str, Any] = {"texts": [t for t, _ in load_ag_news()[: args.ag_news]]}
    else:
        data = {"path": args.data} | ({"column": args.column} if args.column else {})
    if args.limit:
        data["limit"] = args.limit
    step: dict[str, Any] = {"learner": args.learner, "layers": list(args.layers), "params": parse_params(args.param),
                            "granularity": args.granularity, "batch_size": args.batch_size}
    if args.metrics:
        step["metrics"] = list(args.metrics)
    model = {"path": args.model} if args.model else {"embedded": args.embedded}
    pipeline = Pipeline.from_dict({"model": model, "data": data, "concepts": [step],
                                   "title": f"concept sweep: {args.learner}"}, source="concept-sweep")
    result = pipeline.run(args.out)
    sweep = result.concepts[0]["sweep"]
    metrics = sweep["metrics"]
    print("| layer | split point | rows | fit s | " + " | ".join(metrics) + " |")
    print("|" + "---|" * (4 + len(metrics)))
    for row in sweep["layers"]:
        cells = [str(row["layer"]), row["split_point"], str(row["rows"]), f"{row['fit_seconds']:.2f}",
                 *(f"{row['metrics'][m]:.4g}" for m in metrics)]
        print(terminal("| " + " | ".join(cells) + " |"))
    print(terminal(f"report: {result.report}"), file=sys.stderr)
    return 0

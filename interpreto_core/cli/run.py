"""``interpreto run``: validate, then run, a pipeline file (TOML)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

__all__ = ["add_parser", "run_command"]


def add_parser(sub: Any) -> argparse.ArgumentParser:
    p = sub.add_parser("run", help="validate then run a pipeline file (TOML)")
    p.add_argument("pipeline", help="the pipeline file")
    p.add_argument("--out", help="output folder (default: the file's [output] dir, else ./interpreto-out)")
    p.add_argument("--model", help="use this local model folder instead of the file's [model]")
    p.add_argument("--check", action="store_true", help="only validate the file")
    p.set_defaults(func=run_command)
    return p


def run_command(args: argparse.Namespace) -> int:
    from .._safe_text import terminal
    from ..pipeline import Pipeline

    overrides = {"model": {"path": args.model}} if args.model else None
    pipeline = Pipeline.from_toml(args.pipeline, overrides=overrides)
    print(f"pipeline {terminal(args.pipeline)}: valid ({len(pipeline.attributions)} attribution, "
          f"{len(pipeline.metrics)} metric, "
          f"{len(pipeline.concepts)} concept steps)", file=sys.stderr)
    if args.check:
        return 0
    result = pipeline.run(args.out)
    if result.explorer is not None:
        print(f"interactive view: {terminal(result.explorer)}", file=sys.stderr)
    print(terminal(result.report))
    return 0

"""The ``interpreto`` command: list plugins and methods, explain texts."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from ._parts import KINDS
from ._registry import get_registry

__all__ = ["main"]


def _cmd_methods(args: argparse.Namespace) -> int:
    if args.markdown:
        from ._reference import method_reference

        print(method_reference(), end="")
        return 0
    records = get_registry().list_methods(args.kind)
    if args.json:
        print(json.dumps([r.to_json() for r in records], indent=1))
        return 0
    if not records:
        print(f"no {args.kind or 'part'}s registered")
        return 0
    width = max(len(r.name) for r in records)
    current = None
    for r in records:
        if r.kind != current:
            current = r.kind
            print(f"\n{r.kind}:")
        print(f"  {r.name:<{width}}  {r.summary}  [{r.plugin}, {r.distribution or '-'} {r.version or ''}]".rstrip())
    return 0


def _cmd_plugins(args: argparse.Namespace) -> int:
    records = get_registry().list_plugins()
    if args.json:
        print(json.dumps([r.to_json() for r in records], indent=1))
        return 0
    for r in records:
        dist = f"{r.distribution or '-'} {r.version or ''}".strip()
        line = f"{r.name:<22} {r.status:<8} {dist:<26} {len(r.parts)} parts"
        if r.error:
            line += f"  error: {r.error}"
        print(line)
    return 0


def _cmd_explain(args: argparse.Namespace) -> int:
    from .explain_command import run_explain

    return run_explain(args)


def _cmd_demo(args: argparse.Namespace) -> int:
    from .demo import run_demo

    report = run_demo(args.out, generation=not args.no_generation, concepts=not args.no_concepts)
    print(report)
    return 0


def _cmd_run(args: argparse.Namespace) -> int:
    from .pipeline import Pipeline

    overrides = {"model": {"path": args.model}} if args.model else None
    pipeline = Pipeline.from_toml(args.pipeline, overrides=overrides)
    print(f"pipeline {args.pipeline}: valid ({len(pipeline.attributions)} attribution, {len(pipeline.metrics)} metric, "
          f"{len(pipeline.concepts)} concept steps)", file=sys.stderr)
    if args.check:
        return 0
    result = pipeline.run(args.out)
    print(result.report)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="interpreto", description="Explain HuggingFace transformer models.")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("methods", help="list registered methods and parts")
    p.add_argument("--kind", choices=list(KINDS), help="only parts of this kind")
    p.add_argument("--json", action="store_true", help="JSON records")
    p.add_argument("--markdown", action="store_true", help="the built-in method reference (docs/reference.md)")
    p.set_defaults(func=_cmd_methods)
    p = sub.add_parser("plugins", help="list plugins, loaded or failed")
    p.add_argument("--json", action="store_true", help="JSON records")
    p.set_defaults(func=_cmd_plugins)
    p = sub.add_parser("demo", help="explain real embedded models offline and write one HTML report")
    p.add_argument("--out", default="interpreto-demo", help="output folder (default: ./interpreto-demo)")
    p.add_argument("--no-generation", action="store_true", help="skip the causal LM part")
    p.add_argument("--no-concepts", action="store_true", help="skip the concept part")
    p.set_defaults(func=_cmd_demo)
    p = sub.add_parser("run", help="validate then run a pipeline file (TOML)")
    p.add_argument("pipeline", help="the pipeline file")
    p.add_argument("--out", help="output folder (default: the file's [output] dir, else ./interpreto-out)")
    p.add_argument("--model", help="use this local model folder instead of the file's [model]")
    p.add_argument("--check", action="store_true", help="only validate the file")
    p.set_defaults(func=_cmd_run)
    from .dataset._cli import add_parser as add_explain_dataset

    add_explain_dataset(sub)
    p = sub.add_parser("explain", help="explain texts with a local model folder")
    p.add_argument("texts", nargs="*", help="texts to explain")
    p.add_argument("--file", help="a file with one text per line")
    p.add_argument("--model", required=True, help="a local model folder (no hub access is attempted)")
    p.add_argument("--method", action="append", help="attribution method (repeatable); default: lime")
    p.add_argument("--granularity", default="word", choices=["token", "word", "sentence", "all_tokens"])
    p.add_argument("--target", type=int, action="append", help="class index to explain (repeatable)")
    p.add_argument("--max-new-tokens", type=int, default=5, help="causal LMs: tokens to generate and explain")
    p.add_argument("--html", help="write an HTML view to this file")
    p.add_argument("--json", dest="json_out", help="write the explanations as JSON to this file")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--metric", action="append",
                   help="faithfulness metric to compute (repeatable), e.g. insertion, deletion; see `methods --kind metric`")
    p.add_argument("--plot", help="write the insertion/deletion curves of the chosen metrics as a PNG to this file")
    p.add_argument("--color", choices=["auto", "always", "never"], default="auto",
                   help="colours in the terminal view (auto: when stdout is a terminal and NO_COLOR is unset)")
    p.set_defaults(func=_cmd_explain)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from ._errors import InterpretoError

    try:
        return int(args.func(args) or 0)
    except InterpretoError as exc:
        print(f"interpreto: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())

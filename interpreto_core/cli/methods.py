"""``interpreto methods``: the registered methods and parts (text, JSON, or the Markdown reference)."""

from __future__ import annotations

import argparse
import json
from typing import Any

from .._parts import KINDS
from .._registry import get_registry
from .._safe_text import terminal

__all__ = ["add_parser", "run_command"]


def add_parser(sub: Any) -> argparse.ArgumentParser:
    p = sub.add_parser("methods", help="list registered methods and parts")
    p.add_argument("--kind", choices=list(KINDS), help="only parts of this kind")
    p.add_argument("--json", action="store_true", help="JSON records")
    p.add_argument("--markdown", action="store_true", help="the built-in method reference (docs/reference.md)")
    p.set_defaults(func=run_command)
    return p


def run_command(args: argparse.Namespace) -> int:
    if args.markdown:
        from .._reference import method_reference

        print(terminal(method_reference(), newlines=True), end="")
        return 0
    records = get_registry().list_methods(args.kind)
    if args.json:
        print(json.dumps([r.to_json() for r in records], indent=1))
        return 0
    if not records:
        print(f"no {args.kind or 'part'}s registered")
        return 0
    # plugin text (names, summaries, distributions) is shown with its control characters escaped
    width = max(len(terminal(r.name)) for r in records)
    current = None
    for r in records:
        if r.kind != current:
            current = r.kind
            print(f"\n{terminal(r.kind)}:")
        where = f"{r.plugin}, {r.distribution or '-'} {r.version or ''}".rstrip()
        print(f"  {terminal(r.name):<{width}}  {terminal(r.summary)}  [{terminal(where)}]")
    return 0

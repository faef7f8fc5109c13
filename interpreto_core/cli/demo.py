"""``interpreto demo``: explain the zoo's real models offline and write one HTML report."""

from __future__ import annotations

import argparse
from typing import Any

__all__ = ["add_parser", "run_command"]


def add_parser(sub: Any) -> argparse.ArgumentParser:
    p = sub.add_parser("demo", help="explain real embedded models offline and write one HTML report")
    p.add_argument("--out", default="interpreto-demo", help="output folder (default: ./interpreto-demo)")
    p.add_argument("--no-generation", action="store_true", help="skip the causal LM part")
    p.add_argument("--no-concepts", action="store_true", help="skip the concept part")
    p.set_defaults(func=run_command)
    return p


def run_command(args: argparse.Namespace) -> int:
    from .._safe_text import terminal
    from ..demo import run_demo

    report = run_demo(args.out, generation=not args.no_generation, concepts=not args.no_concepts)
    print(terminal(report))
    return 0

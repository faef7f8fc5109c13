"""The ``interpreto`` command: list plugins and methods, explain texts and data sets, run pipelines.

One module per sub-command, each with ``add_parser(subparsers)`` and ``run_command(args)``; this
module wires them in order. Nothing heavy is imported until a command runs.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from . import dataset, demo, explain, methods, plugins, run

__all__ = ["main"]

#: the sub-commands, in the order ``interpreto --help`` lists them
COMMANDS = (methods, plugins, demo, run, dataset, explain)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="interpreto", description="Explain HuggingFace transformer models.")
    sub = parser.add_subparsers(dest="command", required=True)
    for command in COMMANDS:
        command.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from .._errors import InterpretoError

    try:
        return int(args.func(args) or 0)
    except InterpretoError as exc:
        print(f"interpreto: error: {exc}", file=sys.stderr)
        return 2

"""The ``interpreto`` command: list plugins and methods, explain texts and data sets, run pipelines.

One module per sub-command, each with ``add_parser(subparsers)`` and ``run_command(args)``; this
module wires them in order. Nothing heavy is imported until a command runs.
"""

from __future__ import annotations

import argparse
import sys
import traceback
import warnings
from collections.abc import Callable, Sequence
from typing import Any, TextIO

from .._safe_text import terminal
from . import dataset, demo, explain, methods, plugins, run, sweep

__all__ = ["main"]

#: the sub-commands, in the order ``interpreto --help`` lists them
COMMANDS = (methods, plugins, demo, run, dataset, explain, sweep)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="interpreto", description="Explain HuggingFace transformer models.")
    sub = parser.add_subparsers(dest="command", required=True)
    for command in COMMANDS:
        command.add_parser(sub)
    return parser


def _escaping_showwarning(previous: Callable[..., Any]) -> Callable[..., None]:
    """``warnings.showwarning`` that hands ``previous`` the message (a plugin's error text, a file name)
    with its control characters escaped; ``previous`` still decides where it goes (stderr, a test's record)."""

    def show(message: Warning | str, category: type[Warning], filename: str, lineno: int,
             file: TextIO | None = None, line: str | None = None) -> None:
        previous(terminal(message, newlines=True), category, terminal(filename), lineno, file, line)

    return show


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``interpreto ARGS``; everything it prints to the terminal has its control characters escaped."""
    with warnings.catch_warnings():
        warnings.showwarning = _escaping_showwarning(warnings.showwarning)
        args = build_parser().parse_args(argv)
        from .._errors import InterpretoError

        try:
            return int(args.func(args) or 0)
        except InterpretoError as exc:
            print(f"interpreto: error: {terminal(exc, newlines=True)}", file=sys.stderr)
            return 2
        except Exception:  # noqa: BLE001 -- a bug or a plugin's error: Python's traceback, but escaped
            print(terminal(traceback.format_exc(), newlines=True), end="", file=sys.stderr)
            return 1

"""``interpreto plugins``: the plugins found, loaded or failed."""

from __future__ import annotations

import argparse
import json
from typing import Any

from .._registry import get_registry
from .._safe_text import terminal

__all__ = ["add_parser", "run_command"]


def add_parser(sub: Any) -> argparse.ArgumentParser:
    p = sub.add_parser("plugins", help="list plugins, loaded or failed")
    p.add_argument("--json", action="store_true", help="JSON records")
    p.set_defaults(func=run_command)
    return p


def run_command(args: argparse.Namespace) -> int:
    records = get_registry().list_plugins()
    if args.json:
        print(json.dumps([r.to_json() for r in records], indent=1))
        return 0
    for r in records:
        # plugin text (name, distribution, version, error) is shown with its control characters escaped
        dist = terminal(f"{r.distribution or '-'} {r.version or ''}".strip())
        line = f"{terminal(r.name):<22} {terminal(r.status):<8} {dist:<26} {len(r.parts)} parts"
        if r.error:
            line += f"  error: {terminal(r.error)}"
        print(line)
    return 0

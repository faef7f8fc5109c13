"""What the ``explain`` and ``explain-dataset`` commands share: task / score flags, checked before
any model loads, and how a ``--target`` / ``--contrast`` value is read for a task."""

from __future__ import annotations

import argparse
import json
from typing import Any

__all__ = ["TEXT_TASKS", "add_task_arguments", "check_names", "parse_params", "parse_value"]

#: tasks whose targets and contrasts are text (a continuation, a token): a value is kept verbatim
TEXT_TASKS = ("causal_lm", "seq2seq", "masked_lm")


def add_task_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--task", help="force a registered task (`interpreto methods --kind task`); default: the task "
                   "that claims the model")
    p.add_argument("--score", help="what is explained per target (`interpreto methods --kind score`): logit, "
                   "probability, log_probability, contrast, entropy ...; default: the task's")
    p.add_argument("--contrast", metavar="VALUE",
                   help="the foil: a class index or label for classifiers, a continuation for causal LMs and "
                   "seq2seq models (same number of tokens as the target); implies --score contrast")


def check_names(task: str | None, score: str | None, *, contrast: Any = None, contrast_column: Any = None
                ) -> str | None:
    """Check ``--task`` and ``--score`` against the registry (before the model loads); returns the
    task's registered name. Unknown names raise ``InputError`` with the available ones."""
    from .._errors import InputError
    from .._loading import score_name, task_name

    name = task_name(task) if task is not None else None
    if score is not None:
        rec = score_name(score)
        if getattr(rec.obj, "needs_foil", False) and contrast is None and contrast_column is None:
            raise InputError(f"--score {rec.name} compares each target with a foil: add --contrast VALUE")
    return name


def parse_value(text: str, task: str | None) -> Any:
    """A ``--target`` / ``--contrast`` value for ``task``: kept as given for text tasks (a
    continuation keeps its spaces and digits); otherwise JSON when it parses (``1``,
    ``[3, 9]``), else the string (a label name)."""
    if task in TEXT_TASKS:
        return text
    try:
        return json.loads(text)
    except ValueError:
        return text


def parse_params(pairs: list[str]) -> dict[str, Any]:
    """``--param KEY=VALUE`` pairs (JSON values; other values stay strings)."""
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

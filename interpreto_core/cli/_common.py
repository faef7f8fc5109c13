"""What the ``explain`` and ``explain-dataset`` commands share: task / score flags, checked before
any model loads, how a ``--target`` / ``--contrast`` value is read for a task, and the
``-p KEY=VALUE`` / ``-p METHOD.KEY=VALUE`` parameters (typed, routed to the methods that take them
and validated from the registry alone, before any model loads)."""

from __future__ import annotations

import argparse
import json
from typing import Any

__all__ = ["TEXT_TASKS", "add_task_arguments", "check_names", "parse_params", "parse_value", "param_value",
           "method_params", "route_params"]

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
    """``-p KEY=VALUE`` pairs, each value typed by :func:`param_value` (no method prefix allowed here)."""
    out: dict[str, Any] = {}
    for pair in pairs:
        key, value = _split_pair(pair)
        out[key] = param_value(value, pair)
    return out


_BOOLS = {"true": True, "false": False}
_NONES = ("none", "null")


def param_value(text: str, pair: str | None = None) -> Any:
    """A ``-p`` value, typed: ``32`` -> int, ``0.5`` / ``1e-3`` / ``nan`` -> float, ``true`` / ``False``
    -> bool, ``None`` / ``null`` -> None, ``[1, 2]`` / ``{"a": 1}`` / ``"quoted"`` -> JSON; anything else
    stays a string (``lime``, ``mask``). A value that starts like JSON but does not parse is an error."""
    from .._errors import InputError

    low = text.strip().lower()
    if low in _BOOLS:
        return _BOOLS[low]
    if low in _NONES:
        return None
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    if text.strip()[:1] in ('[', '{', '"'):
        try:
            return json.loads(text)
        except ValueError as exc:
            raise InputError(f"-p {pair or text}: the value is not valid JSON ({exc}); quote lists as "
                             "'[\"user\", \"system\"]'") from None
    return text


def _split_pair(pair: str) -> tuple[str, str]:
    from .._errors import InputError

    key, sep, value = pair.partition("=")
    if not sep or not key.strip():
        raise InputError(f"-p takes KEY=VALUE or METHOD.KEY=VALUE (e.g. -p n_samples=32, -p lime.n_samples=64), "
                         f"got {pair!r}")
    return key.strip(), value


def method_params(method: str, task: str | None = None) -> tuple[list[str], dict[str, tuple[str, str, Any]]]:
    """What ``method`` takes, from the registry alone (no model): the sorted parameter names, and
    ``{parameter: (kind, part name, part class)}`` for the parameters of its parts (to check values).

    The task's parameters are those of ``task`` when it is known (``--task``, or the model folder's
    config), else those of every registered task."""
    from .._attribution import ENGINE_PARAMS, LAYER_PARAMS, LEGACY_ENGINE_PARAMS
    from .._registry import get_registry

    reg = get_registry()
    rec = reg.get("attribution", method)
    recipe = rec.obj
    parts: dict[str, tuple[str, str, Any]] = {}
    for kind, name in recipe.part_names():
        part = reg.get(kind, name, prefer=rec.plugin)
        for key in part.params:
            parts.setdefault(key, (kind, part.name, part.obj))
    tasks = [reg.get("task", task)] if task is not None else reg.list_methods("task")
    names = set(parts) | set(ENGINE_PARAMS) | set(LEGACY_ENGINE_PARAMS) | {"mode"}
    if recipe.family == "gradient":  # layer attribution: -p layer=3
        names |= set(LAYER_PARAMS)
    for task_rec in tasks:
        names |= set(task_rec.params)
    names.discard("progress")  # the command line draws its own progress bar; --score sets the score
    return sorted(names), parts


def route_params(pairs: list[str], methods: list[str], task: str | None = None
                 ) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """Type ``-p`` pairs and route them to ``methods``, checking names and values before any model loads.

    ``-p KEY=VALUE`` goes to every method that takes ``KEY`` (an error only when none does);
    ``-p METHOD.KEY=VALUE`` goes to ``METHOD`` alone, which must be one of ``methods`` and take
    ``KEY``. Returns ``(shared, own)``: the parameters every method takes, and each method's own
    ``{method: {key: value}}`` (its prefixed ones, and global ones that not every method takes).
    Values are checked by building each method's parts with them (``n_samples=-1`` fails here).
    Errors are one-line ``InputError`` listing what the method accepts."""
    from .._errors import InputError
    from .._registry import get_registry

    reg = get_registry()
    methods = [reg.get("attribution", m).name for m in methods]  # unknown method names fail here
    accepted = {m: method_params(m, task) for m in methods}
    global_values: dict[str, Any] = {}
    own: dict[str, dict[str, Any]] = {m: {} for m in methods}
    for pair in pairs:
        key, text = _split_pair(pair)
        if key in ("score", "progress"):
            raise InputError(f"-p {pair}: {key} is not a method parameter; use --{key} instead"
                             if key == "score" else f"-p {pair}: the command line draws its own progress bar")
        prefix, dot, rest = key.partition(".")
        if dot and prefix in reg.names("attribution"):
            if prefix not in own:
                raise InputError(f"-p {pair}: {prefix} is not one of the methods explained ({', '.join(methods)}); "
                                 f"add -m {prefix} or drop the {prefix}. prefix")
            names, _ = accepted[prefix]
            if rest not in names:
                raise InputError(f"-p {pair}: {prefix} does not take {rest!r}; it takes: {', '.join(names)}")
            own[prefix][rest] = param_value(text, pair)
            continue
        takers = [m for m in methods if key in accepted[m][0]]
        if not takers:
            listing = "; ".join(f"{m} takes: {', '.join(accepted[m][0])}" for m in methods)
            on = f" on task {task!r}" if task else ""
            raise InputError(f"-p {pair}: no method here takes {key!r}{on} ({listing})")
        global_values[key] = (param_value(text, pair), takers)
    shared: dict[str, Any] = {}
    for key, (value, takers) in global_values.items():
        if len(takers) == len(methods):
            shared[key] = value
        else:
            for m in takers:
                own[m].setdefault(key, value)
    for m in methods:
        _check_values(m, {**shared, **own[m]}, accepted[m][1], task)
    return shared, own


def _check_values(method: str, params: dict[str, Any], parts: dict[str, tuple[str, str, Any]],
                  task: str | None) -> None:
    """Build ``method``'s parts (and the known task) with ``params``: bad values fail before the model loads."""
    from .._errors import InputError, InterpretoError
    from .._parts import build_part
    from .._registry import get_registry

    for key in ("batch_size", "seed"):
        value = params.get(key, 1)
        if isinstance(value, bool) or not isinstance(value, int) or (key == "batch_size" and value < 1):
            what = "a positive integer" if key == "batch_size" else "an integer"
            raise InputError(f"-p {key}={value!r}: {key} must be {what}")
    reg = get_registry()
    recipe = reg.get("attribution", method).obj
    merged = {**recipe.defaults, **params}
    by_part: dict[tuple[str, str], tuple[Any, dict[str, Any]]] = {}
    for key, (kind, name, obj) in parts.items():
        by_part.setdefault((kind, name), (obj, {}))
        if key in merged:
            by_part[(kind, name)][1][key] = merged[key]
    checks = [(kind, name, obj, values) for (kind, name), (obj, values) in by_part.items()]
    if task is not None:
        task_rec = reg.get("task", task)
        checks.append(("task", task_rec.name, task_rec.obj,
                       {k: v for k, v in params.items() if k in task_rec.params}))
    for kind, name, obj, values in checks:
        if not values:
            continue
        try:
            build_part(obj, values, kind=kind, name=name)
        except (InterpretoError, TypeError, ValueError, OverflowError) as exc:
            shown = ", ".join(f"{k}={v!r}" for k, v in values.items())
            raise InputError(f"-p {shown} for {method} ({kind} {name!r}): {exc}") from None

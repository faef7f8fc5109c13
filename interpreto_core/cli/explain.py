"""``interpreto explain``: explain texts with a local model folder, print, save HTML/JSON, score.

``interpreto explain MODEL TEXT... -m lime -m saliency -p n_samples=32 -p lime.n_samples=64``:
texts as arguments, ``-`` for standard input (one text per line), ``--file``, or ``--chat`` (a JSON
file of chat messages). Method parameters are typed and checked against the registry before the
model loads (:func:`~interpreto_core.cli._common.route_params`).

Models are read from local folders only (:func:`interpreto_core._loading.load_local_model`,
``local_files_only=True``): no hub access is attempted. Every registered task works: the task
that claims the model (or ``--task``) decides what ``--target`` and ``--contrast`` mean.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from .._errors import InputError
from .._loading import load_local_model
from .._safe_text import terminal
from ._common import add_task_arguments, check_names, parse_value, route_params

__all__ = ["add_parser", "run_explain", "read_texts", "read_chat"]

#: texts per call of the explainer: large enough to pack batches, small enough for a live progress bar
_CHUNK = 16


def add_parser(sub: Any) -> argparse.ArgumentParser:
    p = sub.add_parser("explain", help="explain texts with a local model folder",
                       usage="interpreto explain MODEL [TEXT ...] [-m METHOD] [-p [METHOD.]KEY=VALUE] [options]")
    p.add_argument("texts", nargs="*", metavar="TEXT",
                   help="the model folder (unless --model is given), then the texts to explain; '-' reads texts "
                   "from standard input, one per line")
    p.add_argument("--file", help="a file with one text per line; or a .jsonl file whose rows hold a text, a "
                   "[text_a, text_b] pair or chat messages [{role, content}] in a text / messages field")
    p.add_argument("--chat", metavar="FILE.json", help="a JSON file of chat messages: [{\"role\": ..., \"content\": "
                   "...}, ...] (one conversation), a list of such lists, or {\"messages\": [...]}")
    p.add_argument("--model", help="a local model folder (no hub access is attempted); or give it first, as MODEL")
    p.add_argument("-m", "--method", action="append", help="attribution method (repeatable); default: lime")
    p.add_argument("--granularity", default="word", choices=["token", "word", "sentence", "all_tokens"])
    p.add_argument("--target", action="append",
                   help="what to explain: a class index or label (classifiers; repeat for several classes), the "
                   "continuation text (causal LMs, seq2seq: teacher-forced); default: the prediction / a greedy "
                   "generation")
    p.add_argument("--max-new-tokens", type=int, default=5,
                   help="causal LMs and seq2seq: tokens to generate and explain when no --target is given")
    add_task_arguments(p)
    p.add_argument("-p", "--param", action="append", default=[], metavar="[METHOD.]KEY=VALUE",
                   help="a parameter: KEY=VALUE for every method that takes it (n_samples=32), METHOD.KEY=VALUE for "
                   "one method (lime.n_samples=64); values typed: 3, 0.5, true, none, '[\"user\"]', else text; "
                   "checked before the model loads")
    p.add_argument("--html", help="write the interactive HTML page to this file (method and target switchers, exact "
                   "scores on hover; self-contained, readable without JavaScript)")
    p.add_argument("--scale", choices=["row", "global"], default="row",
                   help="HTML colours: each target's own scale (row) or one per explanation (global)")
    p.add_argument("--json", dest="json_out", help="write the explanations as JSON to this file")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--metric", action="append",
                   help="faithfulness metric to compute (repeatable), e.g. insertion, deletion; "
                   "see `methods --kind metric`")
    p.add_argument("--plot", help="write the insertion/deletion curves of the chosen metrics as a PNG to this file")
    p.add_argument("--color", choices=["auto", "always", "never"], default="auto",
                   help="colours in the terminal view (auto: when stdout is a terminal and NO_COLOR is unset)")
    p.set_defaults(func=run_explain)
    return p


def _stdin_lines() -> list[str]:
    return [line.strip() for line in sys.stdin.read().splitlines() if line.strip()]


def read_chat(file: str) -> list[list[dict[str, Any]]]:
    """The conversations of a ``--chat`` JSON file: one list of ``{"role", "content"}`` messages,
    a list of such lists, or ``{"messages": [...]}``; anything else is one clear ``InputError``."""
    path = Path(file)
    if not path.is_file():
        raise InputError(f"--chat {terminal(file)!r} is not a file")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise InputError(f"--chat {terminal(file)!r} is not JSON ({exc})") from None
    if isinstance(data, dict) and "messages" in data:
        data = data["messages"]
    chats = data if isinstance(data, list) and data and all(isinstance(c, list) for c in data) else [data]
    for k, chat in enumerate(chats):
        ok = isinstance(chat, list) and bool(chat) and all(
            isinstance(m, dict) and isinstance(m.get("role"), str) and isinstance(m.get("content"), str)
            for m in chat)
        if not ok:
            where = f" (conversation {k + 1})" if len(chats) > 1 else ""
            raise InputError(f"--chat {terminal(file)!r}{where}: expected a list of {{\"role\": ..., \"content\": "
                             f"...}} messages with text roles and contents, got {terminal(json.dumps(chat))[:80]}")
    return chats


def read_texts(texts: list[str], file: str | None, chat: str | None = None) -> list[Any]:
    """Texts from the command line (``-``: the lines of standard input), then one per non-empty line
    of ``file`` (``-``: standard input); a ``.jsonl`` file's rows may also hold text pairs and chat
    messages (read by ``read_rows``); then the conversations of the ``chat`` JSON file."""
    out: list[Any] = []
    for text in texts or []:
        if text == "-":
            out += _stdin_lines()
        else:
            out.append(text)
    if file:
        if file == "-":
            lines = sys.stdin.read().splitlines()
        else:
            path = Path(file)
            if not path.is_file():
                raise InputError(f"--file {file!r} is not a file")
            if path.suffix.lower() in (".jsonl", ".ndjson"):
                from ..dataset import BadRow, read_rows

                for row in read_rows(path):
                    if isinstance(row, BadRow):
                        raise InputError(f"--file {file!r}: {row}")
                    out.append(row.value)
                lines = []
            else:
                lines = path.read_text(encoding="utf-8").splitlines()
        out += [line.strip() for line in lines if line.strip()]
    if chat:
        out += read_chat(chat)
    if not out:
        raise InputError("nothing to explain: give texts as arguments, '-' (standard input), --file FILE (one text "
                         "per line) or --chat FILE.json")
    return out


def _use_color(choice: str) -> bool:
    if choice == "always":
        return True
    if choice == "never":
        return False
    return sys.stdout.isatty() and not os.environ.get("NO_COLOR")


def _metric_table(metrics: dict[str, dict[str, Any]]) -> str:
    names: list[str] = []
    for per in metrics.values():
        names += [n for n in per if n not in names]
    width = max(len(terminal(m)) for m in metrics)
    head = f"{'method':<{width}}  " + "  ".join(
        f"{terminal(n) + (' ↑' if _higher(metrics, n) else ' ↓'):>26}" for n in names)
    lines = [head]
    for method, per in metrics.items():
        cells = []
        for n in names:
            r = per.get(n)
            cells.append(f"{'-':>26}" if r is None else f"{f'{r.mean:.4f} (random {r.random_mean:.4f})':>26}")
        lines.append(f"{terminal(method):<{width}}  " + "  ".join(cells))
    return "\n".join(lines)


def _higher(metrics: dict[str, dict[str, Any]], name: str) -> bool:
    return next(per[name].higher_is_better for per in metrics.values() if name in per)


def run_explain(args: argparse.Namespace) -> int:
    """Run ``interpreto explain`` with parsed ``args``; returns the exit status."""
    from tqdm.auto import tqdm

    from .._attribution import Explainer
    from ..visualization import explanation_terminal, interactive_html, plot_curves

    positional = list(args.texts or [])
    model_dir = args.model
    if model_dir is None:
        if not positional or positional[0] == "-":
            raise InputError("give the model folder first: interpreto explain MODEL TEXT... (or --model MODEL)")
        model_dir = positional.pop(0)
    texts = read_texts(positional, args.file, args.chat)
    methods = list(dict.fromkeys(args.method or ["lime"]))
    metric_names = list(dict.fromkeys(args.metric or []))
    if args.plot and not metric_names:
        raise InputError("--plot draws metric curves: add --metric insertion (and/or deletion)")
    for flag, out in (("--html", args.html), ("--json", args.json_out)):
        if out and not Path(out).expanduser().parent.is_dir():  # before any model loads or text is explained
            raise InputError(f"{flag} {terminal(out)}: the folder {terminal(Path(out).expanduser().parent)} "
                             "does not exist; create it first, or write elsewhere")
    if metric_names:
        from .._registry import get_registry

        for name in metric_names:
            get_registry().get("metric", name)  # unknown names fail before the model loads
    task = check_names(args.task, args.score, contrast=args.contrast)  # so do unknown tasks and scores
    from .._loading import task_of_folder

    # so do unknown methods, parameter names and values: checked from the registry, the model is not read
    shared, own = route_params(args.param, methods, task or task_of_folder(model_dir))
    methods = list(own)  # registered names
    model, tokenizer = load_local_model(model_dir, task=task)
    explainers = {
        m: Explainer(model, tokenizer, method=m, granularity=args.granularity, task=task, score=args.score,
                     **{"batch_size": args.batch_size, "seed": args.seed, "max_new_tokens": args.max_new_tokens,
                        **shared, **own[m], "progress": False})
        for m in methods
    }
    task = next(iter(explainers.values())).task.name
    # one value for every text (the same target, the same foil); several --target: several targets each
    target: Any = None
    if args.target:
        values = [parse_value(t, task) for t in args.target]
        target = values[0] if len(values) == 1 else values
    contrast = None if args.contrast is None else parse_value(args.contrast, task)

    results: dict[str, list[Any]] = {}
    total = len(texts) * len(methods)
    with tqdm(total=total, desc="explaining", unit="text", disable=None if total > 1 else True,
              leave=False) as bar:
        for m, explainer in explainers.items():
            results[m] = []
            for start in range(0, len(texts), _CHUNK):
                chunk = texts[start : start + _CHUNK]
                results[m] += explainer.explain(chunk, None if target is None else [target] * len(chunk),
                                                None if contrast is None else [contrast] * len(chunk))
                bar.update(len(chunk))

    color = _use_color(args.color)
    for i in range(len(texts)):
        for m in methods:
            print(explanation_terminal(results[m][i], color=color))
        print()

    metrics: dict[str, dict[str, Any]] = {}
    if metric_names:
        from ..metrics import evaluate

        for m in methods:
            metrics[m] = evaluate(model, tokenizer, results[m], metrics=metric_names)
        print(_metric_table(metrics))

    plots = []
    if args.plot or args.html:
        curves = [r for per in metrics.values() for r in per.values() if hasattr(r, "curves")]
        if curves:
            plots.append(plot_curves(curves, path=args.plot))
    if args.html:
        Path(args.html).write_text(interactive_html(results, metrics=metrics, plots=plots, scale=args.scale,
                                                    title=f"interpreto explain: {Path(model_dir).name}"),
                                   encoding="utf-8")
        print(f"wrote {terminal(args.html)}", file=sys.stderr)
    if args.json_out:
        data = {
            "model": str(model_dir),
            "explanations": {m: [e.to_json() for e in ex] for m, ex in results.items()},
            "metrics": {m: {n: r.to_json() for n, r in per.items()} for m, per in metrics.items()},
        }
        Path(args.json_out).write_text(json.dumps(data, indent=1), encoding="utf-8")
        print(f"wrote {terminal(args.json_out)}", file=sys.stderr)
    if args.plot:
        print(f"wrote {terminal(args.plot)}", file=sys.stderr)
    return 0

"""``interpreto explain``: explain texts with a local model folder, print, save HTML/JSON, score.

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
from ._common import add_task_arguments, check_names, parse_params, parse_value

__all__ = ["add_parser", "run_explain", "read_texts"]

#: texts per call of the explainer: large enough to pack batches, small enough for a live progress bar
_CHUNK = 16


def add_parser(sub: Any) -> argparse.ArgumentParser:
    p = sub.add_parser("explain", help="explain texts with a local model folder")
    p.add_argument("texts", nargs="*", help="texts to explain")
    p.add_argument("--file", help="a file with one text per line; or a .jsonl file whose rows hold a text, a "
                   "[text_a, text_b] pair or chat messages [{role, content}] in a text / messages field")
    p.add_argument("--model", required=True, help="a local model folder (no hub access is attempted)")
    p.add_argument("--method", action="append", help="attribution method (repeatable); default: lime")
    p.add_argument("--granularity", default="word", choices=["token", "word", "sentence", "all_tokens"])
    p.add_argument("--target", action="append",
                   help="what to explain: a class index or label (classifiers; repeat for several classes), the "
                   "continuation text (causal LMs, seq2seq: teacher-forced); default: the prediction / a greedy "
                   "generation")
    p.add_argument("--max-new-tokens", type=int, default=5,
                   help="causal LMs and seq2seq: tokens to generate and explain when no --target is given")
    add_task_arguments(p)
    p.add_argument("--param", action="append", default=[], metavar="KEY=VALUE",
                   help="method or task parameter, e.g. n_samples=200, roles='[\"user\"]' (JSON values)")
    p.add_argument("--html", help="write an HTML view to this file")
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


def read_texts(texts: list[str], file: str | None) -> list[Any]:
    """Texts from the command line, then one per non-empty line of ``file`` (``-``: standard input);
    a ``.jsonl`` file's rows may also hold text pairs and chat messages (read by ``read_rows``)."""
    out: list[Any] = list(texts or [])
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
    if not out:
        raise InputError("nothing to explain: give texts as arguments or --file FILE (one text per line)")
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
    from ..visualization import explanation_terminal, plot_curves, report_html

    texts = read_texts(args.texts, args.file)
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
    params = {"max_new_tokens": args.max_new_tokens, **parse_params(args.param)}
    model, tokenizer = load_local_model(args.model, task=task)
    explainers = {
        m: Explainer(model, tokenizer, method=m, granularity=args.granularity, task=task, score=args.score,
                     **{"batch_size": args.batch_size, "seed": args.seed, **params, "progress": False})
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
        Path(args.html).write_text(report_html(results, metrics=metrics, plots=plots,
                                               title=f"interpreto explain: {Path(args.model).name}"),
                                   encoding="utf-8")
        print(f"wrote {terminal(args.html)}", file=sys.stderr)
    if args.json_out:
        data = {
            "model": str(args.model),
            "explanations": {m: [e.to_json() for e in ex] for m, ex in results.items()},
            "metrics": {m: {n: r.to_json() for n, r in per.items()} for m, per in metrics.items()},
        }
        Path(args.json_out).write_text(json.dumps(data, indent=1), encoding="utf-8")
        print(f"wrote {terminal(args.json_out)}", file=sys.stderr)
    if args.plot:
        print(f"wrote {terminal(args.plot)}", file=sys.stderr)
    return 0

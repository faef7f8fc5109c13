"""Adaptive Integrated Gradients (``n_steps="auto"``) vs fixed step counts on SST-2 dev sentences.

On the real MiniLM-L6 SST-2 classifier (:func:`interpreto_core.zoo.sentiment_classifier`, cached),
for each configuration: mean / max relative completeness error per text
(max_t |sum(scores_t) - (f_t(x) - f_t(b))| / max_t |f_t(x) - f_t(b)|, target: the predicted
class), mean / max steps, gradient + forward rows, and process CPU seconds (one torch thread).
Every configuration runs with ``completeness_delta=True`` (2 forward rows per text for the
fixed runs; the auto runs need f(x), f(b) anyway).

    python bench/bench_adaptive_ig.py                      # 50 sentences
    python bench/bench_adaptive_ig.py --start 50 --n 100 --only "auto, warped|auto, trapezoid"   # held out
    python bench/bench_adaptive_ig.py --n 100 --json bench/results/adaptive_ig.json --markdown table.md
"""

from __future__ import annotations

import argparse
import json
import platform
import time

import numpy as np
import torch

CONFIGS = [
    ("auto, Gauss-Legendre (8/16/32/64/128)", {"n_steps": "auto", "tolerance": 1e-2,
                                                "quadrature": "gauss_legendre"}),
    ("auto, Clenshaw-Curtis (9/17/33/65/129, nested)", {"n_steps": "auto", "tolerance": 1e-2,
                                                       "quadrature": "clenshaw_curtis"}),
    ("auto, warped trapezoid (8/16/32/64/128, nodes (k/n)^2, nested; the auto default)",
     {"n_steps": "auto", "tolerance": 1e-2}),
    ("auto, trapezoid (9/17/33/65/129, nested; the former auto default)",
     {"n_steps": "auto", "tolerance": 1e-2, "quadrature": "riemann_trapezoid"}),
    ("auto 1e-3, warped trapezoid", {"n_steps": "auto", "tolerance": 1e-3}),
    ("auto 1e-3, trapezoid", {"n_steps": "auto", "tolerance": 1e-3, "quadrature": "riemann_trapezoid"}),
    ("auto 1e-3, Clenshaw-Curtis", {"n_steps": "auto", "tolerance": 1e-3, "quadrature": "clenshaw_curtis"}),
    ("fixed 16, Gauss-Legendre", {"n_steps": 16}),
    ("fixed 32, Gauss-Legendre", {"n_steps": 32}),
    ("fixed 50, Gauss-Legendre", {"n_steps": 50}),
]


def relative_errors(exps) -> list[float]:
    out = []
    for e in exps:
        gap = np.asarray(e.extras["completeness_delta"], dtype=np.float64)
        change = np.where(e.visible, e.scores, 0.0).sum(1) - gap  # f(x) - f(b)
        scale = float(np.abs(change).max())
        out.append(float(np.abs(gap).max()) / scale if scale > 0 else float(np.abs(gap).max()))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=50, help="SST-2 dev sentences (the first n)")
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--json", default=None)
    ap.add_argument("--start", type=int, default=0, help="skip the first sentences (a held-out set)")
    ap.add_argument("--only", default=None, help="run the configurations whose name contains one of these (|)")
    ap.add_argument("--markdown", default=None)
    args = ap.parse_args()
    torch.set_num_threads(1)

    import interpreto_core as itp
    from interpreto_core import zoo

    model, tok = zoo.sentiment_classifier(progress=False)
    texts = [t for t, _ in zoo.load_sst2(split="dev")[args.start : args.start + args.n]]
    itp.Explainer(model, tok, method="integrated_gradients", n_steps=4).explain(texts[:2])  # warm-up
    rows = []
    for name, params in CONFIGS:
        if args.only and not any(part in name for part in args.only.split("|")):
            continue
        ex = itp.Explainer(model, tok, method="integrated_gradients", completeness_delta=True,
                           batch_size=args.batch_size, **params)
        t0 = time.process_time()
        exps = ex.explain(texts)
        cpu = time.process_time() - t0
        errs = relative_errors(exps)
        steps = [e.extras.get("n_steps", params["n_steps"]) for e in exps]
        row = {"config": name, "params": params, "texts": len(texts), "mean_error": float(np.mean(errs)),
               "max_error": float(np.max(errs)), "texts_over_1pct": int(sum(e > 1e-2 for e in errs)),
               "mean_steps": float(np.mean(steps)), "max_steps": int(np.max(steps)),
               "rows": ex.forward_rows, "forward_calls": ex.forward_calls, "cpu_s": cpu}
        if params["n_steps"] == "auto":
            row["not_converged"] = int(sum(not e.extras["converged"] for e in exps))
            row["steps_histogram"] = {str(k): int(v) for k, v in zip(*np.unique(steps, return_counts=True),
                                                                     strict=True)}
        rows.append(row)
        print(f"{name:48s} err mean {row['mean_error']:.2e} max {row['max_error']:.2e} "
              f"steps mean {row['mean_steps']:.1f} max {row['max_steps']} rows {row['rows']} cpu {cpu:.1f}s",
              flush=True)
    lines = ["| configuration | mean rel. completeness error | max | texts > 1 % | mean steps | max steps | rows "
             "| CPU s |", "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['config']} | {r['mean_error']:.2e} | {r['max_error']:.2e} | {r['texts_over_1pct']} "
                     f"| {r['mean_steps']:.1f} | {r['max_steps']} | {r['rows']} | {r['cpu_s']:.1f} |")
    table = "\n".join(lines)
    print(table)
    meta = {"texts": len(texts), "batch_size": args.batch_size, "threads": 1, "torch": torch.__version__,
            "machine": platform.processor() or platform.machine()}
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump({"meta": meta, "rows": rows}, f, indent=1)
    if args.markdown:
        with open(args.markdown, "w", encoding="utf-8") as f:
            f.write(table + "\n")


if __name__ == "__main__":
    main()

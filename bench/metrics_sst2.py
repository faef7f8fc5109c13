"""Faithfulness of every attribution method on the real MiniLM SST-2 classifier, against random.

Explains the first N (default 100) SST-2 dev sentences (/work/shared/data/sst2/dev.tsv, else the
copy shipped in interpreto_core/data) with every registered attribution method (word
granularity, the predicted class as target; default parameters except the sample budgets in
BUDGETS, cut so that the run fits a shared 2-core machine; ``--default-budgets`` lifts them),
cheapest methods first, and scores each method with
insertion, deletion (10 steps per curve), comprehensiveness and sufficiency (softmax probability,
[MASK] baseline), beside the random-order baseline (3 random orders per text, averaged; the same
metric objects serve every method, so the random curves are computed once).

    python bench/metrics_sst2.py                 # ~all methods, 100 sentences
    python bench/metrics_sst2.py --limit 10 --methods occlusion saliency

Writes bench/results/metrics_sst2.{json,md}, the curve plot docs/images/metrics_sst2_curves.png
and a report page bench/results/metrics_sst2_report.html (first 6 sentences).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
METRICS = ("insertion", "deletion", "comprehensiveness", "sufficiency")
# Sample budgets used for the table (defaults: lime/kernel_shap 200, bernoulli_lime 100, sobol 32,
# integrated_gradients 50 steps, smoothgrad/vargrad/squaregrad/gradient_shap 20).
BUDGETS = {
    "lime": {"n_samples": 64},
    "kernel_shap": {"n_samples": 64},
    "bernoulli_lime": {"n_samples": 64},
    "sobol": {"n_samples": 8},
    "integrated_gradients": {"n_steps": 16},
    "smoothgrad": {"n_samples": 8},
    "vargrad": {"n_samples": 8},
    "squaregrad": {"n_samples": 8},
    "gradient_shap": {"n_samples": 8},
}
# cheapest first, so that a run cut short still covers most methods
ORDER = ("saliency", "input_x_gradient", "occlusion", "integrated_gradients", "smoothgrad", "vargrad",
         "squaregrad", "gradient_shap", "bernoulli_lime", "lime", "kernel_shap", "sobol")


def load_texts(limit: int) -> list[str]:
    shared = Path("/work/shared/data/sst2/dev.tsv")
    if shared.is_file():
        rows = [line.split("\t") for line in shared.read_text(encoding="utf-8").splitlines()[1:]]
        return [r[0].strip() for r in rows if r and r[0].strip()][:limit]
    from interpreto_core.zoo import load_sst2

    return [s for s, _ in load_sst2(split="dev")][:limit]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--limit", type=int, default=100)
    parser.add_argument("--methods", nargs="*", help="default: every registered attribution method")
    parser.add_argument("--n-random", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--n-steps", type=int, default=10, help="points per insertion/deletion curve")
    parser.add_argument("--default-budgets", action="store_true", help="run every method with its default budget")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results"))
    args = parser.parse_args()

    import torch

    torch.set_num_threads(args.threads)
    from interpreto_core import explain, get_registry, list_methods
    from interpreto_core.visualization import plot_curves, report_html
    from interpreto_core.zoo import sentiment_classifier

    model, tokenizer = sentiment_classifier()
    texts = load_texts(args.limit)
    methods = args.methods or [r.name for r in list_methods("attribution")]
    methods = sorted(methods, key=lambda m: ORDER.index(m) if m in ORDER else len(ORDER))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    json_path = out / "metrics_sst2.json"
    table: dict[str, dict] = json.loads(json_path.read_text()) if json_path.is_file() and args.limit == 100 else {}
    registry = get_registry()
    common = {"n_random": args.n_random, "batch_size": 128}
    metrics = {
        name: registry.get("metric", name).obj(
            **common, **({"n_steps": args.n_steps} if name in ("insertion", "deletion") else {})
        )
        for name in METRICS
    }
    results: dict[str, dict] = {}
    explanations: dict[str, list] = {}
    for method in methods:
        t0 = time.perf_counter()
        budget = {} if args.default_budgets else BUDGETS.get(method, {})
        expls = explain(model, tokenizer, texts, method=method, granularity="word", batch_size=64, **budget)
        t_explain = time.perf_counter() - t0
        t0 = time.perf_counter()
        res = {name: m.compute(expls, model=model, tokenizer=tokenizer) for name, m in metrics.items()}
        t_metrics = time.perf_counter() - t0
        results[method], explanations[method] = res, expls
        table[method] = {
            **{name: {"mean": r.mean, "random_mean": r.random_mean, "higher_is_better": r.higher_is_better}
               for name, r in res.items()},
            "explain_seconds": round(t_explain, 1),
            "metric_seconds": round(t_metrics, 1),
            "n_texts": len(texts),
            "budget": budget,
            # mean curves (insertion/deletion), so that the plot can be redrawn without a rerun
            "mean_curves": {n: dict(zip(("x", "y", "random_y"),
                                        (*map(list, res[n].mean_curve(n_points=51)),
                                         list(res[n].mean_curve(random=True, n_points=51)[1])), strict=True))
                            for n in ("insertion", "deletion")},
        }
        line = "  ".join(f"{n} {r.mean:.3f} (rnd {r.random_mean:.3f})" for n, r in res.items())
        print(f"{method:<22} explain {t_explain:6.1f}s  metrics {t_metrics:6.1f}s  {line}", flush=True)
        if args.limit == 100:
            json_path.write_text(json.dumps(table, indent=1))
    md = markdown_table(table, n_texts=len(texts))
    print(md)
    if args.limit == 100:
        (out / "metrics_sst2.md").write_text(md + "\n")
        curve_results = [results[m][n] for m in results for n in ("insertion", "deletion")]
        plot_curves(curve_results, path=ROOT / "docs" / "images" / "metrics_sst2_curves.png",
                    title=f"MiniLM SST-2 classifier, {len(texts)} dev sentences")
        shown = {m: e[:6] for m, e in explanations.items()
                 if m in ("occlusion", "integrated_gradients", "lime", "kernel_shap")}
        (out / "metrics_sst2_report.html").write_text(
            report_html(shown, metrics={m: results[m] for m in shown}, title="SST-2 dev: four methods compared"),
            encoding="utf-8",
        )


def markdown_table(table: dict[str, dict], *, n_texts: int) -> str:
    random_row = next(iter(table.values()))
    head = "| method | budget | insertion ↑ | deletion ↓ | comprehensiveness ↑ | sufficiency ↓ | explain s |"
    lines = [head, "|---|---|---|---|---|---|---|"]
    for method, row in table.items():
        budget = ", ".join(f"{k}={v}" for k, v in row.get("budget", {}).items()) or "default"
        lines.append(f"| {method} | {budget} | " + " | ".join(f"{row[n]['mean']:.3f}" for n in METRICS)
                     + f" | {row['explain_seconds']} |")
    lines.append("| *random order* | | " + " | ".join(f"{random_row[n]['random_mean']:.3f}" for n in METRICS)
                 + " | – |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()

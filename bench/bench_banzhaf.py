"""Banzhaf values: the MSR estimate at fixed budgets vs exact Banzhaf values by enumeration.

Real MiniLM SST-2 classifier (``zoo.sentiment_classifier``), SST-2 dev sentences of 6-10 words,
word granularity, the predicted class's logit; exact values from ``n_samples >= 2^E`` (every
coalition, the same engine), estimates at 64 / 200 / 512 evaluations over 3 seeds: mean relative L2
error, and the Spearman rank correlation with the exact ranking, for both estimators (least squares, MSR).

    python bench/bench_banzhaf.py --texts 5        # writes bench/results/banzhaf.json
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
from scipy.stats import spearmanr


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--texts", type=int, default=5)
    ap.add_argument("--json", default=str(Path(__file__).parent / "results" / "banzhaf.json"))
    args = ap.parse_args()
    torch.set_num_threads(1)
    import interpreto_core as ic
    from interpreto_core import zoo

    model, tok = zoo.sentiment_classifier(progress=False)
    texts = [t for t, _ in zoo.load_sst2(split="dev") if 6 <= len(t.split()) <= 10][: 2 * args.texts]
    budgets, rows = (64, 200, 512), []
    for text in texts:
        t0 = time.process_time()
        exact = ic.explain(model, tok, text, method="banzhaf", score="logit", n_samples=2**12)[0]
        exact_s = time.process_time() - t0
        if not exact.extras["exact"]:  # more than 12 elements (punctuation counts): no enumeration
            continue
        ref = exact.scores[0]
        row = {"text": text, "elements": len(exact.elements), "exact_rows": exact.extras["n_samples"],
               "exact_cpu_s": exact_s}
        for estimator in ("regression", "msr"):
            for n in budgets:
                errs, rhos = [], []
                for seed in range(3):
                    e = ic.explain(model, tok, text, method="banzhaf", score="logit", n_samples=n, seed=seed,
                                   estimator=estimator)[0]
                    est = e.scores[0]
                    errs.append(float(np.linalg.norm(est - ref) / np.linalg.norm(ref)))
                    rhos.append(float(spearmanr(est, ref).statistic))
                row[f"{estimator}_n{n}"] = {"rel_l2": float(np.mean(errs)), "spearman": float(np.mean(rhos))}
        print(json.dumps(row), flush=True)
        rows.append(row)
        if len(rows) == args.texts:
            break
    keys = [f"{est}_n{n}" for est in ("regression", "msr") for n in budgets]
    summary = {k: {"rel_l2": float(np.mean([r[k]["rel_l2"] for r in rows])),
                   "spearman": float(np.mean([r[k]["spearman"] for r in rows]))} for k in keys}
    print(json.dumps(summary))
    Path(args.json).write_text(json.dumps({"rows": rows, "summary": summary}, indent=1))


if __name__ == "__main__":
    main()

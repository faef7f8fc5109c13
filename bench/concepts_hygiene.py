"""Activation hygiene on a real causal LM: SAEs on SmolLM2-135M's layer 15 over 100 AG News texts.

The experiment of issue 15: token activations of block 15 of SmolLM2-135M-Instruct (``zoo.causal_lm``)
over the first 100 shipped AG News texts (``zoo.load_ag_news``), collected twice -- ``keep_outliers=True``
(every token: the first token of each text carries a ~100x "massive activation") and with the
defaults (tokens whose norm is > 10x their text's median left out) -- then a TopK SAE (256 concepts,
k = 8) and a JumpReLU SAE (256 concepts) fitted on each (seed 0, 20 epochs, batch 256).

Reported per fit: rows, dead ratio and R^2 on the rows it was fitted on, fit CPU time, the mean pairwise
overlap of the top-6 words of the 10 strongest live concepts (strength: mean code over the rows; a
concept's top-6 words: the 6 distinct lower-cased units of its highest codes; overlap of two concepts:
|A & B| / 6), the share of those concepts' top-6 rows that are the first token of a text, and five
concepts' top words.

    OMP_NUM_THREADS=1 python bench/concepts_hygiene.py            # writes bench/results/concepts_hygiene.json
"""

from __future__ import annotations

import argparse
import itertools
import json
import time
from pathlib import Path

import numpy as np
import torch


def top_words(codes: torch.Tensor, units: tuple[str, ...], concept: int, k: int = 6) -> list[str]:
    """The ``k`` distinct lower-cased units with the highest codes of ``concept``."""
    out: list[str] = []
    for row in torch.argsort(codes[:, concept], descending=True).tolist():
        if codes[row, concept] <= 0:
            break
        word = units[row].strip().lower()
        if word and word not in out:
            out.append(word)
            if len(out) == k:
                break
    return out


def strongest_live(codes: torch.Tensor, n: int = 10) -> list[int]:
    """The ``n`` live concepts with the largest mean code."""
    strength = codes.clamp_min(0).mean(0)
    live = torch.nonzero(codes.abs().amax(0) > 0).flatten()
    return live[torch.argsort(strength[live], descending=True)][:n].tolist()


def mean_overlap(words: list[list[str]], k: int = 6) -> float:
    """Mean over pairs of concepts of |A & B| / k."""
    pairs = list(itertools.combinations(words, 2))
    return float(np.mean([len(set(a) & set(b)) / k for a, b in pairs])) if pairs else 0.0


def score(acts, name: str, params: dict) -> dict:
    from interpreto_core.concepts import concept_metrics, make_learner
    from interpreto_core.concepts._metrics import codes_and_reconstruction

    learner = make_learner(name, **params)
    t0 = time.process_time()
    learner.fit(acts, progress=False)
    fit_cpu = time.process_time() - t0
    codes, _ = codes_and_reconstruction(learner, acts)
    m = concept_metrics(learner, acts, metrics=("concept_r2", "concept_dead_ratio"))
    strong = strongest_live(codes)
    words = [top_words(codes, acts.units, c) for c in strong]
    first = np.r_[True, acts.text_index[1:] != acts.text_index[:-1]]
    # the first row of a text is its first token only when that token was kept: compare spans
    first &= acts.spans[:, 0] == 0
    top_rows = [torch.argsort(codes[:, c], descending=True)[:6].tolist() for c in strong]
    return {
        "learner": name, "params": params, "rows": len(acts), "fit_cpu_s": round(fit_cpu, 2),
        "r2": round(m["concept_r2"], 4), "r2_against": m.against, "dead_ratio": round(m["concept_dead_ratio"], 4),
        "top6_overlap": round(mean_overlap(words), 4),
        "top_rows_first_token": round(float(np.mean([first[r] for rows in top_rows for r in rows])), 4),
        "concepts": {int(c): w for c, w in zip(strong[:5], words[:5], strict=True)},
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n-texts", type=int, default=100)
    ap.add_argument("--layer", type=int, default=15)
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--out", default="bench/results/concepts_hygiene.json")
    args = ap.parse_args()
    torch.set_num_threads(1)

    from interpreto_core.concepts import SplitModel, collect_activations
    from interpreto_core.zoo import causal_lm, load_ag_news

    model, tokenizer = causal_lm(progress=False)
    texts = [t for t, _ in load_ag_news()[: args.n_texts]]
    split = SplitModel(model, tokenizer, split_points=args.layer)
    learners = {"topk_sae": {"n_concepts": 256, "top_k": 8, "epochs": args.epochs},
                "jumprelu_sae": {"n_concepts": 256, "epochs": args.epochs}}
    results = {"model": "SmolLM2-135M-Instruct (zoo.causal_lm)", "layer": args.layer, "n_texts": len(texts),
               "torch_threads": 1, "runs": []}
    for label, options in (("keep_outliers=True", {"keep_outliers": True}), ("defaults", {})):
        t0 = time.process_time()
        acts = next(iter(collect_activations(split, texts, granularity="token", progress=False, **options).values()))
        collect_cpu = time.process_time() - t0
        norms = acts.values.norm(dim=1)
        print(f"[{label}] {acts.summary()} (collect {collect_cpu:.1f} s CPU; row norms median "
              f"{float(norms.median()):.1f}, max {float(norms.max()):.1f})", flush=True)
        for name, params in learners.items():
            r = score(acts, name, params) | {"activations": label, "collect_cpu_s": round(collect_cpu, 1),
                                            "hygiene": acts.hygiene.to_json()}
            results["runs"].append(r)
            print(json.dumps({k: v for k, v in r.items() if k != "hygiene"}), flush=True)
    print("\n| activations | learner | rows | dead ratio | R² | top-6 overlap | top rows = first token | fit CPU s |")
    print("|---|---|---|---|---|---|---|---|")
    for r in results["runs"]:
        print(f"| {r['activations']} | {r['learner']} | {r['rows']:,} | {r['dead_ratio']:.3f} | {r['r2']:.3f} | "
              f"{r['top6_overlap']:.3f} | {r['top_rows_first_token']:.2f} | {r['fit_cpu_s']:.1f} |")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=1, ensure_ascii=False))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()

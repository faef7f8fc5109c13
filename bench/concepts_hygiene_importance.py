"""Concept importance with the learner's activation hygiene vs raw hidden states (SmolLM2-135M).

Token activations of block 15 of SmolLM2-135M-Instruct (``zoo.causal_lm``) over the first 60 shipped
AG News texts, collected with the defaults (position 0 of every text, the attention sink, left out);
a PCA (32) and a TopK SAE (256, k = 8, 20 epochs) fitted on them; ``concept_importance`` of both
over texts 40..59 (next-token log-probability of the predicted token) with the learner's hygiene
(the default) and with ``hygiene=False`` (every position encoded, as before hygiene was recorded).
Reported: relative difference of the per-text importances, overlap of the top-10 concepts, the
sum of mean |importance|, process CPU seconds (one thread), and the norm of the codes the learner
gives the sink row vs the median over the other rows of one text.

    OMP_NUM_THREADS=1 python bench/concepts_hygiene_importance.py   # bench/results/concepts_hygiene_importance.json
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import torch


def main() -> None:
    from interpreto_core.concepts import SplitModel, concept_importance, make_learner
    from interpreto_core.zoo import causal_lm, load_ag_news

    torch.set_num_threads(1)
    model, tok = causal_lm()
    texts = [t for t, _ in load_ag_news()[:60]]
    split = SplitModel(model, tok, split_points=15)
    acts = split.collect(texts, progress=False)
    print(acts.summary())
    out: dict = {"rows": len(acts), "excluded": acts.hygiene.n_excluded}
    for name, params in (("pca", {"n_concepts": 32}),
                         ("topk_sae", {"n_concepts": 256, "top_k": 8, "epochs": 20})):
        learner = make_learner(name, **params).fit(acts)
        evalt = texts[40:60]
        c0 = time.process_time()
        hyg = concept_importance(split, learner, evalt, progress=False, batch_size=10)
        c1 = time.process_time()
        raw = concept_importance(split, learner, evalt, progress=False, batch_size=10, hygiene=False)
        c2 = time.process_time()
        top_h = [c for c, _ in hyg.top(10)]
        top_r = [c for c, _ in raw.top(10)]
        rec = {"excluded_positions": sorted({e for ex in hyg.excluded for e in ex}),
               "n_texts_with_exclusion": sum(bool(e) for e in hyg.excluded),
               "rel_diff_per_text": float(np.linalg.norm(raw.per_text - hyg.per_text) / np.linalg.norm(hyg.per_text)),
               "top10_overlap": len(set(top_h) & set(top_r)) / 10,
               "mean_abs_sum_hyg": float(hyg.mean_abs.sum()), "mean_abs_sum_raw": float(raw.mean_abs.sum()),
               "cpu_s_hyg": c1 - c0, "cpu_s_raw": c2 - c1, "top5_hyg": top_h[:5], "top5_raw": top_r[:5]}
        # the sink row through the encoder: its codes vs those of the text's other rows
        enc = split.adapter.encode(evalt[0])
        with torch.no_grad():
            h = model(input_ids=torch.tensor([enc.input_ids]), output_hidden_states=True).hidden_states[16][0]
            z = learner.encode(h)
        rec["code_norm_pos0"] = float(z[0].norm())
        rec["code_norm_others_median"] = float(z[1:].norm(dim=1).median())
        out[name] = rec
        print(name, json.dumps(rec))
    path = Path(__file__).parent / "results" / "concepts_hygiene_importance.json"
    path.write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()

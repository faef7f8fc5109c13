"""Attention and layer attribution on the real models: cost, and agreement with captum.

- the MiniLM SST-2 classifier (``zoo.sentiment_classifier``): ``attention``, ``attention_rollout``,
  ``integrated_gradients`` and ``layer_integrated_gradients`` (layer 3, n_steps 50) on ``N`` dev
  sentences: process CPU time (one thread, best of ``REPEATS``), forward passes and rows; the
  largest gap between our Layer IG and captum's ``LayerIntegratedGradients`` on the same layer and
  baseline (``baseline="pad"``), and the layer completeness gap;
- SmolLM2-135M (``zoo.causal_lm``): ``attention`` / ``attention_rollout`` on prompts with a 5-token
  continuation, and the cost of the eager structural copy.

Run: ``OMP_NUM_THREADS=1 python bench/bench_attention_layers.py [N]`` (default 20).
"""

from __future__ import annotations

import sys
import time

import numpy as np
import torch


def timed(fn, repeats):
    best, out = float("inf"), None
    for _ in range(repeats):
        start = time.process_time()
        out = fn()
        best = min(best, time.process_time() - start)
    return best, out


def main(n: int = 20, repeats: int = 2) -> None:
    from captum.attr import LayerIntegratedGradients

    from interpreto_core import Explainer, zoo
    from interpreto_core._attention import eager_copy

    torch.set_num_threads(1)
    model, tok = zoo.sentiment_classifier(progress=False)
    texts = [s for s, _ in zoo.load_sst2(split="dev")[:n]]
    print(f"MiniLM SST-2 classifier, {n} dev sentences, {model.config._attn_implementation} attention")
    for method, params in (("attention", {}), ("attention_rollout", {}), ("integrated_gradients", {"n_steps": 50}),
                           ("layer_integrated_gradients", {"n_steps": 50, "layer": 3})):
        ex = Explainer(model, tok, method=method, **params)
        seconds, _ = timed(lambda ex=ex: ex.explain(texts), repeats)
        print(f"  {method:28s} {seconds:7.2f} s CPU  {ex.forward_calls:3d} passes  {ex.forward_rows:5d} rows")
    seconds, _ = timed(lambda: eager_copy(model), 5)
    print(f"  eager structural copy of the classifier: {1000 * seconds:.1f} ms CPU")

    # agreement with captum on the real model
    ex = Explainer(model, tok, method="layer_integrated_gradients", layer=3, baseline="pad", n_steps=50,
                   layer_units=True, completeness_delta=True)
    out = ex.explain(texts[:5], targets=1)
    gaps, deltas, scale = [], [], []
    for e in out:
        item = e.to_item()
        ids = torch.tensor([item.ids])
        base = ids.clone()
        base[0, torch.from_numpy(item.membership().sum(0) > 0)] = tok.pad_token_id

        def f(i):
            return model(input_ids=i, attention_mask=torch.ones_like(i)).logits[:, 1]

        ref = LayerIntegratedGradients(f, model.bert.encoder.layer[3]).attribute(ids, baselines=base, n_steps=50)
        ref = ref[0].detach().numpy()
        gaps.append(np.abs(e.extras["layer_attributions"][0] - ref).max())
        scale.append(np.abs(ref).max())
        deltas.append(abs(e.extras["completeness_delta"][0]))
    print(f"  Layer IG vs captum LayerIntegratedGradients (layer 3, 5 texts): max |diff| {max(gaps):.2e} "
          f"(largest |attribution| {max(scale):.2e}); layer completeness gap max {max(deltas):.2e}")

    lm, lm_tok = zoo.causal_lm(progress=False)
    prompts = ["The capital of France is", "My favourite food is", "Once upon a time, there", "The sky is"]
    print(f"SmolLM2-135M, {len(prompts)} prompts, 5 generated tokens, {lm.config._attn_implementation} attention")
    for method in ("attention", "attention_rollout"):
        ex = Explainer(lm, lm_tok, method=method, max_new_tokens=5)
        seconds, _ = timed(lambda ex=ex: ex.explain(prompts), repeats)
        print(f"  {method:28s} {seconds:7.2f} s CPU  {ex.forward_calls:3d} passes  {ex.forward_rows:5d} rows "
              "(+ generation)")
    seconds, _ = timed(lambda: eager_copy(lm), 5)
    print(f"  eager structural copy of SmolLM2: {1000 * seconds:.1f} ms CPU")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 20)

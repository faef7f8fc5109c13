"""Occlusion on SmolLM2-135M with a 256-token prompt: masked rows reusing the key/value cache of the
prefix they share with the prompt (the default) vs every row run whole.

Process CPU time (one thread; one warm-up, then ``--repeats`` interleaved rounds) and the tokens the
model's forward computes (``inputs_embeds`` rows x length, counted by a forward pre-hook); both runs'
scores are checked equal.

    python bench/bench_prefix_cache.py                 # writes bench/results/prefix_cache.json
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import numpy as np
import torch


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--tokens", type=int, default=256)
    ap.add_argument("--target", default=" and")
    ap.add_argument("--granularity", default="token")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--no-warmup", action="store_true")
    ap.add_argument("--json", default=str(Path(__file__).parent / "results" / "prefix_cache.json"))
    args = ap.parse_args()
    torch.set_num_threads(1)
    import interpreto_core as ic
    from interpreto_core import zoo

    model, tok = zoo.causal_lm(progress=False)
    text = " ".join(t for t, _ in zoo.load_ag_news())
    prompt = tok.decode(tok(text, add_special_tokens=False)["input_ids"][: args.tokens])
    counted = {"tokens": 0}

    def count(_module, _args, kwargs):
        x = kwargs.get("inputs_embeds")
        if x is not None:
            counted["tokens"] += x.shape[0] * x.shape[1]

    model.register_forward_pre_hook(count, with_kwargs=True)

    def run(reuse: bool):
        ex = ic.Explainer(model, tok, method="occlusion", granularity=args.granularity)
        ex.task.reuses_prefix = reuse
        counted["tokens"] = 0
        out = ex.explain(prompt, targets=args.target)[0]
        return out, counted["tokens"], ex.forward_calls, ex.forward_rows

    runs = {"prefix_cache": True, "whole_rows": False}
    for reuse in runs.values() if not args.no_warmup else ():
        run(reuse)  # warm-up
    times: dict[str, list[float]] = {k: [] for k in runs}
    last = {}
    for _ in range(args.repeats):
        for name, reuse in runs.items():
            t0 = time.process_time()
            last[name] = run(reuse)
            times[name].append(time.process_time() - t0)
    np.testing.assert_allclose(last["prefix_cache"][0].scores, last["whole_rows"][0].scores, rtol=1e-3, atol=1e-4)
    res = {"prompt_tokens": args.tokens, "granularity": args.granularity, "target": args.target}
    for name in runs:
        _, tokens, calls, rows = last[name]
        res[name] = {"cpu_s": times[name], "cpu_s_median": statistics.median(times[name]), "model_tokens": tokens,
                     "forward_calls": calls, "forward_rows": rows}
    res["speedup"] = res["whole_rows"]["cpu_s_median"] / res["prefix_cache"]["cpu_s_median"]
    res["token_ratio"] = res["prefix_cache"]["model_tokens"] / res["whole_rows"]["model_tokens"]
    print(json.dumps(res, indent=1))
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(res, indent=1))


if __name__ == "__main__":
    main()

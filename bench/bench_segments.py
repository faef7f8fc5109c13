"""Custom segments and pooling on the real SmolLM2-135M: cost and what one segment per
demonstration shows on a few-shot prompt.

    OMP_NUM_THREADS=1 python bench/bench_segments.py

Process CPU time (one thread, ``time.process_time``), best of ``--repeats``; forward calls and rows
from ``Explainer.forward_calls`` / ``forward_rows``.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

import interpreto_core as itp
from interpreto_core import zoo

DEMOS = [
    "Translate to French.\n",
    "English: cat\nFrench: chat\n",
    "English: dog\nFrench: chien\n",
    "English: house\nFrench: maison\n",
    "English: water\nFrench:",
]
TARGET = " eau"


def run(explainer: itp.Explainer, repeats: int, **kw) -> tuple[float, itp.Explanation]:
    best = float("inf")
    for _ in range(repeats):
        t = time.process_time()
        e = explainer.explain("".join(DEMOS), TARGET, **kw)[0]
        best = min(best, time.process_time() - t)
    return best, e


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(1)
    model, tok = zoo.causal_lm(progress=False)
    prompt = "".join(DEMOS)
    print(f"prompt: {len(tok(prompt)['input_ids'])} tokens, target {TARGET!r} "
          f"({len(tok(TARGET, add_special_tokens=False)['input_ids'])} tokens)")
    for granularity, segments in (("word", None), ("custom", DEMOS)):
        ex = itp.Explainer(model, tok, method="occlusion", granularity="word")
        cpu, e = run(ex, args.repeats, segments=segments)
        n = len(e.elements) - int(sum(e.generated))
        print(f"occlusion {granularity:>6}: {n:3d} prompt elements, {ex.forward_calls} forward calls, "
              f"{ex.forward_rows} rows, {cpu:.2f} s CPU")
        if segments is not None:
            for d, s in zip(DEMOS, e.scores[0, :len(DEMOS)], strict=True):
                print(f"    {d!r:40} {s:+.3f}")
    # IG's completeness error is the quadrature's: the segments cover the same tokens as granularity
    # "token" (words leave the newline tokens fixed), so both have the same f(b) and the same error
    for granularity, segments in (("token", None), ("word", DEMOS)):
        ex = itp.Explainer(model, tok, method="integrated_gradients", n_steps=32, completeness_delta=True,
                           granularity=granularity)
        cpu, e = run(ex, 1, segments=segments)
        delta = np.abs(e.extras["completeness_delta"]).max()
        print(f"integrated_gradients n_steps=32, {'custom' if segments else granularity}: {ex.forward_rows} rows, "
              f"{cpu:.2f} s CPU, max |completeness delta| {delta:.4f} (sum of scores {e.scores.sum(1).round(3)})")
    for pooling in ("sum", "mean", "max", "abs_max", "l2"):
        ex = itp.Explainer(model, tok, method="input_x_gradient", pooling=pooling)
        cpu, e = run(ex, args.repeats, segments=DEMOS)
        print(f"input_x_gradient pooling={pooling:>7}: {cpu:.3f} s CPU, demonstration scores "
              + " ".join(f"{s:+.3f}" for s in e.scores[0, :len(DEMOS)]))


if __name__ == "__main__":
    main()

"""GPU benchmark: per-text loop vs packed batches vs captum, and SAE training on CPU vs GPU.

Run on a machine with a CUDA GPU (the numbers in ``docs/benchmarks.md`` come from an H100).

Part 1 - attributions. The SST-2 MiniLM classifier's architecture (6 layers, hidden 384, 22.7 M
parameters) built from its config with random weights (``--model-dir``: a folder with
``config.json`` and the tokenizer; throughput does not depend on the weights, and no weights need
to travel), on the 872 SST-2 dev sentences shipped with the package, word granularity, one target
per text (the predicted class). For LIME (200 samples) and Integrated Gradients (50 steps):

* ``loop``   - ``Explainer.explain([text])`` once per text;
* ``packed`` - ``Explainer.explain(texts)``: rows of many texts packed by length into each pass;
* ``captum`` - captum 0.9 on the GPU, one text per call (``Lime``, ``IntegratedGradients`` on the
  embeddings, ``perturbations_per_eval`` / ``internal_batch_size`` = batch size), as in
  ``bench_attributions.py``.

Every way runs once on 4 texts first (CUDA warm-up), then is timed with ``torch.cuda.synchronize``
around it; forward calls and rows are counted with a forward pre-hook on the model; the loop and
packed scores are compared (they must agree: results do not depend on batching).

Part 2 - concepts. Token activations of 4,000 SST-2 training phrases at block 3 (``SplitModel`` on
the GPU), then a ReLU SAE (``sae``) and a TopK SAE fitted with ``fit(..., device="cpu")`` (all CPU
cores) and ``fit(..., device="cuda")`` - same initialisation, same batches.

    python bench/bench_gpu.py --model-dir ~/.cache/interpreto/minilm-l6-v2-sst2 --json gpu.json
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_attributions import CallCounter, make_captum, make_ours, text_spec

BUDGETS = {"lime": {"n_samples": 200}, "integrated_gradients": {"n_steps": 50}}


def _sync() -> None:
    import torch

    if torch.cuda.is_available():
        torch.cuda.synchronize()


def timed(fn: Any) -> tuple[Any, float]:
    _sync()
    start = time.perf_counter()
    out = fn()
    _sync()
    return out, time.perf_counter() - start


def _peak_gpu_mb() -> float | None:
    import torch

    return torch.cuda.max_memory_allocated() / 2**20 if torch.cuda.is_available() else None


def bench_attributions(model: Any, tok: Any, spec: dict[str, Any], batch_size: int, methods: list[str],
                       ways: list[str]) -> list[dict[str, Any]]:
    import numpy as np
    import torch

    texts, targets = spec["texts"], spec["targets"]
    ctx = {"ids": dict(zip(texts, spec["ids"], strict=True)),
           "groups": dict(zip(texts, spec["groups"], strict=True)),
           "n_words": dict(zip(texts, spec["n_words"], strict=True))}
    results = []
    for method in methods:
        scores: dict[str, list[Any]] = {}
        for way in ways:
            maker = make_captum if way == "captum" else make_ours
            run = maker(model, tok, method, batch_size, ctx)
            if way == "loop":
                one = run

                def run(ts: list[str], ys: list[int], one: Any = one) -> list[Any]:
                    return [e for t, y in zip(ts, ys, strict=True) for e in one([t], [y])]

            try:
                run(texts[:4], targets[:4])  # warm-up: CUDA kernels, allocator
                if torch.cuda.is_available():
                    torch.cuda.reset_peak_memory_stats()
                counter = CallCounter(model)
                out, seconds = timed(lambda run=run: run(texts, targets))
                counter.handle.remove()
            except Exception as exc:  # noqa: BLE001 - report the failing way, go on with the others
                results.append({"method": method, "way": way, "error": f"{type(exc).__name__}: {exc}"[:500]})
                print(json.dumps(results[-1]), flush=True)
                continue
            if way != "captum":
                scores[way] = [e.scores[0] for e in out]
            row = {"method": method, "way": way, "texts": len(texts), "seconds": seconds,
                   "texts_per_s": len(texts) / seconds, "forward_calls": counter.calls, "rows": counter.rows,
                   "peak_gpu_mb": _peak_gpu_mb()}
            results.append(row)
            print(json.dumps(row), flush=True)
        if {"loop", "packed"} <= scores.keys():
            diff = max(float(np.abs(a - b).max() / max(np.abs(b).max(), 1e-12))
                       for a, b in zip(scores["loop"], scores["packed"], strict=True))
            results.append({"method": method, "loop_vs_packed_max_rel_diff": diff})
            print(json.dumps(results[-1]), flush=True)
    return results


def bench_sae(model: Any, tok: Any, n_texts: int) -> list[dict[str, Any]]:
    import torch

    from interpreto_core.concepts import SplitModel, collect_activations, make_learner
    from interpreto_core.zoo import load_sst2

    texts = [t for t, _ in load_sst2(split="train")[:n_texts]]
    split = SplitModel(model, tok, split_points=3)
    acts, seconds = timed(lambda: next(iter(collect_activations(split, texts, granularity="token",
                                                                 batch_size=256, progress=False).values())))
    rows = [{"part": "activations", "texts": n_texts, "rows": len(acts), "hidden": acts.values.shape[1],
             "seconds": seconds}]
    print(json.dumps(rows[-1]), flush=True)
    params = {"n_concepts": 1536, "epochs": 5, "batch_size": 1024}
    for name, extra in (("sae", {"l1": 1e-3}), ("topk_sae", {"top_k": 32})):
        for device in ("cpu", "cuda") if torch.cuda.is_available() else ("cpu",):
            learner, seconds = timed(lambda: make_learner(name, **params, **extra).fit(acts, progress=False,
                                                                                      device=device))
            row = {"part": "fit", "learner": name, "device": device, "seconds": seconds,
                   "final_mse": learner.training_log["mse"][-1], "cpu_threads": torch.get_num_threads(), **params}
            rows.append(row)
            print(json.dumps(row), flush=True)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model-dir", type=Path, required=True)
    ap.add_argument("--n-texts", type=int, default=872)
    ap.add_argument("--batch-size", type=int, default=256)
    ap.add_argument("--methods", default="lime,integrated_gradients")
    ap.add_argument("--ways", default="loop,packed,captum")
    ap.add_argument("--sae-texts", type=int, default=4000, help="0 skips the SAE part")
    ap.add_argument("--json", type=Path)
    ap.add_argument("--device", default="cuda", help="'cpu' runs the same script without a GPU (a smoke test)")
    args = ap.parse_args()

    import torch
    import transformers
    from transformers import AutoConfig, AutoModelForSequenceClassification, AutoTokenizer

    from interpreto_core.zoo import load_sst2

    if args.device == "cuda" and not torch.cuda.is_available():
        sys.exit("no CUDA GPU here: use --device cpu for a smoke test")
    tok = AutoTokenizer.from_pretrained(args.model_dir)
    torch.manual_seed(0)
    model = AutoModelForSequenceClassification.from_config(AutoConfig.from_pretrained(args.model_dir))
    model = model.eval().to(args.device)
    for p in model.parameters():
        p.requires_grad_(False)
    texts = [t for t, _ in load_sst2(split="dev")[: args.n_texts]]
    spec = text_spec(model, tok, texts)
    env = {"gpu": torch.cuda.get_device_name() if args.device == "cuda" else None, "torch": torch.__version__,
           "transformers": transformers.__version__, "batch_size": args.batch_size,
           "tf32": torch.backends.cuda.matmul.allow_tf32}
    print(json.dumps(env), flush=True)
    methods, ways = [m for m in args.methods.split(",") if m], [w for w in args.ways.split(",") if w]
    results = bench_attributions(model, tok, spec, args.batch_size, methods, ways)
    if args.sae_texts:
        results += bench_sae(model, tok, args.sae_texts)
    if args.json:
        args.json.write_text(json.dumps({"env": env, "results": results}, indent=1))


if __name__ == "__main__":
    main()

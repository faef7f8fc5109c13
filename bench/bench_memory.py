"""Peak memory of gradient attributions on long inputs: ``batch_size="auto"`` vs fixed batch sizes.

Each configuration runs in its own process (peak RSS, ``ru_maxrss``, is per process): the model is
loaded, its RSS noted (the floor: model + torch), then one IG call on one long input; reported are
the peak RSS above that floor, process CPU seconds (one thread), forward calls and rows.

- MiniLM SST-2 classifier (``zoo.sentiment_classifier``), IG-50 on a 253-token input;
- SmolLM2-135M (``zoo.causal_lm``), IG on a ~2,048-token prompt, a 1-token target.

    python bench/bench_memory.py                       # writes bench/results/memory.json
    python bench/bench_memory.py --only minilm
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

CHILD = r"""
import json, resource, sys, time
import torch
torch.set_num_threads(1)
import interpreto_core as ic
from interpreto_core import zoo

cfg = json.loads(sys.argv[1])
def rss_mb():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS"):
                return int(line.split()[1]) / 1024
if cfg["model"] == "minilm":
    model, tok = zoo.sentiment_classifier(progress=False)
    words = [t for t, _ in zoo.load_sst2(split="dev")]
    text = " ".join(words)
    ids = tok(text, add_special_tokens=False)["input_ids"][: cfg["tokens"] - 2]
    text = tok.decode(ids)
    target = None
else:
    model, tok = zoo.causal_lm(progress=False)
    words = " ".join(t for t, _ in zoo.load_ag_news())
    ids = tok(words, add_special_tokens=False)["input_ids"][: cfg["tokens"]]
    text = tok.decode(ids)
    target = " the"
model.eval()
ex = ic.Explainer(model, tok, method="integrated_gradients", granularity="token", n_steps=cfg["n_steps"],
                  batch_size=cfg["batch_size"])
import gc, threading
gc.collect()
floor = rss_mb()
peak0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
sampled = [floor]
running = True
def sample():  # VmRSS every 5 ms during the call (ru_maxrss may still hold the model load's peak)
    while running:
        sampled.append(rss_mb())
        time.sleep(0.005)
th = threading.Thread(target=sample, daemon=True)
th.start()
t0 = time.process_time()
e = ex.explain(text, targets=target)[0]
cpu = time.process_time() - t0
running = False
th.join()
peak = max(max(sampled), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 if
           resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 > peak0 else 0)
print(json.dumps({**cfg, "input_tokens": len(e.to_item().ids),
                  "floor_rss_mb": floor, "peak_rss_mb": peak, "peak_before_mb": peak0,
                  "above_floor_mb": peak - floor, "cpu_s": cpu, "forward_calls": ex.forward_calls,
                  "forward_rows": ex.forward_rows}))
"""

CONFIGS = {
    "minilm": [{"model": "minilm", "tokens": 253, "n_steps": 50, "batch_size": b} for b in ("auto", 32, 4)],
    "smollm2": [{"model": "smollm2", "tokens": 2048, "n_steps": 8, "batch_size": "auto"}],
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--only", default="minilm,smollm2")
    ap.add_argument("--json", default=str(Path(__file__).parent / "results" / "memory.json"))
    args = ap.parse_args()
    rows = []
    for name in args.only.split(","):
        for cfg in CONFIGS[name]:
            out = subprocess.run([sys.executable, "-c", CHILD, json.dumps(cfg)], capture_output=True, text=True,
                                 env={"OMP_NUM_THREADS": "1", **__import__("os").environ})
            if out.returncode != 0:
                print(out.stderr[-2000:], file=sys.stderr)
                continue
            row = json.loads(out.stdout.strip().splitlines()[-1])
            print(json.dumps(row), flush=True)
            rows.append(row)
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()

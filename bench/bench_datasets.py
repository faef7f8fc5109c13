"""Benchmark: explaining a data set (per-text loop vs packed vs Ray) and streaming activations to shards.

Part ``explain``: SST-2 dev sentences explained with LIME (200 samples) and Integrated Gradients
(50 steps) on the embedded SST-2 MiniLM classifier, three ways:

* ``loop``   — one ``Explainer.explain([text])`` call per text (perturbations of one text per batch);
* ``packed`` — :func:`interpreto_core.explain_dataset` (chunks of texts, rows of many texts packed
  by length into each forward pass), written to JSONL;
* ``ray``    — :func:`interpreto_core.dataset.explain_dataset_ray` on a local Ray instance with
  2 actor workers (each loads the model once).

Part ``activations``: AG News texts (title + description) repeated to ``--n-acts`` texts, token
activations of the 4th of MiniLM's 6 blocks streamed to safetensors shards
(:func:`collect_activation_shards`), against ``collect_activations`` holding everything in RAM.

Every configuration runs in its own subprocess; peak RSS is the maximum, sampled every 0.2 s, of
the summed RSS of that process and all its descendants (Ray's raylet, GCS and workers included).
The local configurations use ``--threads`` torch threads (default 2: the same two cores the two
Ray workers get, one thread each, Ray's default). Each result is also appended as a JSON line to
``--results`` (default ``bench/results/datasets.jsonl``).

    python bench/bench_datasets.py explain              # all 872 dev sentences
    python bench/bench_datasets.py activations --n-acts 20000
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

SST2 = Path("/work/shared/data/sst2/dev.tsv")
AG_NEWS = Path("/work/shared/data/ag_news/test.csv")
METHODS = {"lime": {"n_samples": 200}, "integrated_gradients": {"n_steps": 50}}


class PeakRSS:
    """Peak summed RSS of this process and its descendants, sampled in a thread."""

    def __init__(self, interval: float = 0.2) -> None:
        import psutil

        self.proc, self.interval, self.peak, self._stop = psutil.Process(), interval, 0, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _sample(self) -> int:
        total = 0
        for p in [self.proc, *self.proc.children(recursive=True)]:
            try:
                total += p.memory_info().rss
            except Exception:  # noqa: BLE001 - a child may exit between listing and reading
                pass
        return total

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self._sample())
            self._stop.wait(self.interval)

    def __enter__(self) -> PeakRSS:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self._sample())


def sst2_texts(n: int) -> list[str]:
    with SST2.open(encoding="utf-8") as f:
        rows = [r[0].strip() for r in csv.reader(f, delimiter="\t")][1:]
    step = max(1, len(rows) // n)
    return rows[::step][:n]  # spread over the file: a fair mix of lengths


def ag_news_texts(n: int) -> list[str]:
    with AG_NEWS.open(encoding="utf-8") as f:
        rows = [f"{r['title']}. {r['description']}".replace("\\", " ") for r in csv.DictReader(f)]
    return [rows[i % len(rows)] for i in range(n)]  # repeated cyclically past the 7,600 test texts


# -- one configuration (run in a subprocess) -------------------------------------------------------
def run_explain(mode: str, n: int, method: str, out_dir: str, threads: int = 2) -> dict:
    import torch

    from interpreto_core import Explainer, explain_dataset
    from interpreto_core.zoo import SENTIMENT_RECIPE, cache_root, sentiment_classifier

    torch.set_num_threads(threads)
    texts = sst2_texts(n)
    params = METHODS[method]
    with PeakRSS() as rss:
        start = time.perf_counter()
        if mode == "loop":
            model, tok = sentiment_classifier(progress=False)
            ex = Explainer(model, tok, method=method, batch_size=64, progress=False, **params)
            t0 = time.perf_counter()
            for t in texts:
                ex.explain([t])
        elif mode == "packed":
            model, tok = sentiment_classifier(progress=False)
            t0 = time.perf_counter()
            explain_dataset(model, tok, texts, method=method, out=Path(out_dir) / f"{method}.jsonl",
                            batch_size=64, chunk_size=256, progress=False, **params)
        else:
            import ray

            from interpreto_core.dataset import explain_dataset_ray

            sentiment_classifier(progress=False)  # make sure the cached folder exists
            folder = str(cache_root() / SENTIMENT_RECIPE["name"])
            ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, object_store_memory=200 * 1024**2)
            t0 = time.perf_counter()
            explain_dataset_ray(folder, texts, method=method, out=Path(out_dir) / f"{method}-ray.jsonl",
                                batch_size=64, chunk_size=max(1, n // 8), num_workers=2, progress=False, **params)
        end = time.perf_counter()
    return {"mode": mode, "method": method, "texts": n, "threads": 1 if mode == "ray" else threads,
            "seconds": end - t0, "setup_seconds": t0 - start,
            "texts_per_s": n / (end - t0), "peak_rss_mb": rss.peak / 2**20}


def run_activations(mode: str, n: int, out_dir: str, shard_texts: int) -> dict:
    import torch

    from interpreto_core.concepts import SplitModel, collect_activations
    from interpreto_core.dataset import collect_activation_shards
    from interpreto_core.zoo import sentiment_classifier

    torch.set_num_threads(1)
    texts = ag_news_texts(n)
    model, tok = sentiment_classifier(progress=False)
    split = SplitModel(model, tok, split_points=3, max_length=128)  # 4th of 6 blocks: the rest is not run
    with PeakRSS() as rss:
        base = rss._sample()
        t0 = time.perf_counter()
        if mode == "shards":
            shards = collect_activation_shards(split, iter(texts), Path(out_dir) / "acts", granularity="token",
                                               shard_texts=shard_texts, batch_size=32, progress=False)
            s = next(iter(shards.values()))
            rows, nbytes = len(s), s.nbytes
        else:
            acts = next(iter(collect_activations(split, texts, granularity="token", batch_size=32,
                                                 ram_budget=64 * 1024**3, progress=False).values()))
            rows, nbytes = len(acts), acts.values.numel() * 4
        end = time.perf_counter()
    return {"mode": mode, "texts": n, "rows": rows, "activation_mb": nbytes / 2**20, "seconds": end - t0,
            "texts_per_s": n / (end - t0), "peak_rss_mb": rss.peak / 2**20, "rss_before_mb": base / 2**20}


# -- driver ------------------------------------------------------------------------------------------
def _sub(args: list[str]) -> dict:
    proc = subprocess.run([sys.executable, __file__, "_one", *args], capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"{args} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _record(path: Path, result: dict) -> dict:
    """Append ``result`` (with the time and load average) to the JSON-lines file ``path``."""
    stamped = {**result, "finished": time.strftime("%Y-%m-%d %H:%M:%S"), "load_average": os.getloadavg()}
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as f:
        f.write(json.dumps(stamped) + "\n")
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="part", required=True)
    e = sub.add_parser("explain")
    e.add_argument("--n-texts", type=int, default=872)
    e.add_argument("--modes", default="loop,packed,ray")
    e.add_argument("--methods", default="integrated_gradients,lime")
    e.add_argument("--threads", type=int, default=2, help="torch threads of the local ways")
    a = sub.add_parser("activations")
    a.add_argument("--n-acts", type=int, default=20_000)
    a.add_argument("--modes", default="shards,ram")
    a.add_argument("--shard-texts", type=int, default=1024)
    for p in (e, a):
        p.add_argument("--results", type=Path, default=Path(__file__).parent / "results" / "datasets.jsonl")
    o = sub.add_parser("_one")
    o.add_argument("spec")
    args = ap.parse_args()
    if args.part == "_one":
        spec = json.loads(args.spec)
        fn = run_explain if spec.pop("kind") == "explain" else run_activations
        print(json.dumps(fn(**spec)))
        return
    load = os.getloadavg()
    print(f"# {time.strftime('%Y-%m-%d %H:%M:%S')}  load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}  "
          f"({os.cpu_count()} CPUs)", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        if args.part == "explain":
            for method in args.methods.split(","):
                for mode in args.modes.split(","):
                    spec = {"kind": "explain", "mode": mode, "n": args.n_texts, "method": method, "out_dir": tmp,
                            "threads": args.threads}
                    r = _record(args.results, _sub([json.dumps(spec)]))
                    print(f"| {method} | {mode} | {r['texts']} | {r['seconds']:.1f} | {r['texts_per_s']:.2f} | "
                          f"{r['peak_rss_mb']:.0f} | {r['setup_seconds']:.1f} |", flush=True)
        else:
            for mode in args.modes.split(","):
                spec = {"kind": "activations", "mode": mode, "n": args.n_acts, "out_dir": tmp,
                        "shard_texts": args.shard_texts}
                r = _record(args.results, _sub([json.dumps(spec)]))
                print(f"| {mode} | {r['texts']} | {r['rows']} | {r['activation_mb']:.0f} | {r['seconds']:.1f} | "
                      f"{r['texts_per_s']:.1f} | {r['peak_rss_mb']:.0f} | {r['rss_before_mb']:.0f} |", flush=True)
    load = os.getloadavg()
    print(f"# end {time.strftime('%H:%M:%S')}  load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}")


if __name__ == "__main__":
    main()

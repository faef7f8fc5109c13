"""Causal-LM attributions on SmolLM2-135M: interpreto-core vs captum 0.9 vs inseq 0.7.1, same weights.

For each continuation length N (tokens, greedy, fixed once and then teacher-forced by every
library), on one prompt:

- IG-50 (Gauss-Legendre, captum's rule): ours ``integrated_gradients`` (granularity token,
  ``baseline="pad"``); captum ``LLMGradientAttribution(LayerIntegratedGradients(model,
  embed_tokens))`` with ``TextTokenInput(baselines=pad id)``; inseq ``integrated_gradients`` (its default
  baseline), ``attribute_target=True``;
- occlusion (one token at a time): ours ``occlusion`` (default baseline: the pad embedding here);
  captum ``LLMAttribution(FeatureAblation)`` with ``TextTokenInput(baselines=pad id)``;
  inseq ``occlusion``.

Every contender explains the log-probability of each continuation token. Reported: process CPU
time (``torch.set_num_threads(1)``; one warm-up, then ``--repeats`` interleaved rounds: min and
median), forward calls and forward tokens (``model.forward`` wrapped: real tokens, i.e. the attention
mask's sum, else batch x length). Ours also reports its own ``forward_tokens`` (``own_forward_tokens``).
``--variants`` also times the alternative design for gradient rows (one forward per interpolation
point for all targets, one backward per target on the retained graph) against the cut rows ours uses.

Memory, in the same process: before each timed call ``gc.collect()``, then a thread reads this
process's RSS (``/proc/self/statm``) every 5 ms during the call; reported: the peak above the RSS at
the call's start (``rss_peak_above_start_mb``), the sampled peak itself, and the process high-water
mark so far (``ru_maxrss``). The load average (1 min) is recorded at each call's start and end: the
machine is shared, so CPU seconds are upper bounds. ``--warmup-length`` warms every contender up once
per method at a short continuation instead of once per (length, method) at the measured length. A
sanity line compares ours with captum (Pearson / Spearman over the prompt tokens' scores of every
target, and the sign agreement): both explain the same log-probabilities with the same baseline.

    python bench/bench_lm_gradients.py --lengths 2,5 --repeats 3
    nice -n 10 python bench/bench_lm_gradients.py --lengths 10,20 --methods integrated_gradients --repeats 1 \
        --warmup-length 2 --json bench/results/lm_gradients_long_ig.json
    nice -n 10 python bench/bench_lm_gradients.py --lengths 2,5,10,20 --methods occlusion --repeats 3,3,1,1 \
        --warmup-length 2 --json bench/results/lm_gradients_occlusion.json

inseq is installed for benchmarks only (see bench/bench_seq2seq.py for how).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import resource
import statistics
import sys
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

PROMPT = (
    "The history of the city began in the early Middle Ages, when a small group of merchants "
    "settled on the river bank. Over the next centuries it grew into"
)
IG_STEPS = 50


class ForwardCounter:
    """Wraps ``model.forward``: passes and real tokens computed (the mask's last positions: a cached
    prefix is not recomputed)."""

    def __init__(self, model: Any) -> None:
        self.calls = self.tokens = 0
        inner = model.forward

        def forward(*args: Any, **kwargs: Any) -> Any:
            mask = kwargs.get("attention_mask")
            x = kwargs.get("inputs_embeds")
            if x is None:
                x = kwargs.get("input_ids", args[0] if args else None)
            self.calls += 1
            # with a key/value cache the mask covers cache + new tokens: count the new (computed) ones
            self.tokens += int(mask[:, -x.shape[1] :].sum()) if mask is not None else int(x.shape[0] * x.shape[1])
            return inner(*args, **kwargs)

        model.forward = forward

    def reset(self) -> None:
        self.calls = self.tokens = 0


class RssSampler:
    """Peak resident set size of this process during a ``with`` block, read every ``interval`` s."""

    PAGE = os.sysconf("SC_PAGE_SIZE")

    def __init__(self, interval: float = 0.005) -> None:
        self.interval = interval
        self.start = self.peak = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @classmethod
    def rss(cls) -> int:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * cls.PAGE

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.peak = max(self.peak, self.rss())

    def __enter__(self) -> RssSampler:
        self.start = self.peak = self.rss()
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        assert self._thread is not None
        self._thread.join()
        self.peak = max(self.peak, self.rss())


def score_matrix(out: Any) -> np.ndarray | None:
    """(targets, prompt tokens) scores of ours (an Explanation) or captum (an LLMAttributionResult)."""
    if isinstance(out, tuple):
        out = out[0]
    if isinstance(out, list):
        out = out[0]
    if hasattr(out, "token_attr") and out.token_attr is not None:  # captum
        return np.asarray(out.token_attr.detach().cpu().double().numpy())
    if hasattr(out, "scores") and hasattr(out, "generated"):  # ours: prompt elements only
        keep = [not g for g in out.generated] if out.generated else [True] * out.scores.shape[1]
        return np.asarray(out.scores)[:, np.array(keep)]
    return None


def agreement(a: np.ndarray, b: np.ndarray) -> dict[str, Any]:
    """Pearson and Spearman correlation of two score matrices (flattened), and sign agreement."""
    if a.shape != b.shape:
        return {"shape_ours": list(a.shape), "shape_captum": list(b.shape), "error": "shapes differ"}
    x, y = a.ravel(), b.ravel()

    def rank(v: np.ndarray) -> np.ndarray:
        return np.argsort(np.argsort(v, kind="stable"), kind="stable").astype(float)

    per_target = [round(float(np.corrcoef(a[t], b[t])[0, 1]), 4) for t in range(a.shape[0])]
    return {
        "pearson": float(np.corrcoef(x, y)[0, 1]),
        "spearman": float(np.corrcoef(rank(x), rank(y))[0, 1]),
        "sign_agreement": float(np.mean(np.sign(x) == np.sign(y))),
        "pearson_per_target_min": min(per_target),
        "pearson_per_target": per_target,
        "max_abs_diff": float(np.abs(x - y).max()),
        "max_abs": float(np.abs(y).max()),
        "shape": list(a.shape),
    }


def ours(model: Any, tok: Any, method: str, cont: list[int]) -> Any:
    import interpreto_core as ic

    params = {"n_steps": IG_STEPS, "baseline": "pad"} if method == "integrated_gradients" else {}
    ex = ic.Explainer(model, tok, method=method, granularity="token", score="log_probability", batch_size=32, **params)
    out = ex.explain(PROMPT, targets=cont)
    return out, ex.forward_tokens


def captum_run(model: Any, tok: Any, method: str, cont: list[int]) -> Any:
    from captum.attr import (
        FeatureAblation,
        LayerIntegratedGradients,
        LLMAttribution,
        LLMGradientAttribution,
        TextTokenInput,
    )

    target = torch.tensor(cont)
    if method == "integrated_gradients":
        lig = LayerIntegratedGradients(model, model.get_input_embeddings())
        llm = LLMGradientAttribution(lig, tok)
        # the baseline goes through TextTokenInput: LayerIntegratedGradients interpolates its
        # interpretable tensor (ones) towards zeros, and to_model_input maps every value != 1 to the
        # baseline id, so the embedding layer's baseline output is the pad embedding everywhere
        inp = TextTokenInput(PROMPT, tok, baselines=tok.pad_token_id)
        return llm.attribute(inp, target=target, n_steps=IG_STEPS)
    llm = LLMAttribution(FeatureAblation(model), tok)
    inp = TextTokenInput(PROMPT, tok, baselines=tok.pad_token_id)  # ours' default here: the pad embedding
    return llm.attribute(inp, target=target)


def inseq_run(inseq_model: Any, tok: Any, method: str, cont: list[int]) -> Any:
    args = {"n_steps": IG_STEPS} if method == "integrated_gradients" else {}
    full = PROMPT + tok.decode(cont)
    return inseq_model.attribute(
        PROMPT, generated_texts=full, show_progress=False, attributed_fn="probability", logprob=True, **args
    )


def shared_forward_variant(model: Any, tok: Any, cont: list[int], batch_size: int = 8) -> int:
    """The alternative design: the whole prompt + continuation once per interpolation point, all
    targets read from that pass, one backward per target on the retained graph. Returns tokens."""
    from interpreto_plugins.integrated_gradients import quadrature_rule

    ids = tok(PROMPT, add_special_tokens=False)["input_ids"] + cont
    p = len(ids) - len(cont)
    emb = model.get_input_embeddings()(torch.tensor(ids)).detach()
    base = model.get_input_embeddings()(torch.tensor([tok.pad_token_id])).detach()[0]
    alphas, weights = quadrature_rule(IG_STEPS, "gauss_legendre")
    alphas_t = torch.tensor(alphas, dtype=emb.dtype)
    total = torch.zeros(len(cont), *emb.shape)
    tokens = 0
    positions = torch.arange(p - 1, len(ids) - 1)
    for start in range(0, IG_STEPS, batch_size):
        a = alphas_t[start : start + batch_size]
        x = (base + a[:, None, None] * (emb - base)).requires_grad_(True)
        logits = model(inputs_embeds=x, use_cache=False).logits[:, positions]  # (S, T, V)
        logp = logits.log_softmax(-1).gather(-1, torch.tensor(cont)[None, :, None].expand(len(a), -1, 1))[..., 0]
        tokens += x.shape[0] * x.shape[1]
        for t in range(len(cont)):
            (g,) = torch.autograd.grad(logp[:, t].sum(), x, retain_graph=t < len(cont) - 1)
            w = torch.tensor(weights[start : start + batch_size], dtype=g.dtype)
            total[t] += (w[:, None, None] * g).sum(0)
    return tokens


def timed(
    fns: dict[str, Any],
    counter: ForwardCounter,
    repeats: int,
    warmup: dict[str, Any] | None,
    on_call: Any = None,
) -> tuple[dict[str, dict[str, Any]], dict[str, np.ndarray]]:
    """Interleaved rounds of every contender; ``warmup``: the functions to run once first (or None);
    ``on_call(name, record)`` after every timed call (to save partial results of a long row)."""
    warm: dict[str, np.ndarray] = {}
    for k, fn in (warmup or {}).items():
        m = score_matrix(fn())
        if m is not None:
            warm[k] = m
    if "ours" in warm and "captum" in warm:  # the warm-up may run at another length: its own check
        print(f"  sanity (warm-up) ours vs captum: {agreement(warm['ours'], warm['captum'])}", flush=True)
    times: dict[str, list[float]] = {k: [] for k in fns}
    mem: dict[str, list[dict[str, float]]] = {k: [] for k in fns}
    counts: dict[str, tuple[int, int]] = {}
    extra: dict[str, Any] = {}
    matrices: dict[str, np.ndarray] = {}
    for _ in range(repeats):
        for k, fn in fns.items():
            out = None
            gc.collect()
            counter.reset()
            load0 = os.getloadavg()[0]
            wall0 = time.perf_counter()
            with RssSampler() as rss:
                t0 = time.process_time()
                out = fn()
                times[k].append(time.process_time() - t0)
            mem[k].append(
                {
                    "rss_start_mb": rss.start / 2**20,
                    "rss_peak_mb": rss.peak / 2**20,
                    "rss_peak_above_start_mb": (rss.peak - rss.start) / 2**20,
                    "process_maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                    "wall_s": time.perf_counter() - wall0,
                    "load1_start": load0,
                    "load1_end": os.getloadavg()[0],
                }
            )
            counts[k] = (counter.calls, counter.tokens)
            if isinstance(out, tuple):
                extra[k] = out[1]
            m = score_matrix(out)
            if m is not None:
                matrices[k] = m
            del out
            print(
                f"  {k}: {times[k][-1]:.1f} s CPU, {counter.calls} calls, {counter.tokens} tokens, "
                f"+{mem[k][-1]['rss_peak_above_start_mb']:.0f} MB RSS, load {load0:.2f}",
                flush=True,
            )
            if on_call is not None:
                on_call(
                    k,
                    {
                        "cpu_s": times[k][-1],
                        "forward_calls": counter.calls,
                        "forward_tokens": counter.tokens,
                        **mem[k][-1],
                    },
                )
    res = {}
    for k in fns:
        calls, tokens = counts[k]
        res[k] = {
            "cpu_s": times[k],
            "cpu_s_min": min(times[k]),
            "cpu_s_median": statistics.median(times[k]),
            "forward_calls": calls,
            "forward_tokens": tokens,
            "memory": mem[k],
            "rss_peak_above_start_mb_max": max(m["rss_peak_above_start_mb"] for m in mem[k]),
            "load1_min": min(min(m["load1_start"], m["load1_end"]) for m in mem[k]),
            "load1_max": max(max(m["load1_start"], m["load1_end"]) for m in mem[k]),
        }
        if k in extra and isinstance(extra[k], int):
            res[k]["own_forward_tokens"] = extra[k]
    return res, matrices


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--lengths", default="2,5,10,20")
    ap.add_argument("--methods", default="integrated_gradients,occlusion")
    ap.add_argument("--libs", default="ours,captum,inseq")
    ap.add_argument("--repeats", default="3", help="timed rounds: one number, or one per length (3,3,1,1)")
    ap.add_argument("--no-warmup", action="store_true")
    ap.add_argument(
        "--warmup-length",
        type=int,
        default=None,
        help="warm up once per method at this continuation length (default: at each measured length)",
    )
    ap.add_argument("--variants", action="store_true", help="also time the shared-forward gradient design")
    ap.add_argument("--json", default=str(Path(__file__).parent / "results" / "lm_gradients.json"))
    args = ap.parse_args()

    torch.set_num_threads(1)
    torch.set_num_interop_threads(1)
    from interpreto_core import zoo

    model, tok = zoo.causal_lm(progress=False)
    model.eval()
    libs = args.libs.split(",")
    inseq_models: dict[str, Any] = {}
    if "inseq" in libs:
        import inseq

        for method in args.methods.split(","):
            inseq_models[method] = inseq.load_model(model, method, tokenizer=tok)
    counter = ForwardCounter(model)
    prompt_ids = tok(PROMPT, add_special_tokens=False)["input_ids"]
    with torch.no_grad():
        generated = model.generate(
            torch.tensor([prompt_ids]),
            max_new_tokens=max(map(int, args.lengths.split(","))),
            do_sample=False,
            pad_token_id=tok.pad_token_id,
        )[0, len(prompt_ids) :].tolist()
    lengths = [int(x) for x in args.lengths.split(",")]
    repeats = [int(x) for x in args.repeats.split(",")]
    if len(repeats) == 1:
        repeats *= len(lengths)
    if len(repeats) != len(lengths):
        raise SystemExit(f"--repeats has {len(repeats)} values for {len(lengths)} lengths: give one, or one per length")
    if args.warmup_length is not None and args.warmup_length > len(generated):
        with torch.no_grad():
            generated = model.generate(
                torch.tensor([prompt_ids]),
                max_new_tokens=args.warmup_length,
                do_sample=False,
                pad_token_id=tok.pad_token_id,
            )[0, len(prompt_ids) :].tolist()
    results: dict[str, Any] = {
        "prompt_tokens": len(prompt_ids),
        "ig_steps": IG_STEPS,
        "machine": platform.platform(),
        "torch": torch.__version__,
        "command": " ".join(sys.argv),
        "repeats": dict(zip(map(str, lengths), repeats, strict=True)),
        "warmup_length": None if args.no_warmup else args.warmup_length,
        "rss_after_load_mb": RssSampler.rss() / 2**20,
        "load1_at_start": os.getloadavg()[0],
        "continuation": generated,
        "rows": [],
    }
    print(
        f"prompt {len(prompt_ids)} tokens, RSS after loading {results['rss_after_load_mb']:.0f} MB, "
        f"load {os.getloadavg()}",
        flush=True,
    )
    warmed: set[str] = set()

    def contenders(method: str, cont: list[int]) -> dict[str, Any]:
        fns: dict[str, Any] = {}
        if "ours" in libs:
            fns["ours"] = lambda m=method, c=cont: ours(model, tok, m, c)
        if "captum" in libs:
            fns["captum"] = lambda m=method, c=cont: captum_run(model, tok, m, c)
        if "inseq" in libs:
            fns["inseq"] = lambda m=method, c=cont: inseq_run(inseq_models[m], tok, m, c)
        if args.variants and method == "integrated_gradients":
            fns["shared_forward"] = lambda c=cont: (None, shared_forward_variant(model, tok, c))
        return fns

    for n, reps in zip(lengths, repeats, strict=True):
        cont = generated[:n]
        for method in args.methods.split(","):
            fns = contenders(method, cont)
            warmup = None
            if args.no_warmup:
                pass
            elif args.warmup_length is None:
                warmup = fns
            elif method not in warmed:
                warmup = contenders(method, generated[: args.warmup_length])
                warmed.add(method)
            print(f"N = {n}, {method}, {reps} repeat(s){', warming up' if warmup else ''}", flush=True)
            partial = results.setdefault("calls_of_unfinished_row", [])
            partial.clear()

            def save_call(name: str, record: dict[str, Any], n: int = n, method: str = method) -> None:
                partial.append({"continuation_tokens": n, "method": method, "lib": name, **record})
                Path(args.json).parent.mkdir(parents=True, exist_ok=True)
                Path(args.json).write_text(json.dumps(results, indent=1))

            res, matrices = timed(fns, counter, reps, warmup, save_call)
            partial.clear()
            row = {"continuation_tokens": n, "method": method, "repeats": reps, **res}
            if "ours" in matrices and "captum" in matrices:
                row["ours_vs_captum_scores"] = agreement(matrices["ours"], matrices["captum"])
                print(f"  sanity ours vs captum: {row['ours_vs_captum_scores']}", flush=True)
            if "ours" in res and "captum" in res:
                row["ours_over_captum_cpu"] = res["ours"]["cpu_s_median"] / res["captum"]["cpu_s_median"]
            if "ours" in res and "inseq" in res:
                row["ours_over_inseq_tokens"] = res["ours"]["forward_tokens"] / res["inseq"]["forward_tokens"]
                row["ours_over_inseq_cpu"] = res["ours"]["cpu_s_median"] / res["inseq"]["cpu_s_median"]
            print(
                json.dumps(
                    {
                        k: (
                            v
                            if not isinstance(v, dict)
                            else {kk: vv for kk, vv in v.items() if kk not in ("cpu_s", "memory")}
                        )
                        for k, v in row.items()
                    }
                ),
                flush=True,
            )
            results["rows"].append(row)
            Path(args.json).parent.mkdir(parents=True, exist_ok=True)
            Path(args.json).write_text(json.dumps(results, indent=1))  # after every row: long runs


if __name__ == "__main__":
    np.set_printoptions(precision=4)
    main()

"""Causal-LM attributions on SmolLM2-135M: interpreto-core vs captum 0.9 vs inseq 0.7.1, same weights.

For each continuation length N (tokens, greedy, fixed once and then teacher-forced by every
library), on one prompt:

- IG-50 (Gauss-Legendre, captum's rule): ours ``integrated_gradients`` (granularity token,
  ``baseline="pad"``); captum ``LLMGradientAttribution(LayerIntegratedGradients(model,
  embed_tokens))`` with the pad id as baseline; inseq ``integrated_gradients`` (its default
  baseline), ``attribute_target=True``;
- occlusion (one token at a time): ours ``occlusion``; captum ``LLMAttribution(FeatureAblation)``;
  inseq ``occlusion``.

Every contender explains the log-probability of each continuation token. Reported: process CPU
time (``torch.set_num_threads(1)``; one warm-up, then ``--repeats`` interleaved rounds: min and
median), forward calls and forward tokens (``model.forward`` wrapped: real tokens, i.e. the attention
mask's sum, else batch x length). Ours also reports its own ``forward_tokens`` (checked equal).
``--variants`` also times the alternative design for gradient rows (one forward per interpolation
point for all targets, one backward per target on the retained graph) against the cut rows ours uses.

    python bench/bench_lm_gradients.py --lengths 2,5 --repeats 3
    python bench/bench_lm_gradients.py --lengths 10,20 --repeats 1 --json bench/results/lm_gradients_long.json

inseq is installed for benchmarks only (see bench/bench_seq2seq.py for how).
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

PROMPT = ("The history of the city began in the early Middle Ages, when a small group of merchants "
          "settled on the river bank. Over the next centuries it grew into")
IG_STEPS = 50


class ForwardCounter:
    """Wraps ``model.forward``: passes and real tokens."""

    def __init__(self, model: Any) -> None:
        self.calls = self.tokens = 0
        inner = model.forward

        def forward(*args: Any, **kwargs: Any) -> Any:
            mask = kwargs.get("attention_mask")
            x = kwargs.get("inputs_embeds")
            if x is None:
                x = kwargs.get("input_ids", args[0] if args else None)
            self.calls += 1
            self.tokens += int(mask.sum()) if mask is not None else int(x.shape[0] * x.shape[1])
            return inner(*args, **kwargs)

        model.forward = forward

    def reset(self) -> None:
        self.calls = self.tokens = 0


def ours(model: Any, tok: Any, method: str, cont: list[int]) -> Any:
    import interpreto_core as ic

    params = {"n_steps": IG_STEPS, "baseline": "pad"} if method == "integrated_gradients" else {}
    ex = ic.Explainer(model, tok, method=method, granularity="token", score="log_probability", batch_size=32,
                      **params)
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
        inp = TextTokenInput(PROMPT, tok, baselines=tok.pad_token_id)
        return llm.attribute(inp, target=target, n_steps=IG_STEPS)
    llm = LLMAttribution(FeatureAblation(model), tok)
    inp = TextTokenInput(PROMPT, tok)
    return llm.attribute(inp, target=target)


def inseq_run(inseq_model: Any, tok: Any, method: str, cont: list[int]) -> Any:
    args = {"n_steps": IG_STEPS} if method == "integrated_gradients" else {}
    full = PROMPT + tok.decode(cont)
    return inseq_model.attribute(PROMPT, generated_texts=full, show_progress=False, attributed_fn="probability",
                                 logprob=True, **args)


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


def timed(fns: dict[str, Any], counter: ForwardCounter, repeats: int, warmup: bool) -> dict[str, dict[str, Any]]:
    if warmup:
        for fn in fns.values():
            fn()
    times: dict[str, list[float]] = {k: [] for k in fns}
    counts: dict[str, tuple[int, int]] = {}
    extra: dict[str, Any] = {}
    for _ in range(repeats):
        for k, fn in fns.items():
            counter.reset()
            t0 = time.process_time()
            out = fn()
            times[k].append(time.process_time() - t0)
            counts[k] = (counter.calls, counter.tokens)
            if isinstance(out, tuple):
                extra[k] = out[1]
    res = {}
    for k in fns:
        calls, tokens = counts[k]
        res[k] = {"cpu_s": times[k], "cpu_s_min": min(times[k]), "cpu_s_median": statistics.median(times[k]),
                  "forward_calls": calls, "forward_tokens": tokens}
        if k in extra and isinstance(extra[k], int):
            res[k]["own_forward_tokens"] = extra[k]
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--lengths", default="2,5,10,20")
    ap.add_argument("--methods", default="integrated_gradients,occlusion")
    ap.add_argument("--libs", default="ours,captum,inseq")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--no-warmup", action="store_true")
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
        generated = model.generate(torch.tensor([prompt_ids]), max_new_tokens=max(map(int, args.lengths.split(","))),
                                   do_sample=False, pad_token_id=tok.pad_token_id)[0, len(prompt_ids):].tolist()
    results: dict[str, Any] = {"prompt_tokens": len(prompt_ids), "ig_steps": IG_STEPS,
                               "machine": platform.platform(), "torch": torch.__version__, "rows": []}
    for n in map(int, args.lengths.split(",")):
        cont = generated[:n]
        for method in args.methods.split(","):
            fns: dict[str, Any] = {}
            if "ours" in libs:
                fns["ours"] = lambda m=method, c=cont: ours(model, tok, m, c)
            if "captum" in libs:
                fns["captum"] = lambda m=method, c=cont: captum_run(model, tok, m, c)
            if "inseq" in libs:
                fns["inseq"] = lambda m=method, c=cont: inseq_run(inseq_models[m], tok, m, c)
            if args.variants and method == "integrated_gradients":
                fns["shared_forward"] = lambda c=cont: (None, shared_forward_variant(model, tok, c))
            res = timed(fns, counter, args.repeats, not args.no_warmup)
            row = {"continuation_tokens": n, "method": method, **res}
            if "ours" in res and "captum" in res:
                row["ours_over_captum_cpu"] = res["ours"]["cpu_s_median"] / res["captum"]["cpu_s_median"]
            if "ours" in res and "inseq" in res:
                row["ours_over_inseq_tokens"] = res["ours"]["forward_tokens"] / res["inseq"]["forward_tokens"]
                row["ours_over_inseq_cpu"] = res["ours"]["cpu_s_median"] / res["inseq"]["cpu_s_median"]
            print(json.dumps({k: (v if not isinstance(v, dict) else {kk: vv for kk, vv in v.items() if kk != "cpu_s"})
                              for k, v in row.items()}), flush=True)
            results["rows"].append(row)
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    np.set_printoptions(precision=4)
    main()

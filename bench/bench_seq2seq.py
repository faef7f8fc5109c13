"""Seq2seq attributions: interpreto-core vs inseq 0.7.1 on the same tiny random T5, at equal budget.

Integrated Gradients (50 Gauss-Legendre steps) and occlusion (one token at a time) on 5 source
sentences with teacher-forced targets of 5-6 tokens (EOS included), both libraries explaining the same thing:

- the same model object (a 2-layer random T5, d_model 64, seed 0) and the same tokenizer: the
  MiniLM WordPiece vocabulary of :func:`interpreto_core.testing.make_tiny_tokenizer` given a
  T5-style template (no BOS, ``[SEP]`` appended as EOS; the decoder starts with ``[CLS]``);
- the same targets: the token ids inseq forces (``tok(text_target=...)``, i.e. the target's
  word pieces then EOS), passed to ours as token ids;
- the same elements: the source tokens and the target prefix (inseq ``attribute_target=True``);
- the same score: the target token's log-probability (ours ``score="log_probability"``, inseq
  ``attributed_fn="probability", logprob=True``);
- the same baseline: the ``[UNK]`` embedding (ours ``baseline="unk"``; inseq's default, which
  keeps EOS and the decoder's start token, as ours keeps special tokens);
- IG: the same quadrature (Gauss-Legendre, ours' and captum's default) and hidden-dimension sum.

Timing is process CPU time (``time.process_time()``) with ``torch.set_num_threads(1)``: one warm-up
call of each contender, then ``--repeats`` rounds timing each contender once, interleaved (min and
median reported); each call is a single call on all 5 sentences (inseq batches them itself).
Forward calls and rows (batch sizes summed) are counted for both libraries by wrapping
``model.forward``; ours also reports ``Explainer.forward_calls`` and ``.forward_rows``, checked
equal to the counter. The two libraries' attributions are compared on
every (target, element) pair a target can see; ``max_abs_diff`` is reported per method.

inseq is installed for this benchmark only (not a dependency of interpreto-core), without letting it
pull another torch or the nvidia-cu11 wheels its metadata lists::

    pip install --no-deps inseq==0.7.1
    pip install jaxtyping "typeguard<=2.13.3" treescope   # its missing light deps; none pulls torch

(inseq's other declared deps are installed already, or are security pins it never imports:
aiohttp, authlib, cryptography, marshmallow, tornado.) It runs unpatched with transformers 5.x.

    python bench/bench_seq2seq.py                     # writes bench/results/seq2seq.json
    python bench/bench_seq2seq.py --repeats 1 --json /tmp/s2s.json
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

SOURCES = [
    "the cat sat on the mat",
    "a dog runs in the park every morning",
    "my brother reads a long book",
    "the weather is cold and rainy today",
    "we will visit our friends next week",
]
TARGETS = [
    "le chat est assis",
    "un chien court",
    "mon frere lit",
    "le temps est froid",
    "voir nos amis",
]
IG_STEPS = 50
OCCLUSION_PPE = 64  # inseq variant: captum's perturbations_per_eval (rows per forward); default 1


def build() -> tuple[Any, Any]:
    """The tokenizer (T5-style template) and a random tiny T5 (seed 0), in eval mode."""
    from tokenizers.processors import TemplateProcessing
    from transformers import T5Config, T5ForConditionalGeneration

    from interpreto_core.testing import make_tiny_tokenizer

    tok = make_tiny_tokenizer()
    sep = tok.sep_token
    tok.backend_tokenizer.post_processor = TemplateProcessing(
        single=f"$A {sep}", pair=f"$A {sep} $B:1 {sep}:1", special_tokens=[(sep, tok.sep_token_id)])
    torch.manual_seed(0)
    config = T5Config(d_model=64, d_ff=128, d_kv=32, num_layers=2, num_heads=2, vocab_size=len(tok),
                      pad_token_id=tok.pad_token_id, eos_token_id=tok.sep_token_id,
                      decoder_start_token_id=tok.cls_token_id)
    return tok, T5ForConditionalGeneration(config).eval()


class ForwardCounter:
    """Wraps ``model.forward``: passes and rows (``inputs_embeds`` or ``input_ids`` batch size)."""

    def __init__(self, model: Any) -> None:
        self.calls = self.rows = 0
        inner = model.forward

        def forward(*args: Any, **kwargs: Any) -> Any:
            x = kwargs.get("inputs_embeds")
            if x is None:
                x = kwargs.get("input_ids", args[0] if args else None)
            self.calls += 1
            self.rows += int(x.shape[0])
            return inner(*args, **kwargs)

        model.forward = forward

    def reset(self) -> None:
        self.calls = self.rows = 0


# -- the two libraries ---------------------------------------------------------------------------
def run_ours(model: Any, tok: Any, method: str, target_ids: list[list[int]]) -> tuple[Any, dict[str, int]]:
    import interpreto_core as ic

    params = {"n_steps": IG_STEPS} if method == "integrated_gradients" else {}
    explainer = ic.Explainer(model, tok, method=method, granularity="token", baseline="unk",
                             score="log_probability", **params)
    out = explainer.explain(SOURCES, target_ids)
    return out, {"forward_calls": explainer.forward_calls, "forward_rows": explainer.forward_rows}


def run_inseq(inseq_model: Any, method: str, **extra: Any) -> Any:
    args = {"n_steps": IG_STEPS} if method == "integrated_gradients" else {}
    return inseq_model.attribute(SOURCES, generated_texts=TARGETS, attribute_target=True, show_progress=False,
                                 attributed_fn="probability", logprob=True, **args, **extra)


def inseq_scores(seq: Any, n_source: int, n_targets: int, method: str) -> np.ndarray:
    """inseq's attributions laid out as ours: (targets, source tokens + target prefix tokens).

    Drops the source's EOS and the decoder's start token (inseq attributes them, with a zero
    difference to the baseline, which keeps them). Positions a target cannot see are NaN.
    """
    sa, ta = seq.source_attributions, seq.target_attributions  # (positions, steps[, hidden])
    if method == "integrated_gradients":
        sa, ta = sa.sum(-1), ta.sum(-1)
    sa, ta = sa.T.numpy().astype(np.float64), ta.T.numpy().astype(np.float64)
    assert sa.shape[0] == n_targets and len(seq.source) == n_source + 1, (sa.shape, len(seq.source))
    dropped = np.concatenate([sa[:, n_source:], ta[:, :1]], axis=1)
    assert np.all(np.nan_to_num(dropped) == 0), "inseq gave the EOS / start token a nonzero attribution"
    return np.concatenate([sa[:, :n_source], ta[:, 1:n_targets]], axis=1)


def agreement(ours: list[Any], theirs: Any, method: str) -> dict[str, Any]:
    diffs, scale, masked = [], 0.0, 0.0
    for e, seq in zip(ours, theirs.sequence_attributions, strict=True):
        mine = np.asarray(e.scores, dtype=np.float64)  # (T, E)
        visible = np.asarray(e.visible, dtype=bool)
        n_targets = mine.shape[0]
        n_source = mine.shape[1] - (n_targets - 1)
        other = inseq_scores(seq, n_source, n_targets, method)
        assert other.shape == mine.shape, (other.shape, mine.shape)
        assert np.isnan(other[~visible]).all() and not np.isnan(other[visible]).any()
        if method == "occlusion":  # inseq reports |f(x) - f(x without e)|
            mine = np.abs(mine)
        diffs.append(np.abs(mine[visible] - other[visible]).max())
        scale = max(scale, float(np.abs(other[visible]).max()))
        masked = max(masked, float(np.abs(mine[~visible]).max(initial=0.0)))
    return {"max_abs_diff": float(max(diffs)), "max_abs_attribution": scale,
            "ours_max_abs_where_target_cannot_see": masked,
            "compared": "ours vs inseq on every (target, element) pair the target can see"
                        + (" (ours in absolute value: inseq's occlusion takes |.|)" if method == "occlusion" else "")}


# -- bench ---------------------------------------------------------------------------------------
def timed(fns: dict[str, Any], counter: ForwardCounter, repeats: int) -> dict[str, tuple[Any, dict[str, Any]]]:
    """One warm-up call of each contender, then ``repeats`` rounds, each timing every contender once
    (interleaved, so a change of load on a shared machine hits all of them alike)."""
    for fn in fns.values():
        fn()  # warm-up (not timed)
    times: dict[str, list[float]] = {k: [] for k in fns}
    counts: dict[str, set[tuple[int, int]]] = {k: set() for k in fns}
    outs: dict[str, Any] = {}
    for _ in range(repeats):
        for k, fn in fns.items():
            counter.reset()
            t0 = time.process_time()
            outs[k] = fn()
            times[k].append(time.process_time() - t0)
            counts[k].add((counter.calls, counter.rows))
    result = {}
    for k in fns:
        assert len(counts[k]) == 1, f"{k}: forward counts changed between repeats: {counts[k]}"
        ((calls, rows),) = counts[k]
        result[k] = (outs[k], {"cpu_s": times[k], "cpu_s_min": min(times[k]),
                               "cpu_s_median": statistics.median(times[k]), "forward_calls": calls,
                               "forward_rows": rows})
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--json", default=str(Path(__file__).parent / "results" / "seq2seq.json"))
    args = ap.parse_args()

    torch.set_num_threads(1)
    torch.set_num_interop_threads(1)
    import inseq
    import transformers

    tok, model = build()
    counter = ForwardCounter(model)
    target_ids = [list(tok(text_target=t)["input_ids"]) for t in TARGETS]
    source_lengths = [len(tok(s)["input_ids"]) for s in SOURCES]
    print("source tokens (with EOS):", source_lengths, " target tokens (with EOS):", [len(t) for t in target_ids])

    results: dict[str, Any] = {
        "setup": {
            "model": "T5ForConditionalGeneration(d_model=64, d_ff=128, d_kv=32, num_layers=2, num_heads=2), "
                     "random, seed 0",
            "tokenizer": "MiniLM WordPiece (make_tiny_tokenizer), T5-style template: '$A [SEP]', decoder start [CLS]",
            "vocab_size": len(tok), "sources": SOURCES, "targets": TARGETS, "target_ids": target_ids,
            "source_tokens_with_eos": source_lengths, "ig_steps": IG_STEPS, "ig_quadrature": "gauss_legendre",
            "baseline": "[UNK] embedding", "score": "log-probability of the target token",
            "elements": "source tokens + target prefix (inseq attribute_target=True)",
            "timing": f"time.process_time(), torch.set_num_threads(1), 1 warm-up + {args.repeats} "
                      "interleaved timed calls",
            "ours_batch_size": 32,
        },
        "versions": {"python": platform.python_version(), "torch": torch.__version__,
                     "transformers": transformers.__version__, "inseq": _version("inseq"),
                     "captum": _version("captum"), "interpreto_core": _version("interpreto-core"),
                     "machine": platform.machine(), "processor": platform.processor()},
        "cases": [],
        "agreement": {},
    }
    inseq_models = {m: inseq.load_model(model, m, tokenizer=tok) for m in ("integrated_gradients", "occlusion")}

    for method in ("integrated_gradients", "occlusion"):
        reported: dict[str, int] = {}

        def ours(method: str = method, reported: dict[str, int] = reported) -> Any:
            out, counts = run_ours(model, tok, method, target_ids)
            reported.update(counts)
            return out

        fns: dict[str, Any] = {"interpreto-core": ours,
                               "inseq 0.7.1": lambda method=method: run_inseq(inseq_models[method], method)}
        if method == "occlusion":
            fns[f"inseq 0.7.1, perturbations_per_eval={OCCLUSION_PPE}"] = lambda method=method: run_inseq(
                inseq_models[method], method, perturbations_per_eval=OCCLUSION_PPE)
        timings = timed(fns, counter, args.repeats)
        for label, (_, stats) in timings.items():
            case = {"method": method, "library": label, **stats}
            if label == "interpreto-core":
                assert (reported["forward_calls"], reported["forward_rows"]) == (
                    stats["forward_calls"], stats["forward_rows"]), (reported, stats)
                case["explainer_reported"] = dict(reported)
            results["cases"].append(case)
            _print(method, label, stats)
        results["agreement"][method] = agreement(timings["interpreto-core"][0], timings["inseq 0.7.1"][0], method)
        print(f"  agreement: {results['agreement'][method]}")

    path = Path(args.json)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {path}")


def _print(method: str, library: str, s: dict[str, Any]) -> None:
    print(f"{method:22s} {library:42s} cpu s min {s['cpu_s_min']:.3f} median {s['cpu_s_median']:.3f}  "
          f"calls {s['forward_calls']:4d}  rows {s['forward_rows']:5d}")


def _version(dist: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(dist)
    except PackageNotFoundError:
        return None


if __name__ == "__main__":
    main()

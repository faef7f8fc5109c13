"""Side-by-side benchmark of the attribution methods: interpreto-core vs captum vs interpreto 0.5.2.

Runs every attribution method on the embedded real SST-2 classifier (MiniLM-L6 fine-tuned on
SST-2, :func:`interpreto_core.zoo.sentiment_classifier`) at equal budgets, and prints per
method and library: ms per explanation, forward calls (batched passes), rows (inputs pushed
through the model), peak RSS, and the ratio to the *floor* — the time of the fewest batched
forward (+backward) passes that budget needs, measured in the same process by timing plain
``model(inputs_embeds=..., attention_mask=...)`` passes (and ``autograd.grad`` for gradient
methods) of the same shapes on the same texts, packed by length into ``batch_size`` rows.

Every (library, method) pair runs in a fresh subprocess, so the peak RSS is its own. interpreto
0.5.2 pins nnsight < 0.8 and runs from a separate virtual environment (``--interpreto-python``).

    python bench/bench_attributions.py                       # all methods, all libraries
    python bench/bench_attributions.py --methods lime,integrated_gradients --libs ours,captum
    python bench/bench_attributions.py --markdown docs/table.md --json results.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

METHODS = (
    "occlusion", "lime", "kernel_shap", "sobol", "saliency", "input_x_gradient", "integrated_gradients",
    "smoothgrad", "vargrad", "squaregrad", "gradient_shap",
)
GRADIENT = {"saliency", "input_x_gradient", "integrated_gradients", "smoothgrad", "vargrad", "squaregrad",
            "gradient_shap"}
# Equal budgets for every library.
N_SAMPLES = {"lime": 200, "kernel_shap": 200, "sobol": 16, "smoothgrad": 20, "vargrad": 20, "squaregrad": 20,
             "gradient_shap": 20}
IG_STEPS = 50
NOISE_LEVEL = 0.1  # SmoothGrad / VarGrad / SquareGrad: sigma = 0.1 * (max(x) - min(x))
DEFAULT_INTERPRETO_PYTHON = "/work/bench-venv-interpreto/bin/python"


def rows_per_text(method: str, n_elements: int) -> int:
    """Model rows the method's budget needs for one text with ``n_elements`` words (one target)."""
    m = n_elements
    if method == "occlusion":
        return m + 1
    if method in ("lime",):
        return N_SAMPLES[method]
    if method == "kernel_shap":  # all 2**m coalitions when that is within the budget (exact Shapley values)
        return min(N_SAMPLES[method], 2**m)
    if method == "sobol":
        return N_SAMPLES[method] * (m + 2)
    if method in ("saliency", "input_x_gradient"):
        return 1
    if method == "integrated_gradients":
        return IG_STEPS
    return N_SAMPLES[method]


# -- measurement helpers (used in the workers) -------------------------------------------------------
def rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class CallCounter:
    """Counts forward calls of a module and the rows they carried (forward pre-hook)."""

    def __init__(self, model: Any) -> None:
        self.calls = self.rows = 0
        self.handle = model.register_forward_pre_hook(self._hook, with_kwargs=True)

    def _hook(self, module: Any, args: Any, kwargs: Any) -> None:
        self.calls += 1
        x = kwargs.get("inputs_embeds")
        if x is None:
            x = kwargs.get("input_ids", args[0] if args else None)
        self.rows += int(x.shape[0]) if x is not None else 0

    def reset(self) -> None:
        self.calls = self.rows = 0


def floor_batches(spec: dict[str, Any], batch_size: int) -> list[list[tuple[int, int]]]:
    """The fewest batches: (text, length) rows, texts sorted by length, ``batch_size`` rows each."""
    order = sorted(range(len(spec["lengths"])), key=lambda i: spec["lengths"][i])
    rows = [(i, spec["lengths"][i]) for i in order for _ in range(spec["rows"][i])]
    return [rows[k : k + batch_size] for k in range(0, len(rows), batch_size)]


def time_floor(model: Any, embeds: list[Any], spec: dict[str, Any], batch_size: int, gradient: bool,
               targets: list[int]) -> tuple[float, int]:
    """Seconds for plain batched forward (+ input-gradient) passes of the budget's shapes."""
    import torch

    batches = floor_batches(spec, batch_size)
    hidden = embeds[0].shape[-1]
    prepared = []
    for batch in batches:
        length = max(n for _, n in batch)
        emb = torch.zeros((len(batch), length, hidden))
        mask = torch.zeros((len(batch), length), dtype=torch.long)
        for j, (i, n) in enumerate(batch):
            emb[j, :n] = embeds[i]
            mask[j, :n] = 1
        prepared.append((emb, mask, torch.tensor([targets[i] for i, _ in batch])))
    start = time.perf_counter()
    for emb, mask, tgt in prepared:
        if gradient:
            emb.requires_grad_(True)
            logits = model(inputs_embeds=emb, attention_mask=mask).logits
            torch.autograd.grad(logits.gather(1, tgt[:, None]).sum(), emb)
        else:
            with torch.inference_mode():
                model(inputs_embeds=emb, attention_mask=mask).logits.gather(1, tgt[:, None])
    return time.perf_counter() - start, len(batches)


# -- the three libraries -----------------------------------------------------------------------------
def make_ours(model: Any, tok: Any, method: str, batch_size: int, ctx: dict[str, Any]):
    from interpreto_core import Explainer

    params: dict[str, Any] = {}
    if method in N_SAMPLES:
        params["n_samples"] = N_SAMPLES[method]
    if method == "integrated_gradients":
        params["n_steps"] = IG_STEPS
    explainer = Explainer(model, tok, method=method, granularity="word", batch_size=batch_size, progress=False,
                          **params)

    def run(texts: list[str], targets: list[int]) -> Any:
        out = explainer.explain(texts, targets=targets)
        ctx["engine_forward_calls"] = explainer.forward_calls
        return out

    return run


def make_captum(model: Any, tok: Any, method: str, batch_size: int, ctx: dict[str, Any]):
    """captum on the embeddings: word feature masks for perturbation methods, token x hidden for gradients."""
    import torch
    from captum import attr

    emb_layer = model.get_input_embeddings()
    mask_vec = emb_layer.weight[tok.mask_token_id].detach()

    def f(emb: Any, mask: Any) -> Any:
        return model(inputs_embeds=emb, attention_mask=mask).logits

    def encode(text: str) -> tuple[Any, Any, Any]:
        device = emb_layer.weight.device  # the model's device (the GPU benchmark runs captum there too)
        ids = torch.tensor([ctx["ids"][text]], device=device)
        with torch.no_grad():
            emb = emb_layer(ids)
        return emb, torch.ones_like(ids), torch.tensor(ctx["groups"][text], device=device)

    def per_text(fn):
        def run(texts: list[str], targets: list[int]) -> list[Any]:
            return [fn(text, t) for text, t in zip(texts, targets, strict=True)]

        return run

    def word_base(emb: Any, groups: Any, n_words: int, vec: Any) -> Any:
        is_word = (groups < n_words)[None, :, None]
        return torch.where(is_word, vec.expand_as(emb), emb)

    if method in ("occlusion", "lime", "kernel_shap"):
        cls = {"occlusion": attr.FeatureAblation, "lime": attr.Lime, "kernel_shap": attr.KernelShap}[method]
        if method == "lime":
            from captum._utils.models.linear_model import SkLearnRidge

            explainer = cls(f, interpretable_model=SkLearnRidge(alpha=1.0))
        else:
            explainer = cls(f)

        def one(text: str, target: int) -> Any:
            emb, mask, groups = encode(text)
            n_words = ctx["n_words"][text]
            kwargs: dict[str, Any] = {"perturbations_per_eval": batch_size}
            if method != "occlusion":
                kwargs["n_samples"] = N_SAMPLES[method]
            fm = groups[None, :, None].expand_as(emb).contiguous()
            with torch.no_grad():
                a = explainer.attribute(emb, baselines=word_base(emb, groups, n_words, mask_vec), target=target,
                                        additional_forward_args=(mask,), feature_mask=fm, **kwargs)
            return a[0, :, 0]

        return per_text(one)

    zero = torch.zeros_like(mask_vec)
    if method in ("saliency", "input_x_gradient"):
        cls = attr.Saliency if method == "saliency" else attr.InputXGradient

        def batched(texts: list[str], targets: list[int]) -> Any:
            # one padded batch for all texts (captum's batched use)
            encs = [encode(t) for t in texts]
            length = max(e[0].shape[1] for e in encs)
            emb = torch.zeros((len(texts), length, encs[0][0].shape[2]))
            mask = torch.zeros((len(texts), length), dtype=torch.long)
            for j, (e, _, _) in enumerate(encs):
                emb[j, : e.shape[1]] = e[0]
                mask[j, : e.shape[1]] = 1
            kw = {"abs": False} if method == "saliency" else {}
            a = cls(f).attribute(emb, target=torch.tensor(targets), additional_forward_args=(mask,), **kw)
            return a.sum(-1)

        return batched

    if method == "integrated_gradients":
        ig = attr.IntegratedGradients(f)

        def one(text: str, target: int) -> Any:
            emb, mask, groups = encode(text)
            base = word_base(emb, groups, ctx["n_words"][text], zero)
            a = ig.attribute(emb, baselines=base, target=target, additional_forward_args=(mask,), n_steps=IG_STEPS,
                             method="gausslegendre", internal_batch_size=batch_size)
            return a.sum(-1)

        return per_text(one)

    if method == "gradient_shap":
        gs = attr.GradientShap(f)

        def one(text: str, target: int) -> Any:
            emb, mask, groups = encode(text)
            base = word_base(emb, groups, ctx["n_words"][text], zero)
            a = gs.attribute(emb, baselines=base, target=target, additional_forward_args=(mask,),
                             n_samples=N_SAMPLES[method], stdevs=0.0)
            return a.sum(-1)

        return per_text(one)

    nt_type = {"smoothgrad": "smoothgrad", "vargrad": "vargrad", "squaregrad": "smoothgrad_sq"}[method]
    nt = attr.NoiseTunnel(attr.Saliency(f))

    def one(text: str, target: int) -> Any:
        emb, mask, _ = encode(text)
        sigma = NOISE_LEVEL * float(emb.max() - emb.min())
        a = nt.attribute(emb, nt_type=nt_type, nt_samples=N_SAMPLES[method], nt_samples_batch_size=batch_size,
                         stdevs=sigma, target=target, additional_forward_args=(mask,), abs=False)
        return a.sum(-1)

    return per_text(one)


def make_interpreto(model: Any, tok: Any, method: str, batch_size: int, ctx: dict[str, Any]):
    """interpreto 0.5.2 at word granularity (its default), logits, same budgets."""
    import torch
    from interpreto import attributions as ia
    from interpreto.commons.granularity import Granularity

    common: dict[str, Any] = {"batch_size": batch_size, "granularity": Granularity.WORD}
    if method == "occlusion":
        ex = ia.Occlusion(model, tok, **common)
    elif method in ("lime", "kernel_shap"):
        ex = {"lime": ia.Lime, "kernel_shap": ia.KernelShap}[method](model, tok, n_perturbations=N_SAMPLES[method],
                                                                       **common)
    elif method == "sobol":
        ex = ia.Sobol(model, tok, n_token_perturbations=N_SAMPLES[method], **common)
    elif method in ("saliency", "input_x_gradient"):
        ex = ia.Saliency(model, tok, input_x_gradient=method == "input_x_gradient", **common)
    elif method == "integrated_gradients":
        ex = ia.IntegratedGradients(model, tok, n_perturbations=IG_STEPS, input_x_gradient=True, **common)
    elif method == "gradient_shap":
        ex = ia.GradientShap(model, tok, n_perturbations=N_SAMPLES[method], noise_std=0.0, input_x_gradient=True,
                             **common)
    else:
        cls = {"smoothgrad": ia.SmoothGrad, "vargrad": ia.VarGrad, "squaregrad": ia.SquareGrad}[method]
        ex = cls(model, tok, n_perturbations=N_SAMPLES[method], noise_std=NOISE_LEVEL, input_x_gradient=False,
                 **common)

    def run(texts: list[str], targets: list[int]) -> Any:
        return ex.explain(texts, targets=torch.tensor(targets)[:, None])

    return run


MAKERS = {"ours": make_ours, "captum": make_captum, "interpreto": make_interpreto}


def worker(args: argparse.Namespace) -> None:
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    torch.set_num_threads(args.threads)
    spec = json.loads(Path(args.spec).read_text())
    method, lib = args.method, args.lib
    if lib == "ours":
        sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    tok = AutoTokenizer.from_pretrained(spec["model"])
    model = AutoModelForSequenceClassification.from_pretrained(spec["model"]).eval()
    for p in model.parameters():
        p.requires_grad_(False)
    texts, targets = spec["texts"], spec["targets"]
    ctx = {"ids": dict(zip(texts, spec["ids"], strict=True)),
           "groups": dict(zip(texts, spec["groups"], strict=True)),
           "n_words": dict(zip(texts, spec["n_words"], strict=True))}
    emb_layer = model.get_input_embeddings()
    with torch.no_grad():
        embeds = [emb_layer(torch.tensor([ids]))[0] for ids in spec["ids"]]
    floor_spec = {"lengths": [len(i) for i in spec["ids"]], "rows": [rows_per_text(method, n) for n in spec["n_words"]]}
    rss_loaded = rss_mb()
    run = MAKERS[lib](model, tok, method, args.batch_size, ctx)
    run(texts[:2], targets[:2])  # warm-up
    counter = CallCounter(model)
    times, floors = [], []
    gradient = method in GRADIENT
    for rep in range(args.repeat):
        counter.handle.remove()
        t, n_floor = time_floor(model, embeds, floor_spec, args.batch_size, gradient, targets)
        floors.append(t)
        counter = CallCounter(model)
        start = time.perf_counter()
        run(texts, targets)
        times.append(time.perf_counter() - start)
        if rep == 0:
            calls, rows = counter.calls, counter.rows
    counter.handle.remove()
    t, _ = time_floor(model, embeds, floor_spec, args.batch_size, gradient, targets)
    floors.append(t)
    out = {
        "lib": lib, "method": method, "ms_per_text": 1000 * min(times) / len(texts),
        "floor_ms_per_text": 1000 * min(floors) / len(texts), "floor_passes": n_floor,
        "floor_rows": sum(floor_spec["rows"]), "forward_calls": calls, "rows": rows,
        "engine_forward_calls": ctx.get("engine_forward_calls"), "peak_rss_mb": peak_rss_mb(),
        "rss_loaded_mb": rss_loaded, "times_s": times, "floors_s": floors,
    }
    out["ratio_to_floor"] = out["ms_per_text"] / out["floor_ms_per_text"]
    print("RESULT " + json.dumps(out))


# -- driver ------------------------------------------------------------------------------------------
def build_spec(n_texts: int, path: Path) -> dict[str, Any]:
    from interpreto_core.zoo import SENTIMENT_RECIPE, cache_root, load_sst2, sentiment_classifier

    model, tok = sentiment_classifier()
    texts = [t for t, _ in load_sst2(split="dev")[:n_texts]]
    spec = {"model": str(cache_root() / SENTIMENT_RECIPE["name"]), **text_spec(model, tok, texts)}
    path.write_text(json.dumps(spec))
    return spec


def text_spec(model: Any, tok: Any, texts: list[str]) -> dict[str, Any]:
    """Token ids, word groups (special tokens in groups of their own) and predicted classes of ``texts``."""
    import torch

    from interpreto_core import ModelAdapter

    adapter = ModelAdapter(model, tok)
    ids, groups, n_words = [], [], []
    for text in texts:
        enc = adapter.encode(text)
        elements = enc.elements("word")
        g = [-1] * len(enc.input_ids)
        for e, toks in enumerate(elements.token_groups):
            for t in toks:
                g[t] = e
        n = len(elements)
        extra = n
        for t, v in enumerate(g):  # special tokens: groups of their own after the words (baseline = themselves)
            if v == -1:
                g[t], extra = extra, extra + 1
        ids.append(list(enc.input_ids))
        groups.append(g)
        n_words.append(n)
    with torch.no_grad():
        targets = adapter.predict(ids).argmax(1).tolist()
    return {"texts": texts, "ids": ids, "groups": groups, "n_words": n_words, "targets": targets}


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return (f"{cpu}, {os.cpu_count()} cores, {mem:.0f} GiB RAM, {platform.system()} {platform.release()}, "
            f"Python {platform.python_version()}")


def versions(python: str) -> dict[str, str]:
    code = ("import importlib.metadata as m, json; out={}\n"
            "for d in ('torch','transformers','captum','interpreto','interpreto-core','nnsight'):\n"
            "  try: out[d]=m.version(d)\n  except Exception: pass\nprint(json.dumps(out))")
    done = subprocess.run([python, "-c", code], capture_output=True, text=True, check=False)
    return json.loads(done.stdout) if done.returncode == 0 else {}


def fmt_table(results: list[dict[str, Any]], libs: list[str]) -> str:
    by = {(r["method"], r["lib"]): r for r in results}
    head = ["method", "floor ms (passes)"]
    for lib in libs:
        head += [f"{lib} ms", f"{lib} ×floor", f"{lib} fwd (rows)", f"{lib} peak MB"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for method in dict.fromkeys(r["method"] for r in results):
        any_r = next(by[(method, lib)] for lib in libs if (method, lib) in by)
        row = [method, f"{any_r['floor_ms_per_text']:.1f} ({any_r['floor_passes']})"]
        for lib in libs:
            r = by.get((method, lib))
            if r is None:
                row += ["—"] * 4
            elif "error" in r:
                row += ["error", "", "", ""]
            else:
                row += [f"{r['ms_per_text']:.1f}", f"{r['ratio_to_floor']:.2f}", f"{r['forward_calls']} ({r['rows']})",
                        f"{r['peak_rss_mb']:.0f}"]
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--methods", default=",".join(METHODS))
    ap.add_argument("--libs", default="ours,captum,interpreto")
    ap.add_argument("--texts", type=int, default=20, help="SST-2 dev sentences explained (default 20)")
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=2, help="timed runs per method (the fastest is kept)")
    ap.add_argument("--interpreto-python", default=os.environ.get("INTERPRETO_BENCH_PYTHON", DEFAULT_INTERPRETO_PYTHON))
    ap.add_argument("--json", help="write all results to this JSON file")
    ap.add_argument("--markdown", help="write the table to this Markdown file")
    ap.add_argument("--worker", nargs=2, metavar=("LIB", "METHOD"), help=argparse.SUPPRESS)
    ap.add_argument("--spec", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        args.lib, args.method = args.worker
        worker(args)
        return
    import tempfile

    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    libs = [x.strip() for x in args.libs.split(",") if x.strip()]
    if "interpreto" in libs and not Path(args.interpreto_python).exists():
        print(f"interpreto 0.5.2 venv not found at {args.interpreto_python}: skipping it", file=sys.stderr)
        libs.remove("interpreto")
    spec_path = Path(tempfile.mkdtemp(prefix="bench-attr-")) / "spec.json"
    spec = build_spec(args.texts, spec_path)
    n_words = spec["n_words"]
    print(f"{len(spec['texts'])} SST-2 dev sentences, {sum(n_words) / len(n_words):.1f} words and "
          f"{sum(map(len, spec['ids'])) / len(n_words):.1f} tokens on average; batch {args.batch_size}, "
          f"{args.threads} threads", file=sys.stderr)
    results = []
    for method in methods:
        for lib in libs:
            if lib == "captum" and method == "sobol":
                continue  # captum has no Sobol attribution
            python = args.interpreto_python if lib == "interpreto" else sys.executable
            cmd = [python, __file__, "--worker", lib, method, "--spec", str(spec_path), "--batch-size",
                   str(args.batch_size), "--threads", str(args.threads), "--repeat", str(args.repeat)]
            env = {**os.environ, "TOKENIZERS_PARALLELISM": "false", "PYTHONWARNINGS": "ignore"}
            done = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
            line = next((x for x in done.stdout.splitlines() if x.startswith("RESULT ")), None)
            if line is None:
                r = {"lib": lib, "method": method, "error": done.stderr.strip()[-1500:]}
                print(f"{method:22s} {lib:10s} ERROR\n{r['error']}", file=sys.stderr)
            else:
                r = json.loads(line[len("RESULT "):])
                print(f"{method:22s} {lib:10s} {r['ms_per_text']:9.1f} ms/text  x{r['ratio_to_floor']:.2f} floor "
                      f"({r['floor_ms_per_text']:.1f} ms, {r['floor_passes']} passes)  {r['forward_calls']:5d} fwd "
                      f"{r['rows']:6d} rows  peak {r['peak_rss_mb']:.0f} MB", file=sys.stderr)
            results.append(r)
    table = fmt_table(results, libs)
    print(table)
    meta = {"machine": machine(), "versions": {"main": versions(sys.executable)}, "command": " ".join(sys.argv),
            "texts": len(spec["texts"]), "batch_size": args.batch_size, "threads": args.threads}
    if "interpreto" in libs:
        meta["versions"]["interpreto_venv"] = versions(args.interpreto_python)
    if args.json:
        Path(args.json).write_text(json.dumps({"meta": meta, "results": results}, indent=2))
    if args.markdown:
        Path(args.markdown).write_text(table + "\n")
    print(json.dumps(meta), file=sys.stderr)


if __name__ == "__main__":
    main()

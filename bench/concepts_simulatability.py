"""Held-out tests of concept explanations on a real classifier: simulatability and concept deletion.

The explained model: the zoo's MiniLM-L6 fine-tuned on SST-2 (``interpreto_core.zoo.sentiment_classifier``,
cached). SST-2 dev sentences, split once (seed 0) into ``--n-explain`` explanation texts and
``--n-heldout`` held-out texts. Each learner (NMF ``signed="shift"``, PCA, TopK SAE; ``--n-concepts``)
is fitted on the token activations of the *explanation* texts only, at ``--layer``; then

* ``concept_simulatability`` (logistic simulator; all codes and the top 3 per text; with the concepts'
  top-8 words reader) against random directions / random units / all units / the majority output;
* ``concept_deletion`` (k = 3, 10 random draws).

``--llm`` also asks SmolLM2-135M-Instruct (``zoo.causal_lm()``, cached, offline) to be the simulator,
ConSim-style: a few-shot prompt of explanation texts with the classifier's output (and, per condition,
the concepts present in each text, by their top words), then for each of ``--llm-texts`` held-out texts
the log-probability of " positive" vs " negative" after "Output:" — one forward pass per held-out text
over the cached few-shot prefix (no generation). Conditions: no concepts, the NMF concepts present,
random concepts, the concepts without the review.

``--lm-library`` runs the library's ``concept_simulatability_lm`` instead (NMF only; the prompts
texts only / with their concepts / with random concepts), to ``..._lm.json``.

Process CPU time, one torch thread. Results: bench/results/concepts_simulatability[_layerN][_lm].json.

    OMP_NUM_THREADS=1 nice -n 10 python bench/concepts_simulatability.py --llm
    OMP_NUM_THREADS=1 nice -n 10 python bench/concepts_simulatability.py --layer 2
    OMP_NUM_THREADS=1 nice -n 10 python bench/concepts_simulatability.py --lm-library
"""

from __future__ import annotations

import argparse
import copy
import json
import time
from pathlib import Path


def _auc(scores, labels) -> float:
    """Area under the ROC curve of ``scores`` for binary ``labels`` (ties count half)."""
    import numpy as np

    s, y = np.asarray(scores, dtype=float), np.asarray(labels).astype(bool)
    pos, neg = s[y], s[~y]
    if not len(pos) or not len(neg):
        return float("nan")
    greater = (pos[:, None] > neg[None]).sum() + 0.5 * (pos[:, None] == neg[None]).sum()
    return float(greater / (len(pos) * len(neg)))


def llm_simulator(split, nmf, acts, explain, held, y_explain, y_held, *, n_shots, n_texts, seed):
    import numpy as np
    import torch

    from interpreto_core.concepts import ConceptModel, interpret_concepts
    from interpreto_core.zoo import causal_lm

    cpu = time.process_time()
    lm, tok = causal_lm(progress=False)
    load_seconds = time.process_time() - cpu
    found = interpret_concepts(nmf, activations=acts, k=4, aggregate="mean", min_count=3)
    names = [", ".join(w for w, _ in f.words[:4]) for f in found]
    cm = ConceptModel(split, nmf, pooling="mean")

    def pooled(texts):
        out = []
        with torch.no_grad():
            for i in range(0, len(texts), 32):
                enc = split.tokenizer(texts[i : i + 32], return_tensors="pt", padding=True, truncation=True)
                out.append(cm(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"]).logits)
        return torch.cat(out).numpy()

    rng = np.random.default_rng(seed)
    pos = [i for i, y in enumerate(y_explain) if y == 1][: n_shots // 2]
    neg = [i for i, y in enumerate(y_explain) if y == 0][: n_shots // 2]
    shots = [i for pair in zip(pos, neg, strict=False) for i in pair]
    test = list(range(min(n_texts, len(held))))
    shot_codes, test_codes = pooled([explain[i] for i in shots]), pooled([held[i] for i in test])
    n_c = shot_codes.shape[1]
    shot_random = [rng.choice(n_c, 3, replace=False) for _ in shots]
    test_random = [rng.choice(n_c, 3, replace=False) for _ in test]
    word = {0: "negative", 1: "positive"}

    def concepts_line(codes, chosen=None):
        top = np.argsort(-codes)[:3] if chosen is None else chosen
        return "Concepts detected: " + "; ".join(f"({names[c]})" for c in top)

    def example(text, concepts, show_text=True):
        lines = [f"Review: {text}"] if show_text else []
        if concepts is not None:
            lines.append(concepts)
        return "\n".join(lines) + "\nOutput:"

    intro = "A sentiment classifier reads movie reviews and outputs positive or negative.\n\n"
    conditions = {
        "no concepts": (lambda j, codes, rnd: None, True),
        "concepts": (lambda j, codes, rnd: concepts_line(codes), True),
        "random concepts": (lambda j, codes, rnd: concepts_line(codes, rnd), True),
        "concepts, no review": (lambda j, codes, rnd: concepts_line(codes), False),
    }
    pos_id = tok(" positive", add_special_tokens=False).input_ids[0]
    neg_id = tok(" negative", add_special_tokens=False).input_ids[0]
    y_test = np.array([y_held[i] for i in test])
    results = {}
    for name, (line, show) in conditions.items():
        cpu = time.process_time()
        prefix = (
            intro
            + "\n\n".join(
                example(explain[i], line(j, shot_codes[j], shot_random[j]), show) + f" {word[y_explain[i]]}"
                for j, i in enumerate(shots)
            )
            + "\n\n"
        )
        prefix_ids = tok(prefix, return_tensors="pt", add_special_tokens=False).input_ids
        with torch.no_grad():
            cache = lm(input_ids=prefix_ids, use_cache=True).past_key_values
            margins = []
            for j, i in enumerate(test):
                ids = tok(
                    example(held[i], line(j, test_codes[j], test_random[j]), show),
                    return_tensors="pt",
                    add_special_tokens=False,
                ).input_ids
                out = lm(input_ids=ids, past_key_values=copy.deepcopy(cache), use_cache=True)
                logp = out.logits[0, -1].log_softmax(-1)
                margins.append(float(logp[pos_id] - logp[neg_id]))
        margins = np.array(margins)
        results[name] = {
            "accuracy": float(((margins > 0).astype(int) == y_test).mean()),
            "auc": _auc(margins, y_test),
            "share_said_positive": float((margins > 0).mean()),
            "prefix_tokens": int(prefix_ids.shape[1]),
            "cpu_seconds": round(time.process_time() - cpu, 1),
        }
        print(f"LLM simulator, {name}: {results[name]}", flush=True)
    majority = float((y_test == (1 if sum(y_explain) * 2 >= len(y_explain) else 0)).mean())
    return {
        "n_texts": len(test),
        "n_shots": len(shots),
        "load_cpu_seconds": round(load_seconds, 1),
        "majority": majority,
        "concept_names": names,
        "conditions": results,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--layer", type=int, default=-1)
    ap.add_argument("--n-concepts", type=int, default=20)
    ap.add_argument("--n-explain", type=int, default=400)
    ap.add_argument("--n-heldout", type=int, default=400)
    ap.add_argument("--learners", nargs="+", default=["nmf", "pca", "topk_sae"])
    ap.add_argument("--llm", action="store_true", help="also measure SmolLM2-135M as the simulator")
    ap.add_argument(
        "--lm-library",
        action="store_true",
        help="only NMF and concept_simulatability_lm (the library's LM simulator); to ..._lm.json",
    )
    ap.add_argument("--llm-texts", type=int, default=60)
    ap.add_argument("--llm-shots", type=int, default=8)
    ap.add_argument("--out", default=None, help="default bench/results/concepts_simulatability[_layerN].json")
    args = ap.parse_args()
    suffix = ("" if args.layer == -1 else f"_layer{args.layer}") + ("_lm" if args.lm_library else "")
    args.out = args.out or f"bench/results/concepts_simulatability{suffix}.json"

    import numpy as np
    import torch

    from interpreto_core.concepts import (
        SplitModel,
        concept_deletion,
        concept_simulatability,
        interpret_concepts,
        make_learner,
    )
    from interpreto_core.zoo import load_sst2, sentiment_classifier

    torch.set_num_threads(1)
    model, tok = sentiment_classifier(progress=False)
    data = load_sst2(split="dev")
    order = np.random.default_rng(0).permutation(len(data))
    explain = [data[i][0] for i in order[: args.n_explain]]
    held = [data[i][0] for i in order[args.n_explain : args.n_explain + args.n_heldout]]
    split = SplitModel(model, tok, split_points=args.layer)
    cpu = time.process_time()
    acts = split.collect(explain, granularity="token", batch_size=32, progress=False)
    collect_seconds = time.process_time() - cpu
    print(acts.summary(), f"({collect_seconds:.1f} s CPU)", flush=True)
    params = {"nmf": {"signed": "shift"}, "pca": {}, "topk_sae": {"top_k": 4, "epochs": 20}}
    results = {
        "model": "zoo.sentiment_classifier (MiniLM-L6, SST-2)",
        "split_point": split.point_name(None),
        "n_explain": len(explain),
        "n_heldout": len(held),
        "rows": len(acts),
        "n_concepts": args.n_concepts,
        "collect_cpu_seconds": round(collect_seconds, 1),
        "learners": {},
    }
    if args.lm_library:
        from interpreto_core.concepts import concept_simulatability_lm

        cpu = time.process_time()
        nmf = make_learner("nmf", n_concepts=args.n_concepts, signed="shift").fit(acts, progress=False)
        fit_seconds = time.process_time() - cpu
        words = interpret_concepts(nmf, activations=acts, k=4, aggregate="mean", min_count=3)
        lm = concept_simulatability_lm(
            split,
            nmf,
            explain,
            eval_texts=held,
            interpretations=words,
            n_shots=args.llm_shots,
            max_heldout=args.llm_texts,
            task="A sentiment classifier reads movie reviews and outputs positive or negative.",
        )
        results["nmf_fit_cpu_seconds"] = round(fit_seconds, 1)
        results["concept_names"] = [", ".join(w for w, _ in f.words[:4]) for f in words]
        results["lm_simulator"] = lm.to_json()
        results["lm_simulator"].pop("heldout_index")
        print(lm, f"\n({lm.seconds:.1f} s CPU with the SmolLM2 load)", flush=True)
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(results, indent=1) + "\n")
        return
    fitted = {}
    for name in args.learners:
        cpu = time.process_time()
        learner = make_learner(name, n_concepts=args.n_concepts, **params.get(name, {})).fit(acts, progress=False)
        fit_seconds = time.process_time() - cpu
        fitted[name] = learner
        words = interpret_concepts(learner, activations=acts, k=8, aggregate="mean", min_count=3)
        cpu = time.process_time()
        sim = concept_simulatability(split, learner, explain, eval_texts=held, interpretations=words)
        sim_seconds = time.process_time() - cpu
        sim3 = concept_simulatability(split, learner, explain, eval_texts=held, top_k=3)
        sim1 = concept_simulatability(split, learner, explain, eval_texts=held, top_k=1)
        cpu = time.process_time()
        dele = concept_deletion(split, learner, explain, eval_texts=held, k=3)
        del_seconds = time.process_time() - cpu
        results["learners"][name] = {
            "params": learner.params(),
            "fit_cpu_seconds": round(fit_seconds, 1),
            "simulatability": sim.to_json() | {"cpu_seconds": round(sim_seconds, 1)},
            "simulatability_top3": sim3.to_json(),
            "simulatability_top1": sim1.to_json(),
            "deletion": dele.to_json() | {"cpu_seconds": round(del_seconds, 1)},
        }
        for key in ("train_index", "heldout_index", "outputs", "simulated"):
            results["learners"][name]["simulatability"].pop(key)
            results["learners"][name]["simulatability_top3"].pop(key)
            results["learners"][name]["simulatability_top1"].pop(key)
        for key in ("train_index", "heldout_index"):
            results["learners"][name]["deletion"].pop(key)
        print(
            f"== {name} (fit {fit_seconds:.1f} s CPU, simulatability {sim_seconds:.1f} s, deletion "
            f"{del_seconds:.1f} s)\n{sim}\n{sim3}\n{sim1}\n{dele}",
            flush=True,
        )
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(results, indent=1) + "\n")
    if args.llm:
        y_all = concept_simulatability(split, fitted["nmf"], explain, eval_texts=held, n_random=1)
        y_held = list(y_all.outputs)
        y_explain = [int(v) for v in predict(model, tok, explain)]
        results["llm_simulator"] = llm_simulator(
            split,
            fitted["nmf"],
            acts,
            explain,
            held,
            y_explain,
            y_held,
            n_shots=args.llm_shots,
            n_texts=args.llm_texts,
            seed=0,
        )
        Path(args.out).write_text(json.dumps(results, indent=1) + "\n")


def predict(model, tok, texts):
    import torch

    out = []
    with torch.no_grad():
        for i in range(0, len(texts), 32):
            enc = tok(texts[i : i + 32], return_tensors="pt", padding=True, truncation=True)
            out.extend(model(**enc).logits.argmax(-1).tolist())
    return out


if __name__ == "__main__":
    main()

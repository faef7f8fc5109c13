"""Held-out tests of a concept explanation: simulatability and concept deletion.

:func:`concept_simulatability` (ConSim-style; Poché et al., *ConSim: Measuring concept-based
explanations' effectiveness with automated simulatability*, 2025). A *simulator* learns, on the
explanation split of the texts, to predict the explained model's output ``y(x)`` from the
explanation only — the concept codes of ``x``, pooled over its tokens, ``s(x) = pool_p
encode(h_p(x))`` (or the ``top_k`` strongest of them) — and is scored on held-out texts:

    accuracy = 1/|T| sum_{x in T} [sim(s(x)) = y(x)]          T: held-out texts

The simulator is transparent and deterministic (standardised multinomial logistic regression, or
the nearest class centroid). The same simulator, on the same texts, reads the baselines: nothing
(the majority output of the explanation split), ``C`` random directions ``h . r`` and ``C`` random
hidden units (``n_random`` draws each, same pooling and ``top_k``), every hidden unit (what the
layer lets a linear reader do: a ceiling for a linear dictionary), and — with ``interpretations=``
— the concepts as a user reads them: per concept, how many of its top words the text contains.

:func:`concept_deletion`. The ``k`` concepts most important on the explanation split
(:func:`concept_importance`, mean ``|gradient x activation|``) are removed from the held-out texts
in the bottleneck, ``h' = h - decode(z) + decode(z with z_S = 0)``, and the drop of the model's score
for its own prediction (and how often the prediction flips) is compared with removing ``k`` random
concepts. Both tests read texts the explanation was not computed on.

:func:`concept_simulatability_lm` is ConSim proper: a causal LM (default the local
SmolLM2-135M-Instruct) reads a few-shot prompt of explanation texts with the classifier's outputs —
alone, with each text's top concepts named by their words, or with random concepts — and its
answer on each held-out text is the class label with the highest next-token log-probability.
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from typing import Any

import attrs
import numpy as np
import torch

from .._blocks import hidden_of, with_hidden
from .._errors import InputError
from ._split import SplitModel

__all__ = [
    "ConceptDeletion",
    "LMSimulatability",
    "Simulatability",
    "concept_deletion",
    "concept_simulatability",
    "concept_simulatability_lm",
]

SIMULATORS = ("logistic", "centroid")
_WORD = re.compile(r"\w+", re.UNICODE)


def _mean_std(values: Sequence[float]) -> tuple[float, float]:
    arr = np.asarray(values, dtype=np.float64)
    return float(arr.mean()), float(arr.std(ddof=1)) if len(arr) > 1 else 0.0


@attrs.frozen(kw_only=True, eq=False)
class Simulatability:
    """Held-out accuracy of a simulator predicting the model's outputs from concept explanations.

    ``accuracy``: the simulator reading the concepts; ``no_explanation``: the majority output of
    the explanation split; ``random_directions`` / ``random_neurons``: the same simulator on ``C``
    random directions / hidden units (mean over ``n_random`` draws, with ``*_std``); ``all_units``:
    on every hidden unit; ``concept_words``: on the counts of each concept's top words in the text
    (None without ``interpretations``). ``gain = accuracy - no_explanation``, ``over_random =
    accuracy - random_directions``.
    """

    accuracy: float
    no_explanation: float
    random_directions: float
    random_directions_std: float
    random_neurons: float
    random_neurons_std: float
    all_units: float
    concept_words: float | None
    n_train: int
    n_heldout: int
    n_concepts: int
    n_outputs: int
    top_k: int | None
    simulator: str
    pooling: str
    n_random: int
    split_point: str
    seconds: float
    train_index: tuple[int, ...] = attrs.field(repr=False)
    heldout_index: tuple[int, ...] = attrs.field(repr=False)
    outputs: tuple[int, ...] = attrs.field(repr=False)
    simulated: tuple[int, ...] = attrs.field(repr=False)
    #: the pooled concept codes the simulator read, one row per text (``texts`` then ``eval_texts``)
    codes: np.ndarray | None = attrs.field(repr=False, default=None)

    @property
    def gain(self) -> float:
        return self.accuracy - self.no_explanation

    @property
    def over_random(self) -> float:
        return self.accuracy - self.random_directions

    def table(self) -> list[dict[str, Any]]:
        """One row per reader: ``{"reads": ..., "accuracy": ..., "std": ...}``."""
        rows: list[dict[str, Any]] = [
            {"reads": "concepts", "accuracy": self.accuracy, "std": None},
            {"reads": "nothing (majority output)", "accuracy": self.no_explanation, "std": None},
            {
                "reads": f"{self.n_concepts} random directions",
                "accuracy": self.random_directions,
                "std": self.random_directions_std,
            },
            {
                "reads": f"{self.n_concepts} random units",
                "accuracy": self.random_neurons,
                "std": self.random_neurons_std,
            },
            {"reads": "all hidden units", "accuracy": self.all_units, "std": None},
        ]
        if self.concept_words is not None:
            rows.append({"reads": "the concepts' top words in the text", "accuracy": self.concept_words, "std": None})
        return rows

    def to_json(self) -> dict[str, Any]:
        out = {f.name: getattr(self, f.name) for f in attrs.fields(type(self)) if f.name != "codes"}
        for key in ("train_index", "heldout_index", "outputs", "simulated"):
            out[key] = list(out[key])
        return out | {"gain": self.gain, "over_random": self.over_random}

    def _caption(self) -> str:
        top = "all codes" if self.top_k is None else f"top {self.top_k} codes"
        return (
            f"simulatability at {self.split_point}: {self.simulator} simulator, {top} ({self.pooling}-pooled), "
            f"{self.n_train} explanation / {self.n_heldout} held-out texts, {self.n_outputs} outputs"
        )

    def to_markdown(self) -> str:
        lines = [self._caption(), "", "| simulator reads | held-out accuracy |", "|---|---|"]
        for row in self.table():
            std = "" if row["std"] is None else f" ± {row['std']:.3f}"
            lines.append(f"| {row['reads']} | {row['accuracy']:.3f}{std} |")
        lines.append(f"\ngain over no explanation {self.gain:+.3f}, over random directions {self.over_random:+.3f}")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.to_markdown()

    def _repr_html_(self) -> str:
        from .._safe_text import html_text as e

        rows = "".join(
            f"<tr><td>{e(r['reads'])}</td><td>{e(format(r['accuracy'], '.3f'))}"
            f"{'' if r['std'] is None else ' ± ' + e(format(r['std'], '.3f'))}</td></tr>"
            for r in self.table()
        )
        return (
            f'<table class="itp-table"><caption>{e(self._caption())}; gain {e(format(self.gain, "+.3f"))}, '
            f"over random {e(format(self.over_random, '+.3f'))}</caption><tr><th>simulator reads</th>"
            f"<th>held-out accuracy</th></tr>{rows}</table>"
        )


@attrs.frozen(kw_only=True, eq=False)
class ConceptDeletion:
    """Effect on held-out texts of removing the ``k`` most important concepts vs ``k`` random ones.

    ``score_drop``: mean over held-out texts of ``f_y(x) - f_y(x without the concepts)`` for the
    model's own prediction ``y`` (a logit, or a log-probability for causal LMs); ``flip_rate``:
    fraction of held-out predictions that change. ``random_*``: the same for ``k`` random concepts
    (mean and std over ``n_random`` draws). ``ratio = score_drop / random_drop``.
    """

    concepts: tuple[int, ...]
    k: int
    score_drop: float
    flip_rate: float
    random_drop: float
    random_drop_std: float
    random_flip_rate: float
    random_flip_rate_std: float
    n_train: int
    n_heldout: int
    n_concepts: int
    n_random: int
    split_point: str
    seconds: float
    train_index: tuple[int, ...] = attrs.field(repr=False)
    heldout_index: tuple[int, ...] = attrs.field(repr=False)

    @property
    def ratio(self) -> float:
        return self.score_drop / self.random_drop if self.random_drop != 0 else float("inf")

    def table(self) -> list[dict[str, Any]]:
        return [
            {
                "removed": f"top {self.k} concepts {list(self.concepts)}",
                "score_drop": self.score_drop,
                "flip_rate": self.flip_rate,
                "std": None,
            },
            {
                "removed": f"{self.k} random concepts",
                "score_drop": self.random_drop,
                "flip_rate": self.random_flip_rate,
                "std": (self.random_drop_std, self.random_flip_rate_std),
            },
        ]

    def to_json(self) -> dict[str, Any]:
        out = {f.name: getattr(self, f.name) for f in attrs.fields(type(self))}
        for key in ("concepts", "train_index", "heldout_index"):
            out[key] = list(out[key])
        return out | {"ratio": self.ratio}

    def _caption(self) -> str:
        return (
            f"concept deletion at {self.split_point}: {self.n_heldout} held-out texts, importance from "
            f"{self.n_train} explanation texts, {self.n_random} random draws"
        )

    def to_markdown(self) -> str:
        return "\n".join(
            [
                self._caption(),
                "",
                "| removed | score drop | prediction flips |",
                "|---|---|---|",
                f"| top {self.k} concepts {list(self.concepts)} | {self.score_drop:.3f} | {self.flip_rate:.3f} |",
                f"| {self.k} random concepts | {self.random_drop:.3f} ± {self.random_drop_std:.3f} | "
                f"{self.random_flip_rate:.3f} ± {self.random_flip_rate_std:.3f} |",
            ]
        )

    def __str__(self) -> str:
        return self.to_markdown()

    def _repr_html_(self) -> str:
        from .._safe_text import html_text as e

        def num(x: float) -> str:
            return e(format(x, ".3f"))

        return (
            f'<table class="itp-table"><caption>{e(self._caption())}</caption><tr><th>removed</th>'
            f"<th>score drop</th><th>prediction flips</th></tr>"
            f"<tr><td>{e(f'top {self.k} concepts {list(self.concepts)}')}</td><td>{num(self.score_drop)}</td>"
            f"<td>{num(self.flip_rate)}</td></tr><tr><td>{e(f'{self.k} random concepts')}</td>"
            f"<td>{num(self.random_drop)} ± {num(self.random_drop_std)}</td>"
            f"<td>{num(self.random_flip_rate)} ± {num(self.random_flip_rate_std)}</td></tr></table>"
        )


# -- shared pieces ---------------------------------------------------------------------------------
def _check_texts(texts: Any, name: str) -> list[str]:
    if isinstance(texts, str):
        raise InputError(f"{name} must be a list of texts, got one string: wrap it in a list")
    texts = list(texts)
    if not texts:
        raise InputError(f"{name} is empty: give at least 2 texts")
    bad = [i for i, t in enumerate(texts) if not isinstance(t, str) or not t.strip()]
    if bad:
        raise InputError(f"{name} must be non-empty strings; items {bad[:5]} are not")
    return texts


def _split_texts(
    texts: Sequence[str], eval_texts: Sequence[str] | None, heldout: float, seed: int
) -> tuple[list[str], list[int], list[int]]:
    """All texts (explanation texts first when ``eval_texts`` is given), the explanation and held-out
    indices. A random split is drawn over *distinct* texts, so a repeated text is never on both sides."""
    texts = _check_texts(texts, "texts")
    if eval_texts is not None:
        held = _check_texts(eval_texts, "eval_texts")
        common = sorted(set(texts) & set(held))
        if common:
            raise InputError(
                f"{len(common)} held-out text(s) are also explanation texts (e.g. {common[0][:60]!r}): "
                "held-out texts must be new"
            )
        if len(texts) < 2:
            raise InputError(f"need at least 2 explanation texts, got {len(texts)}")
        everything = texts + held
        return everything, list(range(len(texts))), list(range(len(texts), len(everything)))
    if not 0 < heldout < 1:
        raise InputError(f"heldout must be a fraction in (0, 1), got {heldout!r}")
    distinct = list(dict.fromkeys(texts))
    n_held = int(round(heldout * len(distinct)))
    if n_held < 1 or len(distinct) - n_held < 2:
        raise InputError(
            f"{len(distinct)} distinct texts cannot be split into >= 2 explanation and >= 1 held-out "
            f"texts with heldout={heldout}: give more texts"
        )
    order = np.random.default_rng(seed).permutation(len(distinct))
    held_set = {distinct[i] for i in order[:n_held]}
    train = [i for i, t in enumerate(texts) if t not in held_set]
    held_idx = [i for i, t in enumerate(texts) if t in held_set]
    return texts, train, held_idx


def _output_logits(split: SplitModel, output: Any, mask: torch.Tensor) -> torch.Tensor:
    logits = getattr(output, "logits", None)
    if logits is None:
        raise InputError(f"{type(split.model).__name__} has no logits: these tests need a classifier or a causal LM")
    if split.kind == "causal_lm":
        last = mask.sum(1) - 1
        logits = logits[torch.arange(len(last), device=logits.device), last.to(logits.device)].log_softmax(-1)
    return logits.float()


def _kept_tokens(rule: Any, h: torch.Tensor, mask: torch.Tensor, encodings: Sequence[Any]) -> torch.Tensor:
    """``(B, L)`` bool: each text's real tokens, less the positions the learner's activation hygiene
    leaves out (``rule.excluded``, as :func:`concept_importance`: every position is a candidate).
    ``encodings`` has one encoding per row of ``h`` (repeated for repeated rows)."""
    keep = mask.bool().clone()
    if rule is None or (rule.factor is None and rule.exclude_description is None):
        return keep
    from ._activations import reference_positions

    norms = h.detach().float().norm(dim=-1).cpu().numpy()
    for j, enc in enumerate(encodings):
        n = len(enc.input_ids)
        gone = rule.excluded(norms[j, :n], reference_positions(enc), list(enc.tokens), np.arange(n))
        if gone:
            keep[j, torch.tensor(sorted(gone), device=keep.device)] = False
    return keep


def _pool(values: torch.Tensor, keep: torch.Tensor, pooling: str) -> torch.Tensor:
    w = keep.to(values.dtype)[:, :, None]
    if pooling == "max":
        return values.masked_fill(w == 0, -torch.inf).amax(1)
    pooled = (values * w).sum(1)
    return pooled / w.sum(1).clamp_min(1) if pooling == "mean" else pooled


def _choose(logits: torch.Tensor, candidates: Sequence[int] | None) -> torch.Tensor:
    if candidates is None:
        return logits.argmax(-1)
    ids = torch.as_tensor(list(candidates), device=logits.device)
    return ids[logits[:, ids].argmax(-1)]


def _check_common(split: Any, learner: Any, pooling: str, candidates: Sequence[int] | None) -> int:
    if not isinstance(split, SplitModel):
        raise InputError(f"split must be a SplitModel, got {type(split).__name__}")
    if not getattr(learner, "fitted", False):
        raise InputError("the learner is not fitted: call learner.fit(activations) first")
    if pooling not in ("mean", "max", "sum"):
        raise InputError(f"unknown pooling {pooling!r}; choose mean, max or sum")
    if candidates is not None and len(list(candidates)) < 2:
        raise InputError("candidates must list at least 2 output ids (classes or tokens) to choose between")
    if learner.device != split.adapter.device:
        learner.to(split.adapter.device)
    return int(learner.dictionary.shape[0])


# -- simulatability --------------------------------------------------------------------------------
def _sparsify(features: np.ndarray, top_k: int | None) -> np.ndarray:
    """Keep, per row, the ``top_k`` entries of largest magnitude (the concepts an explanation shows)."""
    if top_k is None or top_k >= features.shape[-1]:
        return features
    order = np.argsort(-np.abs(features), axis=-1)[..., :top_k]
    out = np.zeros_like(features)
    np.put_along_axis(out, order, np.take_along_axis(features, order, axis=-1), axis=-1)
    return out


def _simulate(simulator: str, x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray) -> np.ndarray:
    """Fit the transparent simulator on the explanation split; predict the held-out outputs."""
    classes = np.unique(y_train)
    if len(classes) == 1:
        return np.full(len(x_test), classes[0])
    mean, std = x_train.mean(0), x_train.std(0)
    std[std < 1e-12] = 1.0
    xs, xt = (x_train - mean) / std, (x_test - mean) / std
    if simulator == "centroid":
        centroids = np.stack([xs[y_train == c].mean(0) for c in classes])
        dist = ((xt[:, None, :] - centroids[None]) ** 2).sum(-1)
        return classes[dist.argmin(1)]
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression(C=1.0, max_iter=2000)
    return model.fit(xs, y_train).predict(xt)


def _concept_words(interpretations: Sequence[Any], n_concepts: int, n_words: int) -> list[set[str]]:
    if len(interpretations) != n_concepts:
        raise InputError(
            f"interpretations must describe every concept ({n_concepts}), got {len(interpretations)}: "
            "call interpret_concepts(learner, ...) without concepts="
        )
    words = []
    for item in interpretations:
        pairs = getattr(item, "words", item)
        words.append({str(w[0] if isinstance(w, tuple | list) else w).lower() for w in list(pairs)[:n_words]})
    return words


def concept_simulatability(
    split: SplitModel,
    learner: Any,
    texts: Sequence[str],
    *,
    eval_texts: Sequence[str] | None = None,
    heldout: float = 0.5,
    outputs: Sequence[int] | None = None,
    candidates: Sequence[int] | None = None,
    split_point: int | str | None = None,
    top_k: int | None = None,
    simulator: str = "logistic",
    pooling: str = "mean",
    n_random: int = 10,
    interpretations: Sequence[Any] | None = None,
    n_words: int = 8,
    hygiene: Any = None,
    seed: int = 0,
    batch_size: int = 32,
) -> Simulatability:
    """Held-out simulatability of ``learner``'s concepts for the model's outputs (ConSim-style).

    Parameters
    ----------
    split, learner:
        The split model and a learner fitted on its activations at ``split_point`` (fit it on
        explanation texts only, or the held-out texts are not held out from the dictionary).
    texts, eval_texts, heldout:
        Explanation texts and held-out texts; without ``eval_texts`` a seeded ``heldout`` share of
        the distinct ``texts`` is held out.
    outputs:
        The outputs to simulate, one per text (``texts`` then ``eval_texts``). Default: the
        model's prediction (classifiers), its next token (causal LMs), restricted to
        ``candidates`` (class or token ids) if given.
    top_k:
        The simulator reads only the ``top_k`` strongest codes of each text (the rest zeroed), as
        an explanation that shows a few concepts. Default: all codes.
    simulator:
        ``logistic`` (standardised multinomial logistic regression, C = 1) or ``centroid``.
    n_random:
        Draws of the random-direction and random-unit baselines.
    interpretations:
        One per concept (``interpret_concepts`` results, or word lists): adds the reader of the
        concepts' top ``n_words`` words (how many occur in the text, per concept).
    hygiene:
        None (default): the activation hygiene the learner was fitted under (``learner.hygiene``:
        positions its rows left out are not pooled, standardised rows are read standardised),
        as :func:`concept_importance`; False: raw hidden states at every real token; or an
        ``Activations`` / ``ActivationHygiene`` / ``HygieneRule``.
    """
    start = time.process_time()
    if simulator not in SIMULATORS:
        raise InputError(f"unknown simulator {simulator!r}; choose one of {', '.join(SIMULATORS)}")
    if top_k is not None and (not isinstance(top_k, int) or top_k < 1):
        raise InputError(f"top_k must be a positive integer or None, got {top_k!r}")
    if not isinstance(n_random, int) or n_random < 1:
        raise InputError(f"n_random must be a positive integer, got {n_random!r}")
    n_concepts = _check_common(split, learner, pooling, candidates)
    everything, train, held = _split_texts(texts, eval_texts, heldout, seed)
    if outputs is not None:
        outputs = [int(o) for o in outputs]
        if len(outputs) != len(everything):
            raise InputError(
                f"outputs must give one output per text ({len(everything)} texts"
                f"{' and eval_texts' if eval_texts is not None else ''}), got {len(outputs)}"
            )
    point = split.point_name(split_point)
    envoy = split.envoy_at(point)
    hidden_size = int(learner.dictionary.shape[1])
    rng = np.random.default_rng(seed)
    directions = rng.standard_normal((n_random * n_concepts, hidden_size))
    directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    units = [rng.choice(hidden_size, size=n_concepts, replace=n_concepts > hidden_size) for _ in range(n_random)]
    dirs = torch.as_tensor(directions, dtype=torch.float32, device=split.adapter.device)

    from ._hygiene import resolve_hygiene

    rule = resolve_hygiene(hygiene, learner)
    encodings = [split.adapter.encode(t) for t in everything]
    order = sorted(range(len(everything)), key=lambda i: len(encodings[i].input_ids))
    codes = np.zeros((len(everything), n_concepts))
    hidden = np.zeros((len(everything), hidden_size))
    rand = np.zeros((len(everything), n_random * n_concepts))
    predicted = np.zeros(len(everything), dtype=np.int64)
    with split.adapter.evaluating(), torch.no_grad():
        for begin in range(0, len(order), batch_size):
            batch = order[begin : begin + batch_size]
            inputs = split.inputs([encodings[i].input_ids for i in batch])
            mask = inputs["attention_mask"]
            held_out: dict[str, Any] = {}
            with split.envoy.trace(**inputs) as tracer:
                held_out["h"] = envoy.output.save()
                if outputs is None:
                    held_out["out"] = split.envoy.output.save()
                else:
                    tracer.stop()
            h = hidden_of(held_out["h"]).float()
            b, length, _ = h.shape
            keep = _kept_tokens(rule, h, mask, [encodings[i] for i in batch])
            if rule is not None:
                h = rule.standardise(h)  # what the learner reads (its rows were standardised)
            z = learner.encode(h.reshape(-1, hidden_size)).reshape(b, length, -1).float()
            rows = torch.as_tensor(batch)
            codes[rows] = _pool(z, keep, pooling).double().cpu().numpy()
            hidden[rows] = _pool(h, keep, pooling).double().cpu().numpy()
            rand[rows] = _pool(h @ dirs.T, keep, pooling).double().cpu().numpy()
            if outputs is None:
                predicted[rows] = _choose(_output_logits(split, held_out["out"], mask), candidates).cpu().numpy()
    y = np.asarray(outputs, dtype=np.int64) if outputs is not None else predicted
    tr, te = np.asarray(train), np.asarray(held)

    def accuracy(features: np.ndarray, sparse: bool = True) -> float:
        f = _sparsify(features, top_k) if sparse else features
        return float((_simulate(simulator, f[tr], y[tr], f[te]) == y[te]).mean())

    feats = _sparsify(codes, top_k)
    simulated = _simulate(simulator, feats[tr], y[tr], feats[te])
    values, counts = np.unique(y[tr], return_counts=True)
    majority = float((y[te] == values[counts.argmax()]).mean())
    rand_acc = [accuracy(rand[:, d * n_concepts : (d + 1) * n_concepts]) for d in range(n_random)]
    unit_acc = [accuracy(hidden[:, u]) for u in units]
    words_acc = None
    if interpretations is not None:
        vocab = _concept_words(interpretations, n_concepts, n_words)
        tokens = [set(_WORD.findall(t.lower())) for t in everything]
        counts_w = np.array([[len(v & tok) for v in vocab] for tok in tokens], dtype=np.float64)
        words_acc = accuracy(counts_w)
    rd, rd_std = _mean_std(rand_acc)
    ru, ru_std = _mean_std(unit_acc)
    return Simulatability(
        accuracy=float((simulated == y[te]).mean()),
        no_explanation=majority,
        random_directions=rd,
        random_directions_std=rd_std,
        random_neurons=ru,
        random_neurons_std=ru_std,
        all_units=accuracy(hidden, sparse=False),
        concept_words=words_acc,
        n_train=len(train),
        n_heldout=len(held),
        n_concepts=n_concepts,
        n_outputs=len(np.unique(y)),
        top_k=top_k,
        simulator=simulator,
        pooling=pooling,
        n_random=n_random,
        split_point=point,
        seconds=time.process_time() - start,
        train_index=tuple(train),
        heldout_index=tuple(held),
        outputs=tuple(int(v) for v in y[te]),
        simulated=tuple(int(v) for v in simulated),
        codes=codes,
    )


# -- deletion --------------------------------------------------------------------------------------
def concept_deletion(
    split: SplitModel,
    learner: Any,
    texts: Sequence[str],
    *,
    k: int = 3,
    eval_texts: Sequence[str] | None = None,
    heldout: float = 0.5,
    importance: Any = None,
    split_point: int | str | None = None,
    n_random: int = 10,
    hygiene: Any = None,
    seed: int = 0,
    batch_size: int = 16,
) -> ConceptDeletion:
    """Remove the ``k`` most important concepts from held-out texts; compare with ``k`` random ones.

    The ranking is the mean ``|gradient x activation|`` importance over the explanation texts
    (:func:`concept_importance`; or pass ``importance=``, a ``ConceptImportance`` or one number per
    concept). On each held-out text, at every real token the learner's activation hygiene keeps
    (``hygiene=``, as :func:`concept_importance`), ``h' = h - decode(z) + decode(z_masked)`` (in the
    learner's units: ``std * (decode(z_masked) - decode(z))`` for standardised rows); every variant of a batch runs in
    one forward pass. Score: the model's logit (causal LMs: next-token log-probability) of its own
    unablated prediction.
    """
    start = time.process_time()
    n_concepts = _check_common(split, learner, "mean", None)
    if not isinstance(k, int) or not 1 <= k < n_concepts:
        raise InputError(
            f"k must be an integer in [1, {n_concepts - 1}] (the learner has {n_concepts} concepts), got {k!r}"
        )
    if not isinstance(n_random, int) or n_random < 1:
        raise InputError(f"n_random must be a positive integer, got {n_random!r}")
    everything, train, held = _split_texts(texts, eval_texts, heldout, seed)
    point = split.point_name(split_point)
    if importance is None:
        from ._importance import concept_importance

        importance = concept_importance(
            split,
            learner,
            [everything[i] for i in train],
            split_point=point,
            batch_size=batch_size,
            progress=False,
            hygiene=hygiene,
        )
    ranking = np.asarray(getattr(importance, "mean_abs", importance), dtype=np.float64)
    if ranking.shape != (n_concepts,):
        raise InputError(f"importance must give one number per concept ({n_concepts}), got shape {ranking.shape}")
    top = [int(c) for c in np.argsort(-ranking, kind="stable")[:k]]
    rng = np.random.default_rng(seed)
    masks = np.ones((2 + n_random, n_concepts), dtype=np.float32)  # 0: nothing removed, 1: top k, 2..: random
    masks[1, top] = 0
    for d in range(n_random):
        masks[2 + d, rng.choice(n_concepts, size=k, replace=False)] = 0
    variants = len(masks)
    m = torch.as_tensor(masks, device=split.adapter.device)
    envoy = split.envoy_at(point)
    hidden_size = int(learner.dictionary.shape[1])
    from ._hygiene import resolve_hygiene

    rule = resolve_hygiene(hygiene, learner)
    encodings = [split.adapter.encode(everything[i]) for i in held]
    order = sorted(range(len(held)), key=lambda i: len(encodings[i].input_ids))
    drops = np.zeros((variants, len(held)))
    flips = np.zeros((variants, len(held)))
    with split.adapter.evaluating(), torch.no_grad():
        for begin in range(0, len(order), batch_size):
            batch = order[begin : begin + batch_size]
            one = split.inputs([encodings[i].input_ids for i in batch])
            inputs = {key: value.repeat(variants, *([1] * (value.dim() - 1))) for key, value in one.items()}
            mask = inputs["attention_mask"]
            saved: dict[str, Any] = {}
            with split.envoy.trace(**inputs):
                out = envoy.output
                h = hidden_of(out)
                b, length, _ = h.shape
                flat = h.reshape(-1, hidden_size)
                x = flat.float() if rule is None else rule.standardise(flat.float())
                z = learner.encode(x)
                keep = _kept_tokens(rule, h, mask, [encodings[i] for i in batch] * variants).reshape(-1, 1)
                zm = (z.reshape(variants, -1, z.shape[-1]) * m[:, None, :]).reshape(z.shape)
                zm = torch.where(keep, zm, z)
                back = (lambda v: v) if rule is None else rule.unstandardise
                delta = (back(learner.decode(zm)) - back(learner.decode(z))).to(h.dtype)
                envoy.output = with_hidden(out, (flat + delta).reshape(b, length, hidden_size))
                saved["out"] = split.envoy.output.save()
            logits = _output_logits(split, saved["out"], mask).reshape(variants, len(batch), -1)
            pred = logits[0].argmax(-1)
            score = logits.gather(2, pred[None, :, None].expand(variants, -1, 1))[..., 0]
            rows = torch.as_tensor(batch)
            drops[:, rows] = (score[0:1] - score).double().cpu().numpy()
            flips[:, rows] = (logits.argmax(-1) != pred[None]).double().cpu().numpy()
    rd, rd_std = _mean_std(drops[2:].mean(1))
    rf, rf_std = _mean_std(flips[2:].mean(1))
    return ConceptDeletion(
        concepts=tuple(top),
        k=k,
        score_drop=float(drops[1].mean()),
        flip_rate=float(flips[1].mean()),
        random_drop=rd,
        random_drop_std=rd_std,
        random_flip_rate=rf,
        random_flip_rate_std=rf_std,
        n_train=len(train),
        n_heldout=len(held),
        n_concepts=n_concepts,
        n_random=n_random,
        split_point=point,
        seconds=time.process_time() - start,
        train_index=tuple(train),
        heldout_index=tuple(held),
    )


# -- an LLM as the simulator (ConSim proper) ---------------------------------------------------------
@attrs.frozen(kw_only=True, eq=False)
class LMSimulatability:
    """A causal LM simulating the model from prompts, per condition (``none``, ``concepts``, ``random``).

    ``conditions[name]``: ``accuracy`` (its most likely option equals the model's output),
    ``logprob`` (mean log-probability it gives the model's output, normalised over the options) and
    ``auc`` (two outputs only: of the option margin). ``gain = concepts - none`` and ``over_random =
    concepts - random``, in accuracy.
    """

    conditions: dict[str, dict[str, float | None]]
    majority: float
    n_shots: int
    n_heldout: int
    options: tuple[str, ...]
    top_k: int
    seconds: float
    prompt: str = attrs.field(repr=False)
    heldout_index: tuple[int, ...] = attrs.field(repr=False)
    shot_index: tuple[int, ...] = attrs.field(repr=False)

    @property
    def gain(self) -> float:
        return float(self.conditions["concepts"]["accuracy"] or 0) - float(self.conditions["none"]["accuracy"] or 0)

    @property
    def over_random(self) -> float:
        return float(self.conditions["concepts"]["accuracy"] or 0) - float(self.conditions["random"]["accuracy"] or 0)

    def to_json(self) -> dict[str, Any]:
        out = {f.name: getattr(self, f.name) for f in attrs.fields(type(self))}
        for key in ("options", "heldout_index", "shot_index"):
            out[key] = list(out[key])
        return out | {"gain": self.gain, "over_random": self.over_random}

    def to_markdown(self) -> str:
        lines = [
            f"LM simulator: {self.n_shots} shots, {self.n_heldout} held-out texts, top {self.top_k} concepts "
            f"shown; majority output {self.majority:.3f}",
            "",
            "| prompt shows | accuracy | log-prob of the output | AUC |",
            "|---|---|---|---|",
        ]
        for name, c in self.conditions.items():
            auc = "" if c.get("auc") is None else f"{c['auc']:.3f}"
            lines.append(f"| {_CONDITIONS[name]} | {c['accuracy']:.3f} | {c['logprob']:.3f} | {auc} |")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.to_markdown()

    def _repr_html_(self) -> str:
        from .._safe_text import html_text as e

        rows = "".join(
            f"<tr><td>{e(_CONDITIONS[name])}</td><td>{e(format(c['accuracy'], '.3f'))}</td>"
            f"<td>{e(format(c['logprob'], '.3f'))}</td>"
            f"<td>{'' if c.get('auc') is None else e(format(c['auc'], '.3f'))}</td></tr>"
            for name, c in self.conditions.items()
        )
        return (
            f'<table class="itp-table"><caption>LM simulator: {e(self.n_shots)} shots, {e(self.n_heldout)} '
            f"held-out texts; majority {e(format(self.majority, '.3f'))}</caption><tr><th>prompt shows</th>"
            f"<th>accuracy</th><th>log-prob of the output</th><th>AUC</th></tr>{rows}</table>"
        )


_CONDITIONS = {
    "none": "the texts only",
    "concepts": "the texts and their concepts",
    "random": "the texts and random concepts",
}


def _auc(scores: np.ndarray, labels: np.ndarray) -> float | None:
    pos, neg = scores[labels], scores[~labels]
    if not len(pos) or not len(neg):
        return None
    return float(((pos[:, None] > neg[None]).sum() + 0.5 * (pos[:, None] == neg[None]).sum()) / (len(pos) * len(neg)))


def _default_simulator() -> tuple[Any, Any]:
    from .. import zoo

    if zoo.read_metadata(zoo.cache_root() / zoo.SMOLLM2_RECIPE["name"]) is None:
        raise InputError(
            "no simulator given and the local SmolLM2 is not prepared: pass simulator_model= and "
            "simulator_tokenizer=, or prepare it once with `python -c 'import interpreto_core.zoo as z; "
            "z.causal_lm()'`"
        )
    return zoo.causal_lm(progress=False)


def concept_simulatability_lm(
    split: SplitModel,
    learner: Any,
    texts: Sequence[str],
    *,
    interpretations: Sequence[Any],
    eval_texts: Sequence[str] | None = None,
    heldout: float = 0.5,
    simulator_model: Any = None,
    simulator_tokenizer: Any = None,
    n_shots: int = 8,
    max_heldout: int = 60,
    top_k: int = 3,
    n_words: int = 4,
    task: str | None = None,
    hygiene: Any = None,
    seed: int = 0,
) -> LMSimulatability:
    """ConSim with a causal LM as the simulator (default: the local SmolLM2-135M-Instruct, offline).

    The prompt shows ``n_shots`` explanation texts (balanced over the model's outputs) with the
    classifier's output, then one held-out text; the simulator's answer is read from one forward
    pass over the options (the log-probability of each class label's first token after
    ``Output:``), with the few-shot prefix cached — no generation. Three prompts: the texts only;
    each text with its ``top_k`` concepts (by pooled code, as :class:`ConceptModel`), each named
    by its top ``n_words`` words from ``interpretations``; the same with ``top_k`` random concepts.
    Classifiers only (the options are its class labels, whose first tokens must differ).
    """
    import copy

    start = time.process_time()
    _check_common(split, learner, "mean", None)
    if split.kind != "classifier":
        raise InputError(
            "concept_simulatability_lm simulates a classifier (its class labels are the options); "
            "use concept_simulatability for a causal LM"
        )
    if n_shots < 2 or max_heldout < 1 or top_k < 1:
        raise InputError(f"n_shots must be >= 2, max_heldout and top_k >= 1 (got {n_shots}, {max_heldout}, {top_k})")
    n_concepts = int(learner.dictionary.shape[0])
    words = [
        [str(p[0] if isinstance(p, tuple | list) else p) for p in list(getattr(item, "words", item))]
        for item in interpretations
    ]
    names = [", ".join(w[:n_words]) for w in words]
    if len(names) != n_concepts:
        raise InputError(f"interpretations must describe every concept ({n_concepts}), got {len(names)}")
    everything, train, held = _split_texts(texts, eval_texts, heldout, seed)
    held = held[:max_heldout]
    if simulator_model is None or simulator_tokenizer is None:
        simulator_model, simulator_tokenizer = _default_simulator()
    from ._trace import ConceptModel

    bottleneck = ConceptModel(split, learner, pooling="mean", hygiene=hygiene)
    wanted = train + held
    codes = np.zeros((len(everything), n_concepts))
    predicted = np.zeros(len(everything), dtype=np.int64)
    with split.adapter.evaluating(), torch.no_grad():
        for begin in range(0, len(wanted), 32):
            batch = wanted[begin : begin + 32]
            inputs = split.inputs([split.adapter.encode(everything[i]).input_ids for i in batch])
            mask = inputs["attention_mask"]
            codes[batch] = bottleneck(input_ids=inputs["input_ids"], attention_mask=mask).logits.double().cpu().numpy()
            predicted[batch] = _output_logits(split, split.model(**inputs), mask).argmax(-1).cpu().numpy()
    labels = list(split.adapter.class_labels())
    tok = simulator_tokenizer
    first = [tok(" " + label, add_special_tokens=False).input_ids[0] for label in labels]
    if len(set(first)) != len(first):
        raise InputError(
            f"the class labels {labels} share a first token for the simulator: rename them (config.id2label)"
        )
    rng = np.random.default_rng(seed)
    by_output = {c: [i for i in train if predicted[i] == c] for c in range(len(labels))}
    shots: list[int] = []
    while len(shots) < n_shots and any(by_output.values()):
        for c in range(len(labels)):
            if by_output[c] and len(shots) < n_shots:
                shots.append(by_output[c].pop(0))
    random_sets = {i: rng.choice(n_concepts, size=min(top_k, n_concepts), replace=False) for i in shots + held}

    def block(i: int, condition: str) -> str:
        line = f"Text: {everything[i]}\n"
        if condition != "none":
            chosen = np.argsort(-codes[i])[:top_k] if condition == "concepts" else random_sets[i]
            line += "Concepts detected: " + "; ".join(f"({names[c]})" for c in chosen) + "\n"
        return line + "Output:"

    intro = (task or f"A classifier reads texts and outputs one of: {', '.join(labels)}.") + "\n\n"
    y_held = predicted[held]
    conditions: dict[str, dict[str, float | None]] = {}
    prompt = ""
    with torch.no_grad():
        for condition in _CONDITIONS:
            prefix = intro + "\n\n".join(f"{block(i, condition)} {labels[predicted[i]]}" for i in shots) + "\n\n"
            prompt = prompt or prefix
            ids = tok(prefix, return_tensors="pt", add_special_tokens=False).input_ids
            cache = simulator_model(input_ids=ids, use_cache=True).past_key_values
            scores = []
            for i in held:
                tail = tok(block(i, condition), return_tensors="pt", add_special_tokens=False).input_ids
                out = simulator_model(input_ids=tail, past_key_values=copy.deepcopy(cache), use_cache=True)
                scores.append(out.logits[0, -1].float()[first].log_softmax(-1).cpu().numpy())
            s = np.stack(scores)
            conditions[condition] = {
                "accuracy": float((s.argmax(1) == y_held).mean()),
                "logprob": float(s[np.arange(len(held)), y_held].mean()),
                "auc": _auc(s[:, 1] - s[:, 0], y_held == 1) if len(labels) == 2 else None,
            }
    values, counts = np.unique(predicted[train], return_counts=True)
    return LMSimulatability(
        conditions=conditions,
        majority=float((y_held == values[counts.argmax()]).mean()),
        n_shots=len(shots),
        n_heldout=len(held),
        options=tuple(labels),
        top_k=top_k,
        seconds=time.process_time() - start,
        prompt=prompt,
        heldout_index=tuple(held),
        shot_index=tuple(shots),
    )

"""TCAV: how much a labelled concept pushes a class's score (Kim et al., ICML 2018).

A concept c has a CAV v_c (the unit normal of a linear probe at the split point, learner ``cav``).
The conceptual sensitivity of input x for class k is the directional derivative of the class
score f_k along v_c, moving the hidden state h_p of every position p of the unit the CAV was
trained on (all real tokens; the first / last one for ``first_token`` / ``last_token``):

    S_{c,k}(x) = d/de f_k(h + e v_c) = sum_p  grad_{h_p} f_k(x) . v_c

    TCAV_{c,k} = |{x in X_k : S_{c,k}(x) > 0}| / |X_k|

with X_k the inputs of class k (``eval_labels``) or every input. Significance: the score is
recomputed with ``n_random`` CAVs of c, each trained on a random half of c's rows against as many
random other rows, and with ``n_random`` CAVs trained on two random sets of rows of that size (no
concept); a two-sided Welch t-test between the two sets of scores gives the p-value. A concept
whose direction does not survive resampling scores like random directions: large p-value. (With
the whole concept set in every run, as in Kim et al., the runs of even a random label set share
one direction, and a near-linear model's scores saturate at 0 or 1: a fixed random set then looks
significant.) All directions share one forward pass and one backward pass
per class and batch.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import attrs
import numpy as np
import torch

from .._errors import InputError

__all__ = ["TCAVScore", "TCAVResult", "tcav", "directional_derivatives"]


@attrs.frozen(kw_only=True)
class TCAVScore:
    """One (concept, class) pair: ``score`` (the CAV fitted on all rows), the concept runs' and
    random runs' scores, their means and the t-test's ``p_value``; ``n_inputs``: |X_k|."""

    concept: str
    target: int
    target_label: str
    score: float
    concept_mean: float
    random_mean: float
    random_std: float
    p_value: float
    n_inputs: int
    concept_runs: tuple[float, ...]
    random_runs: tuple[float, ...]

    def significant(self, alpha: float = 0.05) -> bool:
        return bool(self.p_value < alpha)


@attrs.frozen(kw_only=True, eq=False)
class TCAVResult:
    """TCAV scores for every (concept, class) pair, with the CAVs' probe accuracies."""

    scores: tuple[TCAVScore, ...]
    split_point: str
    granularity: str
    n_random: int
    accuracy: dict[str, float | None]
    seconds: float
    learner: Any = attrs.field(repr=False, default=None)

    def score(self, concept: str, target: int | str) -> TCAVScore:
        for s in self.scores:
            if s.concept == str(concept) and (s.target == target or s.target_label == target):
                return s
        raise InputError(f"no TCAV score for concept {concept!r} and class {target!r}; concepts: "
                         f"{sorted({s.concept for s in self.scores})}, classes: "
                         f"{sorted({s.target_label for s in self.scores})}")

    def table(self) -> list[dict[str, Any]]:
        return [{"concept": s.concept, "class": s.target_label, "tcav": s.score, "concept_mean": s.concept_mean,
                 "random_mean": s.random_mean, "p_value": s.p_value, "n_inputs": s.n_inputs} for s in self.scores]

    def to_json(self) -> dict[str, Any]:
        return {"split_point": self.split_point, "granularity": self.granularity, "n_random": self.n_random,
                "accuracy": dict(self.accuracy), "seconds": self.seconds,
                "scores": [attrs.asdict(s) for s in self.scores]}

    def to_markdown(self) -> str:
        lines = ["| concept | class | TCAV | concept runs | random runs | p-value | inputs |",
                 "|---|---|---|---|---|---|---|"]
        for s in self.scores:
            lines.append(f"| {s.concept} | {s.target_label} | {s.score:.2f} | {s.concept_mean:.2f} | "
                         f"{s.random_mean:.2f} ± {s.random_std:.2f} | {s.p_value:.2g} | {s.n_inputs} |")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.to_markdown()

    def _repr_html_(self) -> str:
        from .._safe_text import html_text as e

        rows = "".join(
            f"<tr><td>{e(s.concept)}</td><td>{e(s.target_label)}</td><td>{e(format(s.score, '.2f'))}</td>"
            f"<td>{e(format(s.concept_mean, '.2f'))}</td><td>{e(format(s.random_mean, '.2f'))}</td>"
            f"<td>{'<b>' if s.significant() else ''}{e(format(s.p_value, '.2g'))}{'</b>' if s.significant() else ''}"
            f"</td><td>{e(s.n_inputs)}</td></tr>" for s in self.scores)
        return (f'<table class="itp-table"><caption>TCAV at {e(self.split_point)} ({e(self.granularity)} CAVs, '
                f"{e(self.n_random)} random runs; p &lt; 0.05 in bold)</caption><tr><th>concept</th><th>class</th>"
                f"<th>TCAV</th><th>concept runs</th><th>random runs</th><th>p-value</th><th>inputs</th></tr>{rows}"
                "</table>")


def _positions(split: Any, enc: Any, granularity: str) -> list[int]:
    """The token positions whose hidden states a CAV of ``granularity`` rows reads."""
    from ._activations import _units

    groups = _units(enc, granularity, split.kind)[0]
    return sorted({p for g in groups for p in g})


def directional_derivatives(
    split: Any,
    texts: Sequence[str],
    directions: torch.Tensor,
    targets: Sequence[int],
    *,
    split_point: int | str | None = None,
    granularity: str = "sample",
    mode: str = "logits",
    batch_size: int = 16,
    progress: bool | None = None,
) -> np.ndarray:
    """``S (n_targets, n_texts, M)``: ``sum_p grad_{h_p} f_k(x) . d_m`` for each class ``k`` of
    ``targets``, text and direction ``d_m`` (rows of ``directions (M, H)``), at ``split_point``.

    One forward pass per batch of texts and one backward pass per target class."""
    from tqdm.auto import tqdm

    from ._importance import _scores
    from ._split import hidden_of, with_hidden

    point = split.point_name(split_point)
    envoy = split.envoy_at(point)
    encodings = [split.adapter.encode(t) for t in texts]
    positions = [_positions(split, e, granularity) for e in encodings]
    dirs = directions.detach().float().to(split.adapter.device)
    out = np.zeros((len(targets), len(texts), dirs.shape[0]))
    order = sorted(range(len(texts)), key=lambda i: len(encodings[i].input_ids))
    with split.adapter.evaluating(), tqdm(total=len(texts), desc="TCAV gradients", unit="text",
                                          disable=None if progress is None else not progress) as bar:
        for start in range(0, len(order), batch_size):
            batch = order[start : start + batch_size]
            inputs = split.inputs([encodings[i].input_ids for i in batch])
            mask = inputs["attention_mask"]
            held: dict[str, Any] = {}
            with torch.enable_grad(), split.envoy.trace(**inputs):
                output = envoy.output
                leaf = hidden_of(output).detach().requires_grad_(True)
                envoy.output = with_hidden(output, leaf)
                held["h"] = leaf
                held["output"] = split.envoy.output.save()
            leaf = held["h"]
            chosen = torch.zeros(mask.shape, dtype=leaf.dtype, device=leaf.device)
            for j, i in enumerate(batch):
                chosen[j, positions[i]] = 1.0
            for t, k in enumerate(targets):
                tgt = torch.full((len(batch),), int(k), device=mask.device)
                score, _ = _scores(split, held["output"], mask, tgt, mode)
                (grad,) = torch.autograd.grad(score.sum(), leaf, retain_graph=t < len(targets) - 1)
                summed = (grad.float() * chosen[:, :, None].float()).sum(1)  # (B, H)
                out[t, batch] = (summed @ dirs.T).double().cpu().numpy()
            bar.update(len(batch))
    return out


def _p_value(a: np.ndarray, b: np.ndarray) -> float:
    """Two-sided Welch t-test p-value; two constant samples: 1 if equal, else 0."""
    from scipy import stats

    if np.std(a) == 0 and np.std(b) == 0:
        return 1.0 if np.mean(a) == np.mean(b) else 0.0
    return float(stats.ttest_ind(a, b, equal_var=False).pvalue)


def tcav(
    split: Any,
    texts: Sequence[str],
    labels: Sequence[Any],
    *,
    targets: Sequence[int] | None = None,
    eval_texts: Sequence[str] | None = None,
    eval_labels: Sequence[int] | None = None,
    split_point: int | str | None = None,
    granularity: str = "sample",
    n_random: int = 10,
    C: float = 1.0,
    mode: str = "logits",
    batch_size: int = 16,
    seed: int = 0,
    progress: bool | None = None,
) -> TCAVResult:
    """TCAV scores of every labelled concept for every target class, with random-CAV p-values.

    Parameters
    ----------
    split:
        A :class:`SplitModel` of a classifier (or causal LM: targets are token ids).
    texts, labels:
        The concept data: one concept label per text (the CAVs are fitted on their activations).
    targets:
        Class indices to explain (default: every class of the model).
    eval_texts, eval_labels:
        The inputs whose sensitivity is counted (default ``texts``); with ``eval_labels`` (a class
        per text), class k counts only its own inputs (Kim et al.'s X_k).
    granularity:
        Activation rows the CAVs learn from (``sample``: the mean over tokens; ``first_token``:
        [CLS]); the derivative moves the same positions.
    n_random:
        Concept runs (CAVs against ``n_random`` different random negatives) and random runs
        (CAVs between two random sets of rows) for the t-test.
    C:
        The probes' inverse regularisation.
    """
    import time
    import warnings

    from ._learner import make_learner
    from ._split import SplitModel

    if not isinstance(split, SplitModel):
        raise InputError(f"split must be a SplitModel(model, tokenizer, split_points=...), got {type(split).__name__}")
    if not isinstance(n_random, int) or n_random < 2:
        raise InputError(f"n_random must be an integer >= 2 (the t-test needs two runs), got {n_random!r}")
    texts = list(texts)
    labels = list(labels)
    if len(labels) != len(texts):
        raise InputError(f"labels must give one label per text ({len(texts)} texts, {len(labels)} labels)")
    start = time.perf_counter()
    point = split.point_name(split_point)
    acts = split.collect(texts, split_point=point, granularity=granularity, batch_size=batch_size,
                         progress=progress)
    learner: Any = make_learner("cav", C=C, seed=seed)  # the cav plugin's CAV: fit takes labels
    learner.fit(acts, labels=labels)
    names = learner.concept_names
    y = np.asarray(labels, dtype=object)[np.asarray(acts.text_index)]
    x = acts.values.double().numpy()
    rng = np.random.default_rng(seed)
    fit_probe = learner.probe  # the cav plugin's probe: (unit normal, fitted probe)
    concept_dirs, random_dirs = [], []
    for name in names:
        pos = np.flatnonzero(np.array([str(v) == name for v in y]))
        neg = np.setdiff1d(np.arange(len(y)), pos)
        size = max(1, min(len(pos) // 2, len(neg)))  # a random half of the concept's rows per run
        for _ in range(n_random):
            rows = np.concatenate([rng.choice(pos, size, replace=False), rng.choice(neg, size, replace=False)])
            target = np.r_[np.ones(size), np.zeros(size)]
            concept_dirs.append(fit_probe(x[rows], target, c_reg=C, max_iter=learner.max_iter, seed=seed)[0])
            both = rng.permutation(len(y))[: 2 * size]
            random_dirs.append(fit_probe(x[both], target, c_reg=C, max_iter=learner.max_iter, seed=seed)[0])
    n_c = len(names)
    dirs = torch.cat([learner.cavs.detach().cpu().float(), torch.tensor(np.stack(concept_dirs)).float(),
                      torch.tensor(np.stack(random_dirs)).float()])
    if targets is None:
        n_classes = int(getattr(split.model.config, "num_labels", 0) or 0)
        if split.kind != "classifier" or n_classes < 1:
            raise InputError("give targets= (class indices, or token ids for a causal LM)")
        targets = list(range(n_classes))
    targets = [int(k) for k in targets]
    evals = list(eval_texts) if eval_texts is not None else texts
    if eval_labels is not None and len(eval_labels) != len(evals):
        raise InputError(f"eval_labels must give one class per evaluated text ({len(evals)}), got {len(eval_labels)}")
    sens = directional_derivatives(split, evals, dirs, targets, split_point=point, granularity=granularity,
                                   mode=mode, batch_size=batch_size, progress=progress)
    class_names = split.adapter.class_labels() if split.kind == "classifier" else []
    out = []
    for t, k in enumerate(targets):
        keep = (np.ones(len(evals), dtype=bool) if eval_labels is None
                else np.asarray([int(v) == k for v in eval_labels]))
        if not keep.any():
            raise InputError(f"no evaluated text has class {k} in eval_labels")
        if not np.any(sens[t][keep]):
            warnings.warn(f"TCAV: the class {k} score does not move along any direction at {point} from the "
                          f"{granularity} positions (every derivative is 0): at a [CLS]-pooled classifier's last "
                          "block use granularity='first_token'", stacklevel=2)
        positive = (sens[t][keep] > 0).mean(0)  # (M,) TCAV score of each direction
        for c, name in enumerate(names):
            runs = positive[n_c + c * n_random : n_c + (c + 1) * n_random]
            rand = positive[n_c + n_c * n_random + c * n_random : n_c + n_c * n_random + (c + 1) * n_random]
            label = (class_names[k] if k < len(class_names) else str(k)) if class_names else \
                split.tokenizer.decode([k])
            out.append(TCAVScore(concept=name, target=k, target_label=str(label), score=float(positive[c]),
                                 concept_mean=float(runs.mean()), random_mean=float(rand.mean()),
                                 random_std=float(rand.std()), p_value=_p_value(runs, rand),
                                 n_inputs=int(keep.sum()), concept_runs=tuple(float(v) for v in runs),
                                 random_runs=tuple(float(v) for v in rand)))
    return TCAVResult(scores=tuple(out), split_point=point, granularity=granularity, n_random=n_random,
                      accuracy=dict(zip(names, learner.accuracy, strict=True)), seconds=time.perf_counter() - start,
                      learner=learner)


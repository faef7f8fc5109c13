"""Concept importance for a model output: gradient of the target w.r.t. concept activations.

At the split point the hidden state h is replaced by ``decode(z) + (h - decode(encode(h)))``
with ``z = encode(h)`` a leaf: the forward pass is unchanged (the reconstruction error is
added back as a constant), and the gradient of the target f reaches the codes. For text t,

    importance_c(t) = sum_positions  df/dz_{p,c} * z_{p,c}      (gradient x activation)
    or               sum_positions  df/dz_{p,c}                 (``times_activation=False``)

summed over the text's tokens (padding excluded). The data-set importance is the mean over
texts (and the mean absolute value).

Activation hygiene (``learner.hygiene``, recorded at fit time, or ``hygiene=``): positions the
learner's rows left out (outlier-norm / attention-sink tokens, ``exclude_positions``) are not
encoded -- their hidden state goes on unchanged and they add nothing to the sums -- and when the rows
were standardised the learner sees ``(h - mean) / std`` and gives back ``decode(z) * std + mean``.

Reference: Fel et al., CRAFT, CVPR 2023 (concept
attribution by gradient x input on concept coefficients).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import attrs
import numpy as np
import torch
from tqdm.auto import tqdm

from .._errors import InputError
from ._split import SplitModel, hidden_of, with_hidden

__all__ = ["ConceptImportance", "concept_importance"]


@attrs.frozen(kw_only=True, eq=False)
class ConceptImportance:
    """Importance of every concept for each text's target, and over the data set.

    ``per_text (n_texts, C)``; ``mean (C,)`` and ``mean_abs (C,)`` over texts; ``targets``:
    the class (classifier) or next token (causal LM) explained for each text, with ``labels``.
    """

    per_text: np.ndarray
    mean: np.ndarray
    mean_abs: np.ndarray
    targets: tuple[int, ...]
    labels: tuple[str, ...]
    method: str
    split_point: str
    #: the differentiated score of each text's target, as the forward pass computed it
    scores: np.ndarray | None = None
    #: per text, the token positions left out of concept scoring by the hygiene (empty tuples: none)
    excluded: tuple[tuple[int, ...], ...] | None = None
    #: the hygiene applied, in words (``HygieneRule.summary()``; None: raw hidden states)
    hygiene: str | None = None

    def top(self, k: int = 5, *, absolute: bool = True) -> list[tuple[int, float]]:
        """The ``k`` most important concepts over the data set: ``(concept, mean importance)``."""
        key = self.mean_abs if absolute else self.mean
        order = np.argsort(-key)[:k]
        return [(int(c), float(self.mean[c])) for c in order]


def _scores(split: SplitModel, output: Any, mask: torch.Tensor, targets: torch.Tensor | None, mode: str) -> tuple:
    logits = getattr(output, "logits", None)
    if logits is None:
        raise InputError(
            f"{type(split.model).__name__} has no logits: concept importance needs a classifier or a causal LM"
        )
    if split.kind == "causal_lm":
        last = mask.sum(1) - 1
        logits = logits[torch.arange(len(last), device=logits.device), last.to(logits.device)]  # after the text
    logits = logits.float()
    if mode == "softmax":
        logits = logits.softmax(-1)
    elif mode == "log_softmax":
        logits = logits.log_softmax(-1)
    chosen = logits.argmax(-1) if targets is None else targets
    return logits.gather(1, chosen[:, None])[:, 0], chosen


def concept_importance(
    split: SplitModel,
    learner: Any,
    texts: Sequence[str],
    *,
    targets: int | Sequence[int] | None = None,
    split_point: int | str | None = None,
    times_activation: bool = True,
    mode: str | None = None,
    batch_size: int = 16,
    progress: bool | None = None,
    hygiene: Any = None,
    add_error: bool = True,
) -> ConceptImportance:
    """Importance of each concept of ``learner`` for the model's output on ``texts``.

    Parameters
    ----------
    split, learner:
        The split model and a learner fitted on its activations at ``split_point``.
    texts:
        Texts to explain.
    targets:
        Classifiers: a class index, or one per text; causal LMs: the next token id (one, or one
        per text). Default: the predicted class / token.
    times_activation:
        Gradient x activation (default) or the gradient alone.
    mode:
        Score differentiated: ``logits`` (default for classifiers), ``softmax`` or
        ``log_softmax`` (default for causal LMs).
    hygiene:
        None (default): the activation hygiene the learner was fitted under (``learner.hygiene``);
        False: none (every position encoded, raw hidden states); or the ``Activations`` /
        ``ActivationHygiene`` / ``HygieneRule`` to apply instead. Left-out positions pass through
        unchanged and add nothing; standardised rows: the learner sees ``(h - mean) / std``.
    add_error:
        True (default): the reconstruction error is added back (the forward pass is the model's);
        False: the model runs on the reconstruction itself at the kept positions.
    """
    from ._activations import reference_positions
    from ._hygiene import resolve_hygiene

    point = split.point_name(split_point)
    if isinstance(texts, str):
        texts = [texts]
    texts = list(texts)
    if not texts:
        raise InputError("no texts to explain")
    mode = mode or ("logits" if split.kind == "classifier" else "log_softmax")
    if mode not in ("logits", "softmax", "log_softmax"):
        raise InputError(f"unknown mode {mode!r}; choose logits, softmax or log_softmax")
    if targets is None or isinstance(targets, int):
        per_target = [targets] * len(texts)
    elif len(targets) == len(texts):
        per_target = list(targets)
    else:
        raise InputError(f"targets must be None, one index, or one per text ({len(texts)} texts, got {len(targets)})")
    rule = resolve_hygiene(hygiene, learner)
    encodings = [split.adapter.encode(t) for t in texts]
    references = [reference_positions(e) for e in encodings]
    excluded_all: list[tuple[int, ...]] = [()] * len(texts)
    scores_all = np.zeros(len(texts))
    if learner.device != split.adapter.device:
        learner.to(split.adapter.device)
    envoy = split.envoy_at(point)
    n_concepts = None
    per_text: list[np.ndarray | None] = [None] * len(texts)
    chosen_all: list[int] = [0] * len(texts)
    order = sorted(range(len(texts)), key=lambda i: len(encodings[i].input_ids))
    with split.adapter.evaluating(), tqdm(total=len(texts), desc="concept importance", unit="text",
                                          disable=None if progress is None else not progress) as bar:
        for start in range(0, len(order), batch_size):
            batch = order[start : start + batch_size]
            inputs = split.inputs([encodings[i].input_ids for i in batch])
            mask = inputs["attention_mask"]
            tgt = (None if any(per_target[i] is None for i in batch)
                   else torch.tensor([per_target[i] for i in batch], device=mask.device))
            held: dict[str, Any] = {}
            with torch.enable_grad(), split.envoy.trace(**inputs):
                out = envoy.output
                h = hidden_of(out)
                b, length, hidden = h.shape
                kept = mask.bool().clone()
                if rule is not None and (rule.factor is not None or rule.exclude_description is not None):
                    norms = h.detach().float().norm(dim=-1).cpu().numpy()
                    for j, i in enumerate(batch):
                        n = len(encodings[i].input_ids)
                        gone = rule.excluded(norms[j, :n], references[i], list(encodings[i].tokens), np.arange(n))
                        excluded_all[i] = tuple(sorted(gone))
                        if gone:
                            kept[j, torch.tensor(sorted(gone), device=kept.device)] = False
                flat = h.reshape(-1, hidden)
                rows = kept.reshape(-1).nonzero()[:, 0].to(flat.device)
                x = flat.detach()[rows]
                if len(rows):
                    z = learner.encode(rule.standardise(x) if rule is not None else x).detach()
                else:  # every position of the batch left out: no concept scored, the forward unchanged
                    z = torch.zeros(0, int(learner.dictionary.shape[0]), device=x.device)
                z.requires_grad_(True)
                recon = learner.decode(z)
                recon = rule.unstandardise(recon) if rule is not None else recon
                if add_error:
                    recon = recon + (x - recon).detach()
                new = flat.detach().index_copy(0, rows, recon.to(flat.dtype))
                envoy.output = with_hidden(out, new.reshape(b, length, hidden))
                held["z"], held["rows"] = z, rows
                held["output"] = split.envoy.output.save()
            z, rows = held["z"], held["rows"]
            score, chosen = _scores(split, held["output"], mask, tgt, mode)
            (grad,) = torch.autograd.grad(score.sum(), z)
            contrib_rows = grad * z if times_activation else grad
            n_concepts = contrib_rows.shape[-1]
            contrib = torch.zeros(len(batch) * mask.shape[1], n_concepts, dtype=contrib_rows.dtype,
                                  device=contrib_rows.device).index_add_(0, rows.to(contrib_rows.device),
                                                                         contrib_rows.detach())
            contrib = contrib.reshape(len(batch), mask.shape[1], n_concepts)
            for j, i in enumerate(batch):
                per_text[i] = contrib[j].sum(0).double().cpu().numpy()
                chosen_all[i] = int(chosen[j])
                scores_all[i] = float(score[j].detach())
            bar.update(len(batch))
    matrix = np.stack(per_text)  # type: ignore[arg-type]
    if split.kind == "classifier":
        labels = tuple(split.adapter.class_labels()[c] if c < len(split.adapter.class_labels()) else str(c)
                       for c in chosen_all)
    else:
        labels = tuple(split.tokenizer.decode([c]) for c in chosen_all)
    assert n_concepts is not None
    return ConceptImportance(
        per_text=matrix, mean=matrix.mean(0), mean_abs=np.abs(matrix).mean(0), targets=tuple(chosen_all),
        labels=labels, method="gradient_x_activation" if times_activation else "gradient", split_point=point,
        scores=scores_all, excluded=tuple(excluded_all), hygiene=None if rule is None else rule.summary(),
    )

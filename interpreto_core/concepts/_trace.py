"""Input -> concept -> output traceability: attribute a concept's activation to the input words.

:class:`ConceptModel` is a module whose "logits" are concept activations: the model runs up to
the split point (the rest is skipped), the learner encodes the hidden states, and the codes of
each concept are pooled over the text's tokens. Wrapped in a ``ModelAdapter`` (kind
``classifier``: one "class" per concept), any attribution method of ``Explainer`` explains a
concept exactly as it explains a class: which words light the concept up. Combined with
:func:`concept_importance` (how much the concept drives the prediction) this traces input ->
concept -> output.

Activation hygiene: the learner is fed what it was fitted on (``learner.hygiene``, or
``hygiene=``): hidden states standardised with the stored mean / std when its rows were, and the
positions its rows left out (outlier-norm / attention-sink tokens, ``exclude_positions``) are left
out of the pooling. The outlier rule reads each input's own hidden-state norms, over its unpadded
positions (an attribution method feeds embeddings, so special tokens cannot be told apart here).
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from types import SimpleNamespace
from typing import Any

import numpy as np
import torch

from .._adapters import ModelAdapter
from .._errors import InputError
from ._split import SplitModel, hidden_of

__all__ = ["ConceptModel", "concept_adapter", "explain_concept", "POOLINGS"]

POOLINGS = ("mean", "max", "sum")


class ConceptModel(torch.nn.Module):
    """A model whose outputs are the activations of concepts, pooled over each text's tokens.

    ``forward(input_ids=None, inputs_embeds=None, attention_mask=None)`` returns an object with
    ``logits (B, C)``: ``pool_p z_{p,c}`` over the unpadded positions p, with
    ``z = learner.encode(h)`` and h the hidden states at ``split_point``.

    Parameters
    ----------
    split, learner:
        The split model and a learner fitted on its activations.
    split_point:
        Which split point (default: the only one).
    pooling:
        ``mean`` (default), ``max`` or ``sum`` over the positions.
    concepts:
        Keep only these concepts as outputs (default: all), in this order.
    hygiene:
        None (default): the learner's own (``learner.hygiene``); False: none (raw hidden states,
        every position pooled); or an ``Activations`` / ``ActivationHygiene`` / ``HygieneRule``.
    """

    def __init__(
        self,
        split: SplitModel,
        learner: Any,
        *,
        split_point: int | str | None = None,
        pooling: str = "mean",
        concepts: Sequence[int] | None = None,
        hygiene: Any = None,
    ) -> None:
        from ._hygiene import resolve_hygiene

        super().__init__()
        if pooling not in POOLINGS:
            raise InputError(f"unknown pooling {pooling!r}; choose one of {', '.join(POOLINGS)}")
        if not getattr(learner, "fitted", False):
            raise InputError("the learner is not fitted: call learner.fit(activations) first")
        if learner.device != split.adapter.device:
            learner.to(split.adapter.device)  # the learner runs where the model runs
        self.split, self.learner, self.pooling = split, learner, pooling
        self.hygiene = resolve_hygiene(hygiene, learner)
        if self.hygiene is not None and callable(self.hygiene.exclude_positions):
            raise InputError("the learner's rows left out positions chosen by a callable of the tokens, which a "
                             "ConceptModel (fed embeddings) cannot apply: pass hygiene= with integer "
                             "exclude_positions, or hygiene=False")
        self.point = split.point_name(split_point)
        n = int(learner.dictionary.shape[0])
        self.concepts = list(range(n)) if concepts is None else list(concepts)
        bad = [c for c in self.concepts if not isinstance(c, int) or not 0 <= c < n]
        if bad:
            raise InputError(f"concepts {bad} out of range: the learner has {n} concepts")
        self.inner = split._copy  # shares the user's weights; registered so parameters() works
        config = copy.deepcopy(split.model.config)
        config.id2label = {i: f"concept {c}" for i, c in enumerate(self.concepts)}
        config.label2id = {v: k for k, v in config.id2label.items()}
        self.config = config
        self.eval()

    def get_input_embeddings(self) -> torch.nn.Module:
        return self.split.model.get_input_embeddings()

    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        **_: Any,
    ) -> SimpleNamespace:
        kwargs: dict[str, Any] = {"attention_mask": attention_mask}
        if inputs_embeds is not None:
            kwargs["inputs_embeds"] = inputs_embeds
        else:
            kwargs["input_ids"] = input_ids
        held: dict[str, Any] = {}
        envoy = self.split.envoy_at(self.point)
        with self.split.envoy.trace(**kwargs) as tracer:
            held["h"] = envoy.output.save()
            tracer.stop()
        h = hidden_of(held["h"])
        b, length, hidden = h.shape
        rule = self.hygiene
        flat = h.reshape(-1, hidden)
        z = self.learner.encode(rule.standardise(flat) if rule is not None else flat)
        z = z.reshape(b, length, -1)[..., self.concepts]
        mask = (attention_mask if attention_mask is not None else torch.ones(b, length)).to(z.device, z.dtype)
        mask = mask * self.kept(h, mask)
        mask = mask[:, :, None]
        if self.pooling == "max":
            pooled = z.masked_fill(mask == 0, -torch.inf).amax(1)
            pooled = torch.where(mask.sum(1) > 0, pooled, torch.zeros_like(pooled))  # nothing pooled: 0
        else:
            pooled = (z * mask).sum(1)
            if self.pooling == "mean":
                pooled = pooled / mask.sum(1).clamp_min(1)
        return SimpleNamespace(logits=pooled)

    def kept(self, h: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """``(B, L)``: 1 at the positions the hygiene keeps, 0 at those it leaves out (outliers among
        each row's unpadded positions, asked positions counted in the unpadded text)."""
        keep = torch.ones_like(mask)
        rule = self.hygiene
        if rule is None or (rule.factor is None and rule.exclude_description is None):
            return keep
        norms = h.detach().float().norm(dim=-1).cpu().numpy()
        lengths = mask.detach().sum(1).long().tolist()
        for j, n in enumerate(lengths):
            real = np.flatnonzero(mask[j].detach().cpu().numpy() > 0)
            gone = rule.excluded(norms[j], real, [""] * n, real)
            if gone:
                keep[j, sorted(gone)] = 0
        return keep


def concept_adapter(
    split: SplitModel,
    learner: Any,
    *,
    split_point: int | str | None = None,
    pooling: str = "mean",
    concepts: Sequence[int] | None = None,
    hygiene: Any = None,
) -> ModelAdapter:
    """A ``ModelAdapter`` over :class:`ConceptModel`: pass it to ``Explainer`` / ``explain`` as
    the model, with a concept's index (its position in ``concepts``) as the target."""
    model = ConceptModel(split, learner, split_point=split_point, pooling=pooling, concepts=concepts,
                         hygiene=hygiene)
    return ModelAdapter(model, split.tokenizer, kind="classifier", max_length=split.adapter.max_length)


def explain_concept(
    split: SplitModel,
    learner: Any,
    texts: str | Sequence[str],
    *,
    concepts: int | Sequence[int],
    method: str = "integrated_gradients",
    granularity: str = "word",
    split_point: int | str | None = None,
    pooling: str = "mean",
    hygiene: Any = None,
    **params: Any,
) -> list[Any]:
    """Attribute concept activations to the input: one ``Explanation`` per text, one target per concept.

    ``method`` is any registered attribution method; ``params`` go to ``Explainer``; ``hygiene``
    as in :class:`ConceptModel` (default: the learner's own).
    """
    from .._attribution import Explainer

    chosen = [concepts] if isinstance(concepts, int) else list(concepts)
    adapter = concept_adapter(split, learner, split_point=split_point, pooling=pooling, concepts=chosen,
                              hygiene=hygiene)
    n_texts = 1 if isinstance(texts, str) else len(texts)
    targets = [list(range(len(chosen)))] * n_texts
    return Explainer(adapter, method=method, granularity=granularity, **params).explain(texts, targets)

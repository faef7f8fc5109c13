"""interpreto-similarity: explain the cosine similarity of two sentence embeddings.

A bi-encoder (sentence-transformers style: ``all-MiniLM-L6-v2``, ``all-mpnet-base-v2`` ...) embeds
each text on its own — ``[CLS] a [SEP]`` and ``[CLS] b [SEP]`` — pools the last hidden states
(mean over the attention mask, or the [CLS] state) and compares the two vectors with a cosine.
This task explains that one number: which words of either text make the two sentences alike.

The two texts are laid end to end in one row (``ids_a + ids_b``; ``layout["length_a"]`` splits
them, as the built-in seq2seq task splits its source and decoder streams): the engine does not
know there are two streams, so every attribution method and metric of interpreto-core runs on it.

This module imports only :mod:`interpreto_core.plugin`, the public plugin API.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from interpreto_core.plugin import Elements, Target, Task, TaskItem, hookimpl

__all__ = ["ENCODERS", "PAIR_SEPARATOR", "POOLINGS", "SentenceSimilarity"]

__version__ = "0.1.0"

#: the display text of a pair is ``text_a + PAIR_SEPARATOR + text_b`` (as for classifier pairs)
PAIR_SEPARATOR = "\n\n"

#: bare encoders (no head) this task claims; any other model can still be forced with
#: ``task="sentence_similarity"`` when no other task claims it
ENCODERS = frozenset({"BertModel", "RobertaModel", "XLMRobertaModel", "MPNetModel", "DistilBertModel"})

POOLINGS = ("mean", "cls")


def _is_cosine(target: Any) -> bool:
    """The only target a user may name: the cosine (``None``, ``0`` or ``"cosine"``)."""
    if target is None or (isinstance(target, str) and target == "cosine"):
        return True
    return isinstance(target, int | np.integer) and not isinstance(target, bool) and int(target) == 0


class SentenceSimilarity(Task):
    """Bi-encoders (a bare ``BertModel``, ``MPNetModel`` ...): the cosine of two pooled embeddings.

    An input is a ``(text_a, text_b)`` pair; each text is encoded separately, with its own special
    tokens. Elements come from both texts (segment 0: ``text_a``, 1: ``text_b``). There is one
    target, ``cosine``: the cosine similarity of the two pooled last hidden states.

    Scores: ``logit`` (the default) explains the raw cosine; a third-party score is called on
    ``logits (B, W, 1)`` holding the cosine with target 0. Scores that read a distribution
    (probability, log-probability, entropy: constant on one value) or need a foil are refused.

    Parameters
    ----------
    pooling:
        ``mean`` (default; the mean of the last hidden states over the attention mask, special
        tokens included, as sentence-transformers do) or ``cls`` (the first token's state).
    """

    name = "sentence_similarity"
    priority = 30
    default_score = "logit"
    metric_score = "logit"  # a cosine is not a distribution: metrics read it as it is
    input_help = "a (text_a, text_b) pair of strings; its one target is the cosine of their embeddings"

    def __init__(self, *, pooling: str = "mean") -> None:
        if pooling not in POOLINGS:
            raise self.input_error(f"pooling must be one of {', '.join(POOLINGS)}, got {pooling!r}")
        self.pooling = pooling
        self._checked_scores: set[type] = set()  # scores take no parameters: checked once per class

    @classmethod
    def claims(cls, model: Any) -> bool:
        config = getattr(model, "config", None)
        if getattr(config, "is_encoder_decoder", False):
            return False
        return type(model).__name__ in ENCODERS

    def check_model(self) -> None:
        if getattr(self.model.config, "is_encoder_decoder", False):
            raise self.input_error(f"{type(self.model).__name__} is an encoder-decoder; this task needs a bare encoder")

    # -- inputs -----------------------------------------------------------------------------------
    def _encode(self, raw: Any, granularity: str) -> tuple[str, list[int], int, Elements, tuple[int, ...], bool]:
        """``(display text, ids_a + ids_b, len(ids_a), elements, segment of each element, truncated)``."""
        if not (isinstance(raw, tuple | list) and len(raw) == 2 and all(isinstance(t, str) for t in raw)):
            raise self.input_error(f"got {type(raw).__name__} {raw!r:.60}")
        a, b = raw
        if not a.strip() or not b.strip():
            raise self.input_error("both texts of a pair must be non-empty")
        enc_a = self.adapter.encode(a, continued=False)
        enc_b = self.adapter.encode(b, continued=False)
        el_a, el_b = enc_a.elements(granularity), enc_b.elements(granularity)
        n_a = len(enc_a.input_ids)
        shift = len(a) + len(PAIR_SEPARATOR)
        elements = Elements(
            texts=el_a.texts + el_b.texts,
            spans=el_a.spans + tuple(None if s is None else (s[0] + shift, s[1] + shift) for s in el_b.spans),
            token_groups=el_a.token_groups + tuple(tuple(t + n_a for t in g) for g in el_b.token_groups),
            granularity=granularity,
        )
        segments = (0,) * len(el_a) + (1,) * len(el_b)
        ids = list(enc_a.input_ids) + list(enc_b.input_ids)
        return a + PAIR_SEPARATOR + b, ids, n_a, elements, segments, enc_a.truncated or enc_b.truncated

    def prepare(self, inputs, *, targets, contrasts, granularity):
        for tgt in targets:
            if not _is_cosine(tgt):
                raise self.input_error(
                    f"the only target is the cosine similarity (None, 0 or 'cosine'), got {tgt!r:.60}"
                )
        if any(c is not None for c in contrasts):
            raise self.input_error("a cosine similarity has one target and no foil: leave contrast unset")
        encoded = [self._encode(raw, granularity) for raw in inputs]
        cosines = self._cosines([(ids, n_a) for _, ids, n_a, _, _, _ in encoded])
        items = []
        for raw, (text, ids, n_a, elements, segments, truncated), cos in zip(inputs, encoded, cosines, strict=True):
            target = Target(index=0, label="cosine", info={"cosine": float(cos), "pooling": self.pooling})
            items.append(TaskItem(
                input=list(raw), text=text, ids=ids, elements=elements, targets=[target],
                visible=np.ones((1, len(elements)), dtype=bool), segments=segments,
                segment_names=("text_a", "text_b"), layout={"length_a": n_a}, truncated=truncated,
            ))
        return items

    def _cosines(self, pairs: Sequence[tuple[list[int], int]], batch_size: int = 32) -> list[float]:
        """The cosine of each ``(ids_a + ids_b, len(ids_a))`` pair, computed as :meth:`scores` does."""
        import torch

        out: list[float] = []
        with torch.no_grad():
            for start in range(0, len(pairs), batch_size):
                chunk = pairs[start : start + batch_size]
                streams = [ids[:n_a] for ids, n_a in chunk] + [ids[n_a:] for ids, n_a in chunk]
                width = max(len(s) for s in streams)
                x = torch.full((len(streams), width), self.adapter.pad_id, dtype=torch.long)
                mask = torch.zeros((len(streams), width), dtype=torch.long)
                for r, s in enumerate(streams):
                    x[r, : len(s)] = torch.tensor(s)
                    mask[r, : len(s)] = 1
                embeds = self.adapter.embed(x)
                out += self._cosine(embeds, mask.to(embeds.device)).tolist()
        return out

    # -- scores -----------------------------------------------------------------------------------
    def _cosine(self, halves: Any, mask: Any) -> Any:
        """``(B,)`` cosines of rows ``[:B]`` (text_a) and ``[B:]`` (text_b) of embedded ``halves (2B, L, H)``."""
        import torch

        out = self.model(inputs_embeds=halves, attention_mask=mask)
        hidden = getattr(out, "last_hidden_state", None)
        if hidden is None:
            raise self.input_error(f"{type(self.model).__name__} returns no last_hidden_state: pass a bare encoder "
                                   "(AutoModel.from_pretrained), not a model with a head")
        if self.pooling == "mean":
            m = mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * m).sum(1) / m.sum(1).clamp(min=1e-9)
        else:
            pooled = hidden[:, 0]
        pooled = pooled.float()
        b = len(pooled) // 2
        return torch.nn.functional.cosine_similarity(pooled[:b], pooled[b:], dim=-1)

    def _check_score(self, score: Any) -> None:
        """Refuse scores that need a foil or read a distribution (constant on a single value)."""
        if type(score) in self._checked_scores:
            return
        import torch

        name = getattr(score, "name", "") or type(score).__name__
        if getattr(score, "needs_foil", False):
            raise self.input_error(f"score {name!r} compares the target with a foil, but a similarity has one target "
                                   "(the cosine) and no foil; use score='logit' (the raw cosine)")
        probe = score(torch.tensor([[[-0.5]], [[0.5]]]), torch.zeros((2, 1), dtype=torch.long), None)
        probe = torch.as_tensor(probe, dtype=torch.float32).reshape(-1)
        if probe.numel() != 2 or not bool(torch.isfinite(probe).all()) or float((probe[1] - probe[0]).abs()) < 1e-6:
            raise self.input_error(
                f"score {name!r} does not read a single value: it is constant on one cosine (a probability, "
                "log-probability or entropy normalises over classes, and a cosine is not a distribution); "
                "use score='logit' (the raw cosine)"
            )
        self._checked_scores.add(type(score))

    def scores(self, batch, score):
        import torch

        self._check_score(score)
        emb, mask = batch.inputs_embeds, batch.attention_mask
        b, _, hidden = emb.shape
        len_a = [it.layout["length_a"] for it in batch.items]
        len_b = [it.length - n for it, n in zip(batch.items, len_a, strict=True)]
        width = max(len_a + len_b)
        halves = emb.new_zeros((2 * b, width, hidden))
        halves_mask = mask.new_zeros((2 * b, width))
        for i, start, n in batch.segments:  # split each item's rows at its text_a length
            na, nb = len_a[i], len_b[i]
            rows, rows_b = slice(start, start + n), slice(b + start, b + start + n)
            halves[rows, :na] = emb[rows, :na]
            halves[rows_b, :nb] = emb[rows, na : na + nb]
            halves_mask[rows, :na] = 1
            halves_mask[rows_b, :nb] = 1
        cos = self._cosine(halves, halves_mask)  # (B,)
        width_t = batch.target.shape[1]
        logits = cos[:, None, None].expand(b, width_t, 1)
        target = torch.zeros((b, width_t), dtype=torch.long, device=cos.device)
        return score(logits, target, None)


@hookimpl
def interpreto_register_task(register):
    register(SentenceSimilarity, name="sentence_similarity",
             summary="Bi-encoders (bare BertModel, MPNetModel ...): a (text_a, text_b) pair -> the cosine of "
                     "their pooled embeddings.")

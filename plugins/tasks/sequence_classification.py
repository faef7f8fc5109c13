"""Sequence classification: a text, or a ``(text_a, text_b)`` pair (NLI, cross-encoders).

Targets are class indices (or label names from ``config.id2label``); ``None`` explains the
predicted class. A pair's elements come from both texts; each element records its segment
(0: first text, 1: second), shown in the HTML. The joined display text is
``text_a + "\\n\\n" + text_b``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from interpreto_core.plugin import Elements, Target, Task, TaskItem, hookimpl, split_pair_elements


class SequenceClassification(Task):
    """Any ``*ForSequenceClassification`` model: one score per class, read from the pooled output."""

    name = "sequence_classification"
    priority = 50
    default_score = "logit"
    input_help = "a text, or a (text_a, text_b) pair"

    @classmethod
    def claims(cls, model: Any) -> bool:
        return type(model).__name__.endswith("ForSequenceClassification")

    def labels(self) -> list[str]:
        return self.adapter.class_labels()

    def _class_ids(self, target: Any, what: str = "target") -> list[int]:
        labels = self.labels()
        items = target if isinstance(target, Sequence) and not isinstance(target, str) else [target]
        out = []
        for c in items:
            if isinstance(c, str):
                if c not in labels:
                    raise self.input_error(f"{what} {c!r} is not a label of the model; labels: {', '.join(labels)}")
                c = labels.index(c)
            if isinstance(c, bool) or not isinstance(c, int | np.integer) or not 0 <= int(c) < len(labels):
                raise self.input_error(
                    f"{what} {c!r} is out of range: the model has {len(labels)} classes (0..{len(labels) - 1}); "
                    "a target is a class index or a label name"
                )
            out.append(int(c))
        if not out:
            raise self.input_error(f"empty {what} list")
        return out

    def _encode(self, raw: Any, granularity: str) -> tuple[str, list[int], Elements, tuple[int, ...], bool, list[int]]:
        """``(text, ids, elements, segment of each element, truncated, token type ids or [])``."""
        adapter = self.adapter
        if isinstance(raw, str):
            enc = adapter.encode(raw)
            elements = enc.elements(granularity)
            return raw, list(enc.input_ids), elements, (0,) * len(elements), enc.truncated, []
        if not (isinstance(raw, tuple | list) and len(raw) == 2 and all(isinstance(t, str) for t in raw)):
            raise self.input_error(f"got {type(raw).__name__} {raw!r:.60}")
        a, b = raw
        if not a.strip() or not b.strip():
            raise self.input_error("both texts of a pair must be non-empty")
        if not adapter.is_fast:
            raise self.input_error("text pairs need a fast tokenizer "
                                   "(AutoTokenizer.from_pretrained(..., use_fast=True))")
        enc = self.tokenizer(a, b, return_offsets_mapping=True, truncation=True, max_length=adapter.max_length,
                             split_special_tokens=True)
        full = self.tokenizer(a, b, split_special_tokens=True)
        truncated = len(full["input_ids"]) > len(enc["input_ids"])
        ids = list(enc["input_ids"])
        text, _, elements, segments = split_pair_elements(
            text_a=a, text_b=b, tokens=self.tokenizer.convert_ids_to_tokens(ids), sequence_ids=enc.sequence_ids(),
            offsets=[tuple(o) for o in enc["offset_mapping"]], granularity=granularity)
        # BERT-like models read the pair's second text with token type 1
        types = list(enc["token_type_ids"]) if "token_type_ids" in enc and any(enc["token_type_ids"]) else []
        return text, ids, elements, segments, truncated, types

    def prepare(self, inputs, *, targets, contrasts, granularity):
        labels = self.labels()
        encoded = [self._encode(raw, granularity) for raw in inputs]
        predicted: list[int] = []
        if any(t is None for t in targets):
            predicted = self._predict([e[1] for e in encoded], [e[5] for e in encoded])
        items = []
        for i, ((text, ids, elements, segments, truncated, types), raw, tgt, foil) in enumerate(
            zip(encoded, inputs, targets, contrasts, strict=True)
        ):
            classes = [predicted[i]] if tgt is None else self._class_ids(tgt)
            foils: list[int | None] = [None] * len(classes)
            if foil is not None:
                f = self._class_ids(foil, "contrast")
                if len(f) == 1:
                    f = f * len(classes)
                if len(f) != len(classes):
                    raise self.input_error(f"contrast has {len(f)} classes for {len(classes)} targets: "
                                           "give one, or one per target")
                foils = list(f)
            tgts = [Target(index=c, label=labels[c], foil=fo, foil_label=None if fo is None else labels[fo])
                    for c, fo in zip(classes, foils, strict=True)]
            pair = not isinstance(raw, str)
            items.append(TaskItem(
                input=list(raw) if pair else raw, text=text, ids=ids, elements=elements, targets=tgts,
                visible=np.ones((len(tgts), len(elements)), dtype=bool),
                segments=segments if pair else (), segment_names=("text_a", "text_b") if pair else (),
                truncated=truncated, layout={"token_type_ids": types} if types else {},
            ))
        return items

    def _predict(self, ids: list[list[int]], types: list[list[int]], batch_size: int = 32) -> list[int]:
        """The predicted class of each token id sequence (batched, right-padded)."""
        import torch

        out: list[int] = []
        device = self.adapter.device
        with torch.no_grad():
            for start in range(0, len(ids), batch_size):
                chunk, tchunk = ids[start : start + batch_size], types[start : start + batch_size]
                length = max(len(x) for x in chunk)
                x = torch.full((len(chunk), length), self.adapter.pad_id, dtype=torch.long)
                mask = torch.zeros_like(x)
                kwargs = {}
                for r, seq in enumerate(chunk):
                    x[r, : len(seq)] = torch.tensor(seq)
                    mask[r, : len(seq)] = 1
                if any(tchunk):
                    tt = torch.zeros_like(x)
                    for r, t in enumerate(tchunk):
                        if t:
                            tt[r, : len(t)] = torch.tensor(t)
                    kwargs["token_type_ids"] = tt.to(device)
                logits = self.model(input_ids=x.to(device), attention_mask=mask.to(device), **kwargs).logits
                out += logits.argmax(-1).tolist()
        return out

    def scores(self, batch, score):
        kwargs = {}
        if any("token_type_ids" in it.layout for it in batch.items):
            kwargs["token_type_ids"] = self._token_types(batch)
        logits = self.model(inputs_embeds=batch.inputs_embeds, attention_mask=batch.attention_mask,
                            **kwargs).logits  # (B, C)
        index = batch.target_field("index")
        foil = batch.target_field("foil") if score.needs_foil else None
        return score(logits[:, None, :].expand(-1, index.shape[1], -1), index, foil)


    @staticmethod
    def _token_types(batch: Any) -> Any:
        import torch

        types = torch.zeros(batch.attention_mask.shape, dtype=torch.long)
        for i, start, n in batch.segments:
            t = batch.items[i].layout.get("token_type_ids")
            if t:
                types[start : start + n, : len(t)] = torch.tensor(t)
        return types.to(batch.attention_mask.device)


@hookimpl
def interpreto_register_task(register):
    register(SequenceClassification, name="sequence_classification",
             summary="Classifiers (*ForSequenceClassification): a text or a (text_a, text_b) pair -> class scores.")

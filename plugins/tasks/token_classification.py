"""Token classification (NER, POS tagging): a text; each target is one element's label.

Targets, per input: ``None`` explains every element's predicted label (``T = E`` targets: an
``E x E`` matrix, row t = why element t got its label); or an ``(element_index, label)`` pair,
or a list of them, where ``label`` is a label id or a name from ``config.id2label`` (``None``:
the element's predicted label). A target is read at the first token of its element
(``Target.position``), the usual convention for words split into several sub-tokens;
``Target.index`` is the label id, ``Target.info = {"element": e}`` and the label reads
``"<element text>: <label name>"``.

``contrast=`` is a label (id or name) for every target, or a list of one label per target: the
foil, read at the same position ("why B-PER rather than O?").
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from interpreto_core.plugin import Target, Task, TaskItem, hookimpl


def _is_int(value: Any) -> bool:
    return isinstance(value, int | np.integer) and not isinstance(value, bool)


class TokenClassification(Task):
    """Any ``*ForTokenClassification`` model: one label distribution per token, read at an
    element's first token."""

    name = "token_classification"
    priority = 40
    default_score = "logit"
    input_help = "a text; a target is an (element_index, label) pair, a list of them, or None (every element)"

    @classmethod
    def claims(cls, model: Any) -> bool:
        return type(model).__name__.endswith("ForTokenClassification")

    def labels(self) -> list[str]:
        return self.adapter.class_labels()

    def _label_id(self, label: Any, what: str) -> int:
        labels = self.labels()
        if isinstance(label, str):
            if label not in labels:
                raise self.input_error(
                    f"{what} label {label!r} is not a label of the model; labels: {', '.join(labels)}"
                )
            return labels.index(label)
        if not _is_int(label) or not 0 <= int(label) < len(labels):
            raise self.input_error(
                f"{what} label {label!r} is out of range: the model has {len(labels)} labels (0..{len(labels) - 1}); "
                "a label is a label id or a name from config.id2label"
            )
        return int(label)

    def _pairs(self, target: Any, n_elements: int) -> list[tuple[int, Any]]:
        """The ``(element, label or None)`` pairs asked for one input."""
        def is_pair(v: Any) -> bool:
            return (isinstance(v, Sequence) and not isinstance(v, str) and len(v) == 2 and _is_int(v[0])
                    and (v[1] is None or isinstance(v[1], str) or _is_int(v[1])))

        if is_pair(target):
            pairs = [target]
        elif (isinstance(target, Sequence) and not isinstance(target, str) and target
              and all(is_pair(p) for p in target)):
            pairs = list(target)
        else:
            raise self.input_error(
                f"a target is an (element_index, label) pair, a list of pairs, or None for every element's "
                f"predicted label; got {target!r:.60}"
            )
        out = []
        for e, label in pairs:
            if not 0 <= int(e) < n_elements:
                raise self.input_error(
                    f"target element {int(e)} is out of range: "
                    f"the input has {n_elements} elements (0..{n_elements - 1})"
                )
            out.append((int(e), label))
        return out

    def _logits(self, ids_batch: Sequence[Sequence[int]], batch_size: int = 32) -> list[np.ndarray]:
        """Per input, the ``(L, C)`` logits of its tokens."""
        import torch

        out: list[np.ndarray] = []
        with torch.no_grad():
            for i in range(0, len(ids_batch), batch_size):
                chunk = ids_batch[i : i + batch_size]
                length = max(len(s) for s in chunk)
                ids = torch.full((len(chunk), length), self.adapter.pad_id, dtype=torch.long)
                mask = torch.zeros((len(chunk), length), dtype=torch.long)
                for r, s in enumerate(chunk):
                    ids[r, : len(s)] = torch.tensor(list(s), dtype=torch.long)
                    mask[r, : len(s)] = 1
                logits = self.model(input_ids=ids.to(self.adapter.device),
                                    attention_mask=mask.to(self.adapter.device)).logits.float().cpu().numpy()
                out.extend(logits[r, : len(s)] for r, s in enumerate(chunk))
        return out

    def prepare(self, inputs, *, targets, contrasts, granularity):
        labels = self.labels()
        encoded = []
        for raw in inputs:
            if not isinstance(raw, str):
                raise self.input_error(f"got {type(raw).__name__} {raw!r:.60}")
            enc = self.adapter.encode(raw)
            encoded.append((enc, enc.elements(granularity)))
        pairs = []
        for (_, elements), tgt in zip(encoded, targets, strict=True):
            pairs.append([(e, None) for e in range(len(elements))] if tgt is None else self._pairs(tgt, len(elements)))
        need = [i for i, ps in enumerate(pairs) if any(label is None for _, label in ps)]
        predicted = dict(zip(need, self._logits([encoded[i][0].input_ids for i in need]), strict=True))
        items = []
        for i, ((enc, elements), raw, foil) in enumerate(zip(encoded, inputs, contrasts, strict=True)):
            firsts = [min(g) for g in elements.token_groups]
            ids_labels = [
                (e, int(predicted[i][firsts[e]].argmax()) if label is None else self._label_id(label, "target"))
                for e, label in pairs[i]
            ]
            foils: list[int | None] = [None] * len(ids_labels)
            if foil is not None:
                many = isinstance(foil, Sequence) and not isinstance(foil, str)
                f = [self._label_id(x, "contrast") for x in (foil if many else [foil])]
                if len(f) == 1:
                    f = f * len(ids_labels)
                if len(f) != len(ids_labels):
                    raise self.input_error(f"contrast has {len(f)} labels for {len(ids_labels)} targets: give one, "
                                           "or one per target")
                foils = list(f)
            tgts = [
                Target(index=c, label=f"{elements.texts[e]}: {labels[c]}", position=firsts[e], foil=fo,
                       foil_label=None if fo is None else f"{elements.texts[e]}: {labels[fo]}", info={"element": e})
                for (e, c), fo in zip(ids_labels, foils, strict=True)
            ]
            items.append(TaskItem(
                input=raw, text=raw, ids=enc.input_ids, elements=elements, targets=tgts,
                visible=np.ones((len(tgts), len(elements)), dtype=bool), truncated=enc.truncated,
            ))
        return items

    def scores(self, batch, score):
        logits = self.model(inputs_embeds=batch.inputs_embeds, attention_mask=batch.attention_mask).logits  # (B, L, C)
        position = batch.target_field("position")
        index = batch.target_field("index")
        foil = batch.target_field("foil") if score.needs_foil else None
        picked = logits.gather(1, position.unsqueeze(-1).expand(-1, -1, logits.shape[-1]))  # (B, W, C)
        return score(picked, index, foil)


@hookimpl
def interpreto_register_task(register):
    register(TokenClassification, name="token_classification",
             summary="Token classifiers (*ForTokenClassification, NER): a text -> each element's label score.")

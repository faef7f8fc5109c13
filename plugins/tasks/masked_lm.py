"""Masked language modelling (fill-mask): a text with mask tokens; a target is a token at a mask.

Inputs: a text containing the tokenizer's mask token, written literally (``"Paris is the
[MASK] of France."`` for BERT, ``<mask>`` for RoBERTa). The mask tokens are never elements and
never masked: they stay where the model reads its predictions.

Targets, per input: ``None`` explains the top token at each mask (one target per mask); for a
text with one mask, a token (a string of one token, or a token id) or a list of tokens (several
candidates at that mask); for a text with k masks, a list of k entries, one per mask (each a
token, a list of tokens, or None for the top token). ``Target.position`` is the mask's
position, ``Target.index`` the token id, ``Target.info = {"mask": k}`` (which mask).

``contrast=`` is a token for every target, or a list of one token per target (the foil at the
same mask: "why 'capital' rather than 'city'?").
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from interpreto_core.plugin import Elements, Target, Task, TaskItem, hookimpl


def _is_int(value: Any) -> bool:
    return isinstance(value, int | np.integer) and not isinstance(value, bool)


def _is_list(value: Any) -> bool:
    return isinstance(value, Sequence) and not isinstance(value, str)


class MaskedLM(Task):
    """Any ``*ForMaskedLM`` model: a vocabulary distribution at each mask token."""

    name = "masked_lm"
    priority = 40
    default_score = "log_probability"
    input_help = "a text containing the tokenizer's mask token (e.g. 'Paris is the [MASK] of France.')"

    @classmethod
    def claims(cls, model: Any) -> bool:
        return type(model).__name__.endswith("ForMaskedLM")

    def check_model(self) -> None:
        mask = getattr(self.tokenizer, "mask_token_id", None)
        if mask is None:
            raise self.input_error("the tokenizer has no mask token, so no text can hold a mask to fill")
        self.mask_id, self.mask_token = int(mask), str(self.tokenizer.mask_token)

    # -- encoding ---------------------------------------------------------------------------------
    def _encode(self, raw: Any, granularity: str) -> tuple[Any, Elements, list[int]]:
        if not isinstance(raw, str):
            raise self.input_error(f"got {type(raw).__name__} {raw!r:.60}")
        enc = self.adapter.encode(raw, continued=False, split_special=False)  # the mask is a control token
        masks = [k for k, t in enumerate(enc.input_ids) if t == self.mask_id]
        if not masks:
            if self.mask_token in raw:
                raise self.input_error(f"every mask token of {raw!r:.60} lies in the part cut by truncation to "
                                       f"{self.adapter.max_length} tokens")
            raise self.input_error(f"the text {raw!r:.60} contains no mask token {self.mask_token!r}: write it "
                                   "where the model should fill in a token")
        elements = enc.elements(granularity)
        at = set(masks)
        offsets = enc.offsets
        mask_chars = [offsets[k] for k in masks] if offsets is not None else []
        # a mask is never an element (at granularity all_tokens it would be one)
        kept = []
        for t, s, g in zip(elements.texts, elements.spans, elements.token_groups, strict=True):
            g = tuple(x for x in g if x not in at)
            if not g:
                continue
            if s is not None and offsets is not None and any(a < s[1] and s[0] < b for a, b in mask_chars):
                # a word unit that runs into the literal mask ("[MASK]." -> "].") keeps its own tokens' text
                s = (min(offsets[x][0] for x in g), max(offsets[x][1] for x in g))
                t = raw[s[0] : s[1]]
            kept.append((t, s, g))
        elements = Elements(texts=tuple(k[0] for k in kept), spans=tuple(k[1] for k in kept),
                            token_groups=tuple(k[2] for k in kept), granularity=granularity)
        return enc, elements, masks

    def _token_id(self, token: Any, what: str) -> int:
        vocab = self.adapter.vocab_size
        if _is_int(token):
            if not 0 <= int(token) < vocab:
                raise self.input_error(f"{what} token id {int(token)} is outside the vocabulary (0..{vocab - 1})")
            return int(token)
        if isinstance(token, str) and token:
            ids = self.tokenizer(token, add_special_tokens=False)["input_ids"]
            if len(ids) == 1:
                return int(ids[0])
            direct = self.tokenizer.convert_tokens_to_ids(token)
            if _is_int(direct) and direct != getattr(self.tokenizer, "unk_token_id", None) and 0 <= direct < vocab:
                return int(direct)  # a vocabulary entry such as '##ing'
            pieces = self.tokenizer.convert_ids_to_tokens(ids)
            raise self.input_error(f"{what} {token!r} is {len(ids)} tokens ({pieces}), not one: a mask is filled "
                                   "by exactly one token")
        raise self.input_error(f"a {what} token is a string of one token or a token id, got {token!r:.60}")

    def _asked(self, tgt: Any, n_masks: int) -> list[list[Any]]:
        """Per mask, the tokens asked (None: the top token)."""
        if tgt is None:
            return [[None] for _ in range(n_masks)]
        if n_masks == 1:
            return [list(tgt) if _is_list(tgt) else [tgt]]
        if not _is_list(tgt) or len(tgt) != n_masks:
            raise self.input_error(f"the text has {n_masks} mask tokens: give a list of {n_masks} targets, one per "
                                   f"mask (a token, a list of tokens, or None), or None; got {tgt!r:.60}")
        return [list(t) if _is_list(t) else [t] for t in tgt]

    def _predict(self, rows: Sequence[tuple[Sequence[int], Sequence[int]]], batch_size: int = 32) -> list[np.ndarray]:
        """Per input, the top token id at each of its masks."""
        import torch

        out = []
        with torch.no_grad():
            for i in range(0, len(rows), batch_size):
                chunk = rows[i : i + batch_size]
                length = max(len(ids) for ids, _ in chunk)
                ids = torch.full((len(chunk), length), self.adapter.pad_id, dtype=torch.long)
                mask = torch.zeros((len(chunk), length), dtype=torch.long)
                for r, (seq, _) in enumerate(chunk):
                    ids[r, : len(seq)] = torch.tensor(list(seq), dtype=torch.long)
                    mask[r, : len(seq)] = 1
                logits = self.model(input_ids=ids.to(self.adapter.device),
                                    attention_mask=mask.to(self.adapter.device)).logits
                out.extend(logits[r, list(pos)].argmax(-1).cpu().numpy() for r, (_, pos) in enumerate(chunk))
        return out

    def prepare(self, inputs, *, targets, contrasts, granularity):
        encoded = [self._encode(raw, granularity) for raw in inputs]
        asked = [self._asked(tgt, len(masks)) for (_, _, masks), tgt in zip(encoded, targets, strict=True)]
        need = [i for i, a in enumerate(asked) if any(t is None for per_mask in a for t in per_mask)]
        top = dict(zip(need, self._predict([(encoded[i][0].input_ids, encoded[i][2]) for i in need]), strict=True))
        items = []
        for i, ((enc, elements, masks), raw, foil) in enumerate(zip(encoded, inputs, contrasts, strict=True)):
            chosen = [(k, int(top[i][k]) if t is None else self._token_id(t, "target"))
                      for k, per_mask in enumerate(asked[i]) for t in per_mask]
            foils: list[int | None] = [None] * len(chosen)
            if foil is not None:
                f = [self._token_id(x, "contrast") for x in (foil if _is_list(foil) else [foil])]
                if len(f) == 1:
                    f = f * len(chosen)
                if len(f) != len(chosen):
                    raise self.input_error(f"contrast has {len(f)} tokens for {len(chosen)} targets: give one, or one "
                                           "per target")
                foils = list(f)
            label = self.adapter.token_label
            tgts = [Target(index=t, label=label(t), position=masks[k], foil=fo,
                           foil_label=None if fo is None else label(fo), info={"mask": k})
                    for (k, t), fo in zip(chosen, foils, strict=True)]
            items.append(TaskItem(
                input=raw, text=raw, ids=enc.input_ids, elements=elements, targets=tgts,
                visible=np.ones((len(tgts), len(elements)), dtype=bool), truncated=enc.truncated,
            ))
        return items

    # -- scoring ----------------------------------------------------------------------------------
    def scores(self, batch, score):
        index = batch.target_field("index")
        foil = batch.target_field("foil") if score.needs_foil else None
        picked = self.adapter.logits_at(batch.target_field("position"), inputs_embeds=batch.inputs_embeds,
                                        attention_mask=batch.attention_mask)  # (B, W, V)
        return score(picked, index, foil)


@hookimpl
def interpreto_register_task(register):
    register(MaskedLM, name="masked_lm",
             summary="Masked LMs (*ForMaskedLM, fill-mask): a text with mask tokens -> the score of a token "
                     "at each mask.")

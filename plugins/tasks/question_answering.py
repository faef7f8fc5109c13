"""Extractive question answering: a ``(question, context)`` pair; a target is an answer span.

Inputs: a ``(question, context)`` tuple (or a list of two strings inside a list of inputs).
Elements come from both texts; each records its segment (0: question, 1: context). The joined
display text is ``question + "\\n\\n" + context``.

Targets, per input: ``None`` explains the predicted answer span (the best ``start <= end``
inside the context, at most ``max_answer_tokens`` tokens long, by ``start_logit + end_logit``,
as the HF pipeline); or a ``(start_char, end_char)`` span of the context (end exclusive, as
``context[start_char:end_char]``), or a list of spans. The characters are mapped to tokens
through the tokenizer's offsets. One :class:`Target` per span: ``index`` is its start token,
``info = {"end": end token, "span": [start_char, end_char]}``, the label is the answer text.

Scores: the model's ``start_logits`` and ``end_logits`` ``(B, L)`` are two distributions over
the input's positions (padding excluded); a score is taken on each (start, then end) and the
two are combined by the score (``logit``: start + end logit; ``log_probability``: log p(start)
+ log p(end); ``probability``: p(start) p(end)). ``contrast=`` is a span (one for every target,
or one per target): the foil span, read the same way.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from typing import Any

import numpy as np

from interpreto_core.plugin import Target, Task, TaskItem, hookimpl, split_pair_elements

#: the logit given to padding positions, so that they take no probability
_PAD_LOGIT = -1e9


def _is_int(value: Any) -> bool:
    return isinstance(value, int | np.integer) and not isinstance(value, bool)


def _is_span(value: Any) -> bool:
    return isinstance(value, Sequence) and not isinstance(value, str) and len(value) == 2 and all(
        _is_int(v) for v in value)


class QuestionAnswering(Task):
    """Any extractive ``*ForQuestionAnswering`` (or ``*ForQuestionAnsweringSimple``) model: start and
    end logits over the tokens.

    Parameters
    ----------
    max_answer_tokens:
        Longest predicted answer, in tokens (when no span is given).
    """

    name = "question_answering"
    priority = 40
    default_score = "logit"
    input_help = "a (question, context) pair of strings; a target is a (start_char, end_char) span of the context"

    def __init__(self, *, max_answer_tokens: int = 30) -> None:
        if not _is_int(max_answer_tokens) or max_answer_tokens < 1:
            raise self.input_error(f"max_answer_tokens must be a positive integer, got {max_answer_tokens!r}")
        self.max_answer_tokens = int(max_answer_tokens)

    @classmethod
    def claims(cls, model: Any) -> bool:
        return type(model).__name__.endswith(("ForQuestionAnswering", "ForQuestionAnsweringSimple"))

    def check_model(self) -> None:
        self.takes_token_types = "token_type_ids" in inspect.signature(self.model.forward).parameters

    # -- encoding ---------------------------------------------------------------------------------
    def _encode(self, raw: Any, granularity: str) -> dict[str, Any]:
        if isinstance(raw, str):
            raise self.input_error(
                f"got a single text {raw!r:.60}: a question answering model needs a context to find the answer in; "
                "pass (question, context)"
            )
        if not (isinstance(raw, tuple | list) and len(raw) == 2 and all(isinstance(t, str) for t in raw)):
            raise self.input_error(f"got {type(raw).__name__} {raw!r:.60}")
        question, context = raw
        if not question.strip() or not context.strip():
            raise self.input_error("both the question and the context must be non-empty")
        adapter, tok = self.adapter, self.tokenizer
        if not adapter.is_fast:
            raise self.input_error("question answering needs a fast tokenizer (offsets map answer spans to tokens); "
                                   "load it with AutoTokenizer.from_pretrained(..., use_fast=True)")
        try:
            enc = tok(question, context, return_offsets_mapping=True, truncation="only_second",
                      max_length=adapter.max_length, split_special_tokens=True)
        except Exception as exc:  # noqa: BLE001 - the fast tokenizer raises a bare Exception ("Truncation error: ...")
            # the question alone is longer than the model's maximum
            raise self.input_error(
                f"cannot fit the question and the context in {adapter.max_length} tokens: {exc}"
            ) from None
        truncated = len(tok(question, context, split_special_tokens=True)["input_ids"]) > len(enc["input_ids"])
        seq = enc.sequence_ids()
        ids = list(enc["input_ids"])
        if 1 not in seq:
            raise self.input_error(f"the question fills the model's {adapter.max_length} tokens: no context is left")
        raw_offsets = [tuple(o) for o in enc["offset_mapping"]]
        text, _, elements, segments = split_pair_elements(
            text_a=question, text_b=context, tokens=tok.convert_ids_to_tokens(ids), sequence_ids=seq,
            offsets=raw_offsets, granularity=granularity)
        layout: dict[str, Any] = {}
        context_tokens = [i for i, s in enumerate(seq) if s == 1]
        layout["context_tokens"] = [context_tokens[0], context_tokens[-1] + 1]
        types = enc.get("token_type_ids")
        if self.takes_token_types and types is not None and any(types):
            layout["token_type_ids"] = [int(t) for t in types]
        return {"question": question, "context": context, "text": text, "ids": ids, "elements": elements,
                "segments": tuple(segments), "truncated": truncated, "layout": layout,
                "context_tokens": context_tokens, "context_offsets": [raw_offsets[i] for i in context_tokens]}

    def _token_types(self, runs: Sequence[tuple[dict[str, Any], int, int]], shape: tuple[int, int]) -> Any:
        """``(B, L)`` token type ids from ``(layout, first row, n rows)`` runs (padding: 0)."""
        import torch

        out = torch.zeros(shape, dtype=torch.long)
        for layout, start, n in runs:
            types = layout.get("token_type_ids")
            if types:
                out[start : start + n, : len(types)] = torch.tensor(types, dtype=torch.long)
        return out.to(self.adapter.device)

    def _predict(self, encoded: Sequence[dict[str, Any]], batch_size: int = 32) -> list[tuple[np.ndarray, np.ndarray]]:
        """Per input, the ``(L,)`` start and end logits."""
        import torch

        out = []
        with torch.no_grad():
            for i in range(0, len(encoded), batch_size):
                chunk = encoded[i : i + batch_size]
                length = max(len(e["ids"]) for e in chunk)
                ids = torch.full((len(chunk), length), self.adapter.pad_id, dtype=torch.long)
                mask = torch.zeros((len(chunk), length), dtype=torch.long)
                for r, e in enumerate(chunk):
                    ids[r, : len(e["ids"])] = torch.tensor(e["ids"], dtype=torch.long)
                    mask[r, : len(e["ids"])] = 1
                kwargs: dict[str, Any] = {"input_ids": ids.to(self.adapter.device),
                                          "attention_mask": mask.to(self.adapter.device)}
                if any("token_type_ids" in e["layout"] for e in chunk):
                    kwargs["token_type_ids"] = self._token_types([(e["layout"], r, 1) for r, e in enumerate(chunk)],
                                                                 (len(chunk), length))
                res = self.model(**kwargs)
                start, end = res.start_logits.float().cpu().numpy(), res.end_logits.float().cpu().numpy()
                out.extend((start[r, : len(e["ids"])], end[r, : len(e["ids"])]) for r, e in enumerate(chunk))
        return out

    # -- spans ------------------------------------------------------------------------------------
    def _best_span(self, enc: dict[str, Any], start: np.ndarray, end: np.ndarray) -> tuple[int, int]:
        ctx = np.array(enc["context_tokens"])
        s, e = start[ctx], end[ctx]
        total = s[:, None] + e[None, :]
        k = np.arange(len(ctx))
        allowed = (k[None, :] >= k[:, None]) & (k[None, :] - k[:, None] < self.max_answer_tokens)
        total = np.where(allowed, total, -np.inf)
        a, b = np.unravel_index(int(np.argmax(total)), total.shape)
        return int(ctx[a]), int(ctx[b])

    def _span_tokens(self, enc: dict[str, Any], span: Any, what: str) -> tuple[int, int, list[int]]:
        """``(start token, end token, [start_char, end_char])`` of a context span."""
        if not _is_span(span):
            raise self.input_error(
                f"a {what} is a (start_char, end_char) span of the context, a list of spans, or None for the "
                f"predicted answer; got {span!r:.60}"
            )
        a, b = int(span[0]), int(span[1])
        n = len(enc["context"])
        if not 0 <= a < b <= n:
            raise self.input_error(f"{what} span {(a, b)} is not a span of the context: it needs "
                                   f"0 <= start_char < end_char <= {n} (end exclusive)")
        inside = [k for k, (cs, ce) in enumerate(enc["context_offsets"]) if ce > a and cs < b and ce > cs]
        if not inside:
            where = "lies in the truncated part of the context" if enc["truncated"] else "covers no token"
            raise self.input_error(f"{what} span {(a, b)} ({enc['context'][a:b]!r:.40}) {where}")
        tokens = enc["context_tokens"]
        return tokens[inside[0]], tokens[inside[-1]], [a, b]

    def _spans(self, value: Any) -> list[Any]:
        if _is_span(value):
            return [value]
        if isinstance(value, Sequence) and not isinstance(value, str) and value:
            return list(value)
        return [value]  # reported by _span_tokens

    def _answer(self, enc: dict[str, Any], s: int, e: int) -> tuple[str, list[int]]:
        offsets = dict(zip(enc["context_tokens"], enc["context_offsets"], strict=True))
        a, b = offsets[s][0], offsets[e][1]
        return enc["context"][a:b], [int(a), int(b)]

    def prepare(self, inputs, *, targets, contrasts, granularity):
        encoded = [self._encode(raw, granularity) for raw in inputs]
        need = [i for i, t in enumerate(targets) if t is None]
        logits = dict(zip(need, self._predict([encoded[i] for i in need]), strict=True))
        items = []
        for i, (enc, raw, tgt, foil) in enumerate(zip(encoded, inputs, targets, contrasts, strict=True)):
            if tgt is None:
                s, e = self._best_span(enc, *logits[i])
                answer, span = self._answer(enc, s, e)
                spans = [(s, e, span, answer)]
            else:
                spans = []
                for sp in self._spans(tgt):
                    s, e, span = self._span_tokens(enc, sp, "target")
                    spans.append((s, e, span, enc["context"][span[0] : span[1]]))
            foils: list[tuple[int, int, str] | None] = [None] * len(spans)
            if foil is not None:
                f = []
                for sp in self._spans(foil):
                    fs, fe, fspan = self._span_tokens(enc, sp, "contrast")
                    f.append((fs, fe, enc["context"][fspan[0] : fspan[1]]))
                if len(f) == 1:
                    f = f * len(spans)
                if len(f) != len(spans):
                    raise self.input_error(f"contrast has {len(f)} spans for {len(spans)} targets: "
                                           "give one, or one per target")
                foils = list(f)
            tgts = []
            for (s, e, span, answer), fo in zip(spans, foils, strict=True):
                info: dict[str, Any] = {"end": e, "span": span}
                if fo is not None:
                    info["foil_end"] = fo[1]
                tgts.append(Target(index=s, label=answer, position=None, foil=None if fo is None else fo[0],
                                   foil_label=None if fo is None else fo[2], info=info))
            items.append(TaskItem(
                input=list(raw), text=enc["text"], ids=enc["ids"], elements=enc["elements"], targets=tgts,
                visible=np.ones((len(tgts), len(enc["elements"])), dtype=bool), segments=enc["segments"],
                segment_names=("question", "context"), output_text=tgts[0].label if len(tgts) == 1 else None,
                layout=enc["layout"], truncated=enc["truncated"],
            ))
        return items

    # -- scoring ----------------------------------------------------------------------------------
    @staticmethod
    def _info_field(batch: Any, key: str, default: int = 0) -> Any:
        """``(B, W)`` LongTensor of one integer entry of the rows' targets' ``info``."""
        import torch

        out = torch.full(tuple(batch.target.shape), default, dtype=torch.long)
        for i, start, n in batch.segments:
            values = [t.info.get(key) for t in batch.items[i].targets]
            table = torch.tensor([default if v is None else int(v) for v in values] + [default], dtype=torch.long)
            out[start : start + n] = table[batch.target[start : start + n].cpu()]  # -1 picks the default
        return out.to(batch.inputs_embeds.device)

    def scores(self, batch, score):
        kwargs: dict[str, Any] = {"inputs_embeds": batch.inputs_embeds, "attention_mask": batch.attention_mask}
        if any("token_type_ids" in item.layout for item in batch.items):
            kwargs["token_type_ids"] = self._token_types(
                [(batch.items[i].layout, start, n) for i, start, n in batch.segments],
                tuple(batch.attention_mask.shape))
        out = self.model(**kwargs)
        pad = batch.attention_mask == 0
        width = batch.target.shape[1]
        parts = []
        for logits, index, foil_key in ((out.start_logits, batch.target_field("index"), "foil"),
                                        (out.end_logits, self._info_field(batch, "end"), "foil_end")):
            z = logits.float().masked_fill(pad, _PAD_LOGIT)[:, None, :].expand(-1, width, -1)  # (B, W, L)
            if score.needs_foil:
                foil = batch.target_field("foil") if foil_key == "foil" else self._info_field(batch, "foil_end")
            else:
                foil = None
            parts.append(score(z, index, foil))
        return score.combine(parts)


@hookimpl
def interpreto_register_task(register):
    register(QuestionAnswering, name="question_answering",
             summary="Extractive QA (*ForQuestionAnswering): a (question, context) pair -> the answer span's score.")

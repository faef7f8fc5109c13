"""Causal language models: a prompt string, or chat messages rendered with the chat template.

Targets are a continuation (a string or token ids, teacher-forced), or ``None`` (greedy
generation of ``max_new_tokens``). Each continuation token is a target, read at the position
before it; the continuation's tokens before the last are elements too (a token each), visible
to the targets after them.

Chat input ``[{"role": "user", "content": ...}, ...]`` is rendered with the tokenizer's chat
template (generation prompt added). Elements come only from messages whose role is in
``roles``; template tokens and the other messages stay fixed: never masked, never elements.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from interpreto_core.plugin import Elements, Target, Task, TaskItem, hookimpl, split_elements


def _is_chat(raw: Any) -> bool:
    return isinstance(raw, Sequence) and not isinstance(raw, str) and len(raw) > 0 and all(
        isinstance(m, dict) for m in raw)


class CausalLM(Task):
    """Decoder-only LMs (``*ForCausalLM``, ``*LMHeadModel``).

    Parameters
    ----------
    max_new_tokens:
        Tokens generated greedily when no continuation is given.
    roles:
        Chat input: the roles whose messages are explained (default: the user's).
    """

    name = "causal_lm"
    priority = 80
    default_score = "log_probability"
    input_help = "a prompt string, or chat messages [{'role': ..., 'content': ...}]"

    def __init__(self, *, max_new_tokens: int = 5, roles: Sequence[str] = ("user",)) -> None:
        if isinstance(max_new_tokens, bool) or not isinstance(max_new_tokens, int) or max_new_tokens < 1:
            raise self.input_error(f"max_new_tokens must be a positive integer, got {max_new_tokens!r}")
        if isinstance(roles, str):
            roles = (roles,)
        self.max_new_tokens, self.roles = max_new_tokens, tuple(roles)

    @classmethod
    def claims(cls, model: Any) -> bool:
        config = getattr(model, "config", None)
        if getattr(config, "is_encoder_decoder", False):
            return False
        return type(model).__name__.endswith(("ForCausalLM", "LMHeadModel"))

    # -- prompt -----------------------------------------------------------------------------------
    def _prompt(self, raw: Any, granularity: str) -> tuple[str, list[int], Elements, tuple[int, ...]]:
        if isinstance(raw, str):
            enc = self.adapter.encode(raw, continued=True)
            elements = enc.elements(granularity)
            return raw, list(enc.input_ids), elements, ()
        if not _is_chat(raw):
            raise self.input_error(f"got {type(raw).__name__} {raw!r:.60}")
        return self._chat(raw, granularity)

    def _chat(self, messages: Sequence[dict], granularity: str) -> tuple[str, list[int], Elements, tuple[int, ...]]:
        tok = self.tokenizer
        for m in messages:
            if not isinstance(m.get("role"), str) or not isinstance(m.get("content"), str):
                raise self.input_error(f"each chat message needs string 'role' and 'content', got {m!r:.80}")
        if not any(m["role"] in self.roles for m in messages):
            raise self.input_error(f"no message has a role in roles={list(self.roles)}: nothing to explain")
        if not getattr(tok, "chat_template", None):
            raise self.input_error("the tokenizer has no chat template: pass the prompt as a plain string instead")
        if not self.adapter.is_fast:
            raise self.input_error("chat input needs a fast tokenizer (offsets locate each message's words)")
        text = tok.apply_chat_template(list(messages), add_generation_prompt=True, tokenize=False)
        # where each explained message's content lies in the rendered prompt
        ranges, cursor = [], 0
        for k, m in enumerate(messages):
            at = text.find(m["content"], cursor)
            if at < 0:
                raise self.input_error(f"message {k}'s content is not found verbatim in the rendered chat template")
            cursor = at + len(m["content"])
            if m["role"] in self.roles and m["content"].strip():
                ranges.append((at, cursor, k))
        enc = tok(text, add_special_tokens=False, return_offsets_mapping=True)
        ids = list(enc["input_ids"])
        if len(ids) > self.adapter.max_length:
            raise self.input_error(
                f"the rendered chat has {len(ids)} tokens, more than the model's {self.adapter.max_length}"
            )
        offsets = [tuple(o) for o in enc["offset_mapping"]]
        owner = [next((k for s, e, k in ranges if s <= o[0] and o[1] <= e and o[1] > o[0]), None) for o in offsets]
        special = [k is None for k in owner]
        elements = split_elements(text=text, tokens=tok.convert_ids_to_tokens(ids), special=special,
                                  offsets=offsets, granularity=granularity)
        segments = tuple(owner[g[0]] for g in elements.token_groups)
        return text, ids, elements, segments  # type: ignore[return-value]

    # -- continuation -----------------------------------------------------------------------------
    def _continuation(self, prompt_ids: list[int], tgt: Any, what: str = "target") -> list[int]:
        if tgt is None:
            cont = self.adapter.generate(prompt_ids, max_new_tokens=self.max_new_tokens)
            if not cont:
                raise self.input_error("the model generated nothing to explain (it stopped at once)")
            return cont
        if isinstance(tgt, str):
            if not tgt:
                raise self.input_error(f"the {what} continuation is empty")
            cont = self.tokenizer(tgt, add_special_tokens=False, split_special_tokens=True)["input_ids"]
            if not cont:
                raise self.input_error(f"the {what} continuation {tgt!r} tokenizes to no token")
            return list(cont)
        if isinstance(tgt, Sequence) and tgt and all(isinstance(x, int | np.integer) and not isinstance(x, bool)
                                                      for x in tgt):
            vocab = self.adapter.vocab_size
            bad = [int(x) for x in tgt if not 0 <= int(x) < vocab]
            if bad:
                raise self.input_error(f"{what} token ids {bad[:5]} are outside the vocabulary (0..{vocab - 1})")
            return [int(x) for x in tgt]
        raise self.input_error(
            f"a {what} is a continuation (a string, or a list of token ids), or None to generate "
            f"{self.max_new_tokens} tokens greedily; got {tgt!r:.60}"
        )

    def prepare(self, inputs, *, targets, contrasts, granularity):
        return [self._item(raw, tgt, foil, granularity)
                for raw, tgt, foil in zip(inputs, targets, contrasts, strict=True)]

    def _item(self, raw: Any, tgt: Any, foil: Any, granularity: str) -> TaskItem:
        text, prompt_ids, prompt_elements, segments = self._prompt(raw, granularity)
        cont = self._continuation(prompt_ids, tgt)
        foils: list[int | None] = [None] * len(cont)
        if foil is not None:
            f = self._continuation(prompt_ids, foil, "contrast")
            if len(f) != len(cont):
                raise self.input_error(
                    f"the contrast has {len(f)} tokens and the target {len(cont)}: a foil is compared token by token "
                    "at the same positions, so both continuations need the same number of tokens"
                )
            foils = list(f)
        ids = prompt_ids + cont
        if len(ids) > self.adapter.max_length:
            raise self.input_error(
                f"prompt + continuation is {len(ids)} tokens, more than the model's {self.adapter.max_length}"
            )
        p = len(prompt_ids)
        labels = [self.adapter.token_label(t) for t in cont]
        elements = Elements(
            texts=prompt_elements.texts + tuple(labels[:-1]),
            spans=prompt_elements.spans + (None,) * (len(cont) - 1),
            token_groups=prompt_elements.token_groups + tuple((p + j,) for j in range(len(cont) - 1)),
            granularity=granularity,
        )
        targets = [Target(index=int(t), label=labels[j], position=p + j - 1, foil=foils[j],
                          foil_label=None if foils[j] is None else self.adapter.token_label(foils[j]))
                   for j, t in enumerate(cont)]
        last_token = np.array([max(g) for g in elements.token_groups])
        visible = np.array([last_token <= t.position for t in targets], dtype=bool)
        n_gen = len(cont) - 1
        return TaskItem(
            input=list(raw) if _is_chat(raw) else raw, text=text, ids=ids, elements=elements, targets=targets,
            visible=visible, generated=(False,) * len(prompt_elements) + (True,) * n_gen,
            segments=(segments + (-1,) * n_gen) if segments else (),
            output_text=self.tokenizer.decode(cont),
        )

    # -- scoring ----------------------------------------------------------------------------------
    def scores(self, batch, score):
        index = batch.target_field("index")
        foil = batch.target_field("foil") if score.needs_foil else None
        picked = self.adapter.logits_at(batch.target_field("position"), inputs_embeds=batch.inputs_embeds,
                                        attention_mask=batch.attention_mask, use_cache=False)  # (B, W, V)
        return score(picked, index, foil)


@hookimpl
def interpreto_register_task(register):
    register(CausalLM, name="causal_lm",
             summary="Decoder-only LMs: a prompt or chat messages -> each continuation token's score.")
    def row_length(self, item, targets):
        # a target read at position p sees tokens 0..p only: its rows stop there
        return max(item.targets[t].position for t in targets) + 1


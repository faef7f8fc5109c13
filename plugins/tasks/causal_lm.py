"""Causal language models: a prompt string, or chat messages rendered with the chat template.

Targets are a continuation (a string or token ids, teacher-forced), or ``None`` (generation of
``max_new_tokens``: greedy, or sampled with a seed; ended by EOS or a stop string). Each
continuation token is a target, read at the position before it; the continuation's tokens before
the last are elements too (a token each), visible to the targets after them. ``target_span``
keeps only a slice of the continuation as targets (the tokens before it stay as context).
Per-step scores of each target token (probability, log-probability, entropy, rank) come from
the generation's logits, or (``step_scores=True``) from one batched pass over given continuations.

Chat input ``[{"role": "user", "content": ...}, ...]`` is rendered with the tokenizer's chat
template (generation prompt added). Elements come only from messages whose role is in
``roles``; template tokens and the other messages stay fixed: never masked, never elements.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from interpreto_core.plugin import Elements, Target, Task, TaskItem, hookimpl, split_elements
from interpreto_plugins.tasks._generation import generation_options, resolve_span


def _is_chat(raw: Any) -> bool:
    return isinstance(raw, Sequence) and not isinstance(raw, str) and len(raw) > 0 and all(
        isinstance(m, dict) for m in raw)


class CausalLM(Task):
    """Decoder-only LMs (``*ForCausalLM``, ``*LMHeadModel``).

    Parameters
    ----------
    max_new_tokens:
        Tokens generated when no continuation is given (fewer if EOS or a stop string comes first).
    roles:
        Chat input: the roles whose messages are explained (default: the user's).
    do_sample, temperature, top_k, top_p, generation_seed:
        Sample the continuation from ``softmax(logits / temperature)`` (within the ``top_k`` most
        likely tokens / the ``top_p`` nucleus when given) instead of greedy decoding; the torch
        RNG is seeded with ``generation_seed`` for each input and restored afterwards.
    stop:
        A string or strings that end the generation: the continuation ends with the token that
        completes the first one found (the stop string is kept). EOS also ends it (kept, a target).
    target_span:
        ``(start, end)``: explain only continuation tokens ``start:end`` (a Python slice over the
        continuation's tokens; negative from the end). The tokens before stay as teacher-forced
        context (elements); fewer targets mean fewer rows for gradient methods.
    step_scores:
        Record each target token's ``probability``, ``log_probability``, ``entropy`` and ``rank``
        on the explanation. ``None`` (default): when generating (read from the generation's
        logits, free); ``True``: given continuations too (one no-grad pass per 16 inputs);
        ``False``: never.
    """

    name = "causal_lm"
    priority = 80
    default_score = "log_probability"
    input_help = "a prompt string, or chat messages [{'role': ..., 'content': ...}]"
    reuses_prefix = True  # masked rows come with RowBatch.prefix: their shared prefix runs once

    def __init__(self, *, max_new_tokens: int = 5, roles: Sequence[str] = ("user",), do_sample: bool = False,
                 temperature: float | None = None, top_k: int | None = None, top_p: float | None = None,
                 generation_seed: int = 0, stop: str | Sequence[str] | None = None,
                 target_span: tuple[int, int | None] | None = None, step_scores: bool | None = None) -> None:
        self.options = generation_options(
            self.input_error, max_new_tokens=max_new_tokens, do_sample=do_sample, temperature=temperature,
            top_k=top_k, top_p=top_p, generation_seed=generation_seed, stop=stop, target_span=target_span,
            step_scores=step_scores)
        if isinstance(roles, str):
            roles = (roles,)
        self.max_new_tokens, self.roles = self.options.max_new_tokens, tuple(roles)

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
    def _continuation(self, prompt_ids: list[int], tgt: Any, what: str = "target") -> tuple[list[int], Any]:
        """The continuation's token ids, and the generation's logits before each token (None when given)."""
        if tgt is None:
            gen = self.adapter.generate_steps(prompt_ids, **self.options.generate_kwargs())
            if not gen.ids:
                raise self.input_error("the model generated nothing to explain (it stopped at once)")
            return gen.ids, gen.logits
        if isinstance(tgt, str):
            if not tgt:
                raise self.input_error(f"the {what} continuation is empty")
            cont = self.tokenizer(tgt, add_special_tokens=False, split_special_tokens=True)["input_ids"]
            if not cont:
                raise self.input_error(f"the {what} continuation {tgt!r} tokenizes to no token")
            return list(cont), None
        if isinstance(tgt, Sequence) and tgt and all(isinstance(x, int | np.integer) and not isinstance(x, bool)
                                                      for x in tgt):
            vocab = self.adapter.vocab_size
            bad = [int(x) for x in tgt if not 0 <= int(x) < vocab]
            if bad:
                raise self.input_error(f"{what} token ids {bad[:5]} are outside the vocabulary (0..{vocab - 1})")
            return [int(x) for x in tgt], None
        raise self.input_error(
            f"a {what} is a continuation (a string, or a list of token ids), or None to have "
            f"{self.options.describe()}; got {tgt!r:.60}"
        )

    def prepare(self, inputs, *, targets, contrasts, granularity):
        drafts = [self._draft(raw, tgt, foil, granularity)
                  for raw, tgt, foil in zip(inputs, targets, contrasts, strict=True)]
        if self.options.from_extra_pass:
            self._given_step_scores([d for d in drafts if d["steps"] is None])
        return [self._item(d) for d in drafts]

    def _draft(self, raw: Any, tgt: Any, foil: Any, granularity: str) -> dict[str, Any]:
        text, prompt_ids, prompt_elements, segments = self._prompt(raw, granularity)
        cont, logits = self._continuation(prompt_ids, tgt)
        foils: list[int | None] = [None] * len(cont)
        if foil is not None:
            f, _ = self._continuation(prompt_ids, foil, "contrast")
            if len(f) != len(cont):
                raise self.input_error(
                    f"the contrast has {len(f)} tokens and the target {len(cont)}: a foil is compared token by token "
                    "at the same positions, so both continuations need the same number of tokens"
                )
            foils = list(f)
        start, end = resolve_span(self.options.target_span, len(cont), self.input_error)
        ids = prompt_ids + cont[:end]  # tokens after the span influence none of its targets
        if len(ids) > self.adapter.max_length:
            raise self.input_error(
                f"prompt + continuation is {len(ids)} tokens, more than the model's {self.adapter.max_length}"
            )
        steps = None
        if self.options.from_generation and logits is not None:
            steps = self.adapter.step_scores(logits[start:end], cont[start:end])
        return {"raw": raw, "text": text, "prompt": prompt_ids, "elements": prompt_elements, "segments": segments,
                "cont": cont, "foils": foils, "span": (start, end), "steps": steps, "granularity": granularity}

    def _given_step_scores(self, drafts: list[dict[str, Any]], rows: int = 16) -> None:
        """Step scores of given continuations: one no-grad pass per ``rows`` inputs, logits read only at
        the targets' positions."""
        import torch

        for k in range(0, len(drafts), rows):
            chunk = drafts[k : k + rows]
            seqs = [d["prompt"] + d["cont"][: d["span"][1]] for d in chunk]
            length = max(len(x) for x in seqs)
            ids = torch.full((len(seqs), length), self.adapter.pad_id, dtype=torch.long)
            mask = torch.zeros((len(seqs), length), dtype=torch.long)
            width = max(d["span"][1] - d["span"][0] for d in chunk)
            position = torch.zeros((len(seqs), width), dtype=torch.long)
            for r, (d, x) in enumerate(zip(chunk, seqs, strict=True)):
                ids[r, : len(x)], mask[r, : len(x)] = torch.tensor(x), 1
                start, end = d["span"]
                position[r, : end - start] = torch.arange(len(d["prompt"]) + start - 1, len(d["prompt"]) + end - 1)
            dev = self.adapter.device
            with torch.no_grad():
                logits = self.adapter.logits_at(position.to(dev), input_ids=ids.to(dev), attention_mask=mask.to(dev),
                                                use_cache=False)
            for r, d in enumerate(chunk):
                start, end = d["span"]
                d["steps"] = self.adapter.step_scores(logits[r, : end - start], d["cont"][start:end])

    def _item(self, d: dict[str, Any]) -> TaskItem:
        raw, prompt_ids, prompt_elements, cont, foils = d["raw"], d["prompt"], d["elements"], d["cont"], d["foils"]
        start, end = d["span"]
        p = len(prompt_ids)
        labels = [self.adapter.token_label(t) for t in cont[:end]]
        n_gen = end - 1  # continuation tokens that are elements: those before the span's last
        elements = Elements(
            texts=prompt_elements.texts + tuple(labels[:n_gen]),
            spans=prompt_elements.spans + (None,) * n_gen,
            token_groups=prompt_elements.token_groups + tuple((p + j,) for j in range(n_gen)),
            granularity=d["granularity"],
        )
        targets = [Target(index=int(cont[j]), label=labels[j], position=p + j - 1, foil=foils[j],
                          foil_label=None if foils[j] is None else self.adapter.token_label(foils[j]))
                   for j in range(start, end)]
        last_token = np.array([max(g) for g in elements.token_groups])
        visible = np.array([last_token <= t.position for t in targets], dtype=bool)
        segments = d["segments"]
        return TaskItem(
            input=list(raw) if _is_chat(raw) else raw, text=d["text"], ids=prompt_ids + cont[:end],
            elements=elements, targets=targets,
            visible=visible, generated=(False,) * len(prompt_elements) + (True,) * n_gen,
            segments=(segments + (-1,) * n_gen) if segments else (),
            output_text=self.tokenizer.decode(cont), step_scores=d["steps"],
        )

    # -- scoring ----------------------------------------------------------------------------------
    def row_length(self, item, targets):
        # a target read at position p sees tokens 0..p only: its rows stop there
        return max(item.targets[t].position for t in targets) + 1

    def scores(self, batch, score):
        from interpreto_core.plugin import prefix_cached_logits  # needs torch: not at plugin load

        index = batch.target_field("index")
        foil = batch.target_field("foil") if score.needs_foil else None
        # masked rows reuse the key/value cache of the prefix they share with the input
        picked = prefix_cached_logits(self.adapter, batch, batch.target_field("position"))  # (B, W, V)
        return score(picked, index, foil)


@hookimpl
def interpreto_register_task(register):
    register(CausalLM, name="causal_lm",
             summary="Decoder-only LMs: a prompt or chat messages -> each continuation token's score.")

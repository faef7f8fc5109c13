"""Encoder-decoder models (T5, BART, Marian, mBART ...): a source text and its target.

Targets are a target text (teacher-forced), token ids, or ``None`` (generation of
``max_new_tokens``: greedy, or sampled with a seed; ended by EOS, which is dropped, or a stop
string). ``target_span`` keeps only a slice of the target tokens as targets; per-step scores
(probability, log-probability, entropy, rank) are recorded as for causal LMs. Each target token
is a target, read at its decoder position. Elements are
the source's elements followed by the target tokens before the last (a token each): both the
encoder input and the decoder's earlier tokens are perturbed and get gradients. The decoder's
start token is fixed (never masked, never an element).

Rows are laid out ``source ids + decoder input ids`` (``layout["source_length"]`` splits them):
the engine does not know there are two streams.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

import numpy as np

from interpreto_core.plugin import Elements, Target, Task, TaskItem, hookimpl
from interpreto_plugins.tasks._generation import generation_options, resolve_span


class Seq2Seq(Task):
    """Encoder-decoder LMs (``config.is_encoder_decoder``).

    Parameters
    ----------
    max_new_tokens:
        Tokens generated when no target is given (fewer if EOS or a stop string comes first).
    do_sample, temperature, top_k, top_p, generation_seed, stop, target_span, step_scores:
        As for ``causal_lm``: seeded sampling instead of greedy decoding, stop strings (kept), a
        slice ``(start, end)`` of the target tokens to explain, per-step scores. A generated
        target's final EOS (and padding) is dropped: the target is its text, as when given.
    """

    name = "seq2seq"
    priority = 70
    default_score = "log_probability"
    input_help = "a source text (targets: a target text, token ids, or None to generate)"

    def __init__(self, *, max_new_tokens: int = 5, do_sample: bool = False, temperature: float | None = None,
                 top_k: int | None = None, top_p: float | None = None, generation_seed: int = 0,
                 stop: str | Sequence[str] | None = None, target_span: tuple[int, int | None] | None = None,
                 step_scores: bool | None = None) -> None:
        self.options = generation_options(
            self.input_error, max_new_tokens=max_new_tokens, do_sample=do_sample, temperature=temperature,
            top_k=top_k, top_p=top_p, generation_seed=generation_seed, stop=stop, target_span=target_span,
            step_scores=step_scores)
        self.max_new_tokens = self.options.max_new_tokens

    @classmethod
    def claims(cls, model: Any) -> bool:
        config = getattr(model, "config", None)
        return bool(getattr(config, "is_encoder_decoder", False)) and hasattr(model, "get_encoder")

    def check_model(self) -> None:
        if self._start_id() is None:
            raise self.input_error(f"{type(self.model).__name__} has no decoder_start_token_id in its config")

    def _start_id(self) -> int | None:
        config = self.model.config
        start = getattr(config, "decoder_start_token_id", None)
        if start is None:
            gen = getattr(self.model, "generation_config", None)
            start = getattr(gen, "decoder_start_token_id", None)
        return None if start is None else int(start)

    def _target_ids(self, source_ids: list[int], tgt: Any, what: str = "target") -> tuple[list[int], Any]:
        """The target's token ids, and the generation's logits before each token (None when given)."""
        tok = self.tokenizer
        stop = {i for i in (tok.eos_token_id, tok.pad_token_id, getattr(self.model.config, "eos_token_id", None))
                if i is not None}
        if tgt is None:
            gen = self.adapter.generate_steps(source_ids, **self.options.generate_kwargs())
            out = list(gen.ids)
            while out and out[-1] in stop:
                out.pop()
            if not out:
                raise self.input_error("the model generated nothing to explain (it stopped at once)")
            return out, None if gen.logits is None else gen.logits[: len(out)]
        if isinstance(tgt, str):
            if not tgt.strip():
                raise self.input_error(f"the {what} text is empty")
            ids = list(tok(text_target=tgt, add_special_tokens=False, split_special_tokens=True)["input_ids"])
            if not ids:
                raise self.input_error(f"the {what} text {tgt!r} tokenizes to no token")
            return ids, None
        if isinstance(tgt, Sequence) and tgt and all(isinstance(x, int | np.integer) and not isinstance(x, bool)
                                                      for x in tgt):
            bad = [int(x) for x in tgt if not 0 <= int(x) < self.adapter.vocab_size]
            if bad:
                raise self.input_error(f"{what} token ids {bad[:5]} are outside the vocabulary")
            return [int(x) for x in tgt], None
        raise self.input_error(f"a {what} is a target text, a list of token ids, or None to have "
                               f"{self.options.describe()}; got {tgt!r:.60}")

    def prepare(self, inputs, *, targets, contrasts, granularity):
        drafts = [self._draft(raw, tgt, foil, granularity)
                  for raw, tgt, foil in zip(inputs, targets, contrasts, strict=True)]
        if self.options.from_extra_pass:
            self._given_step_scores([d for d in drafts if d["steps"] is None])
        return [self._item(d) for d in drafts]

    def _draft(self, raw: Any, tgt: Any, foil: Any, granularity: str) -> dict[str, Any]:
        if not isinstance(raw, str):
            raise self.input_error(f"got {type(raw).__name__} {raw!r:.60}")
        enc = self.adapter.encode(raw)
        source = list(enc.input_ids)
        cont, logits = self._target_ids(source, tgt)
        foils: list[int | None] = [None] * len(cont)
        if foil is not None:
            f, _ = self._target_ids(source, foil, "contrast")
            if len(f) != len(cont):
                raise self.input_error(
                    f"the contrast has {len(f)} tokens and the target {len(cont)}: a foil is compared token by token "
                    "at the same decoder positions, so both need the same number of tokens"
                )
            foils = list(f)
        start, end = resolve_span(self.options.target_span, len(cont), self.input_error)
        steps = None
        if self.options.from_generation and logits is not None:
            steps = self.adapter.step_scores(logits[start:end], cont[start:end])
        return {"raw": raw, "enc": enc, "source": source, "cont": cont, "foils": foils, "span": (start, end),
                "steps": steps, "granularity": granularity}

    def _given_step_scores(self, drafts: list[dict[str, Any]], rows: int = 16) -> None:
        """Step scores of given targets: one no-grad teacher-forced pass per ``rows`` inputs."""
        import torch

        from_ids = torch.nn.utils.rnn.pad_sequence
        dev = self.adapter.device
        for k in range(0, len(drafts), rows):
            chunk = drafts[k : k + rows]
            src = [torch.tensor(d["source"]) for d in chunk]
            dec = [torch.tensor([self._start_id()] + d["cont"][: d["span"][1] - 1]) for d in chunk]
            pad = self.adapter.pad_id

            def ones(xs):
                return from_ids([torch.ones(len(x), dtype=torch.long) for x in xs], batch_first=True).to(dev)

            with torch.no_grad():
                logits = self.model(
                    input_ids=from_ids(src, batch_first=True, padding_value=pad).to(dev), attention_mask=ones(src),
                    decoder_input_ids=from_ids(dec, batch_first=True, padding_value=pad).to(dev),
                    decoder_attention_mask=ones(dec), use_cache=False).logits
            for r, d in enumerate(chunk):
                start, end = d["span"]
                d["steps"] = self.adapter.step_scores(logits[r, start:end], d["cont"][start:end])

    def _item(self, d: dict[str, Any]) -> TaskItem:
        raw, enc, source, cont, foils = d["raw"], d["enc"], d["source"], d["cont"], d["foils"]
        start, end = d["span"]
        source_elements = enc.elements(d["granularity"])
        s = len(source)
        n_gen = end - 1  # target tokens that are elements: those before the span's last
        decoder = [self._start_id()] + cont[:n_gen]
        labels = [self.adapter.token_label(t) for t in cont[:end]]
        elements = Elements(
            texts=source_elements.texts + tuple(labels[:n_gen]),
            spans=source_elements.spans + (None,) * n_gen,
            token_groups=source_elements.token_groups + tuple((s + 1 + j,) for j in range(n_gen)),
            granularity=d["granularity"],
        )
        targets = [Target(index=cont[j], label=labels[j], position=j, foil=foils[j],
                          foil_label=None if foils[j] is None else self.adapter.token_label(foils[j]))
                   for j in range(start, end)]
        # source elements influence every target; target token k (decoder position k + 1) the targets after it
        decoder_pos = np.array([-1] * len(source_elements) + list(range(1, n_gen + 1)))
        visible = np.array([decoder_pos <= t.position for t in targets], dtype=bool)
        return TaskItem(
            input=raw, text=raw, ids=source + decoder, elements=elements, targets=targets, visible=visible,
            generated=(False,) * len(source_elements) + (True,) * n_gen,
            output_text=self.tokenizer.decode(cont, skip_special_tokens=True), layout={"source_length": s},
            truncated=enc.truncated, step_scores=d["steps"],
        )

    def row_length(self, item, targets):
        # the decoder reads target j at decoder position j: source + decoder tokens 0..j
        return item.layout["source_length"] + 1 + max(item.targets[t].position for t in targets)

    def scores(self, batch, score):
        import torch

        emb, mask = batch.inputs_embeds, batch.attention_mask
        b, _, hidden = emb.shape
        src = [it.layout["source_length"] for it in batch.items]
        row_len = mask.sum(1).tolist()  # rows may be cut after their last target's decoder position
        spans = [(i, start, n, src[i], int(max(row_len[start : start + n])) - src[i]) for i, start, n in batch.segments]
        s_max, d_max = max(src), max(d for *_, d in spans)
        enc_emb = emb.new_zeros((b, s_max, hidden))
        dec_emb = emb.new_zeros((b, d_max, hidden))
        enc_mask = mask.new_zeros((b, s_max))
        dec_mask = mask.new_zeros((b, d_max))
        for _i, start, n, s, d in spans:  # split each item's rows at its source length
            rows = slice(start, start + n)
            enc_emb[rows, :s] = emb[rows, :s]
            dec_emb[rows, :d] = emb[rows, s : s + d]
            enc_mask[rows, :s] = 1
            dec_mask[rows, :d] = mask[rows, s : s + d]
        position = batch.target_field("position")
        head = self.model.get_output_embeddings()
        owner = threading.get_ident()

        def read_positions(_module, args):
            # only the decoder states at the targets' positions go through the vocabulary projection
            # (the model's largest matrix): (B, D, H) -> (B, W, H). Other threads' calls pass untouched.
            (hidden, *rest) = args
            if threading.get_ident() != owner or hidden.shape[0] != b or hidden.ndim != 3:
                return None
            picked = hidden.gather(1, position.unsqueeze(-1).expand(-1, -1, hidden.shape[-1]))
            return (picked, *rest)

        hook = head.register_forward_pre_hook(read_positions) if isinstance(head, torch.nn.Module) else None
        try:
            logits = self.model(inputs_embeds=enc_emb, attention_mask=enc_mask, decoder_inputs_embeds=dec_emb,
                                decoder_attention_mask=dec_mask, use_cache=False).logits
        finally:
            if hook is not None:
                hook.remove()
        if hook is None:  # no output embedding module: read the positions from the full logits
            logits = logits.gather(1, position.unsqueeze(-1).expand(-1, -1, logits.shape[-1]))
        picked = logits  # (B, W, V)
        index = batch.target_field("index")
        foil = batch.target_field("foil") if score.needs_foil else None
        return score(picked, index, foil)


@hookimpl
def interpreto_register_task(register):
    register(Seq2Seq, name="seq2seq",
             summary="Encoder-decoder LMs (T5, BART, Marian): a source text -> each target token's score.")

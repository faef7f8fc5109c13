"""The model adapter: tokenizer helpers, embeddings, device and mode of a HF model, for tasks.

What differs between model families (which outputs are read, how inputs are encoded) lives in
the tasks (``interpreto methods --kind task``); the adapter holds what they share.

The adapter never moves, casts or mutates the user's model or tokenizer. A model found in
training mode is put in eval mode only for the duration of a call, with a warning.
"""

from __future__ import annotations

import contextlib
import inspect
import threading
import warnings
import weakref
from collections.abc import Iterator, Sequence
from typing import Any, cast

import attrs
import numpy as np
import torch

from ._elements import Elements, split_elements
from ._errors import InputError
from ._tasks import Target

__all__ = ["ModelAdapter", "Encoding", "Generation", "Target", "INFERENCE_MODES", "adapt", "step_scores"]

INFERENCE_MODES = ("logits", "softmax", "log_softmax")  # former mode= values: aliases of scores


@attrs.frozen(kw_only=True)
class Encoding:
    """A tokenized text: ids, token strings, which are special, character offsets (or None)."""

    text: str
    input_ids: tuple[int, ...]
    tokens: tuple[str, ...]
    special: tuple[bool, ...]
    offsets: tuple[tuple[int, int], ...] | None
    truncated: bool = False

    def elements(self, granularity: str) -> Elements:
        return split_elements(
            text=self.text, tokens=self.tokens, special=self.special, offsets=self.offsets, granularity=granularity
        )


# models inside an explanation call: [number of calls in flight, was it training before the first]
_MODE_LOCK = threading.Lock()
_IN_EVAL: weakref.WeakKeyDictionary[Any, list[Any]] = weakref.WeakKeyDictionary()


def _model_kind(model: Any) -> str | None:
    """``classifier`` / ``causal_lm`` from the class name (the concept tools' view; tasks claim models)."""
    name = type(model).__name__
    if getattr(getattr(model, "config", None), "is_encoder_decoder", False):
        return None
    if name.endswith("ForSequenceClassification"):
        return "classifier"
    if name.endswith(("ForCausalLM", "LMHeadModel")):
        return "causal_lm"
    return None


class ModelAdapter:
    """Tokenize, embed and run a HF model, for the tasks.

    Parameters
    ----------
    model:
        A HF model with input embeddings (``get_input_embeddings()``).
    tokenizer:
        Its tokenizer (fast tokenizers give word and sentence granularity).
    kind:
        Deprecated (the task decides): ``"classifier"`` or ``"causal_lm"``, kept for old callers.
    device, dtype:
        Where and in which dtype the model runs. They must match the model's own: the adapter
        never moves or casts the user's model (move it yourself first).
    max_length:
        Longest input in tokens; default: the model's maximum position embeddings.
    """

    def __init__(
        self,
        model: Any,
        tokenizer: Any,
        *,
        kind: str | None = None,
        device: str | torch.device | None = None,
        dtype: torch.dtype | None = None,
        max_length: int | None = None,
    ) -> None:
        if not isinstance(model, torch.nn.Module):
            raise InputError(f"model must be a torch.nn.Module (a HF model), got {type(model).__name__}")
        if tokenizer is None or not callable(tokenizer):
            raise InputError("a tokenizer is required: pass the model's tokenizer (AutoTokenizer.from_pretrained)")
        emb: Any
        hf_model: Any = model  # narrowed to Module by the isinstance check: HF methods are not typed there
        try:
            emb = hf_model.get_input_embeddings()
        except (NotImplementedError, AttributeError):
            emb = None
        if not isinstance(emb, torch.nn.Module):
            raise InputError(
                f"{type(model).__name__} exposes no input embeddings (get_input_embeddings()); "
                "gradient and embedding-level methods need them"
            )
        param = next(model.parameters())
        if device is not None and torch.device(device) != param.device:
            raise InputError(
                f"the model is on {param.device}, device={device!r} was asked; interpreto does not move your "
                f"model: call model.to({str(device)!r}) yourself, or leave device unset"
            )
        if dtype is not None and dtype != param.dtype:
            raise InputError(
                f"the model's dtype is {param.dtype}, dtype={dtype} was asked; interpreto does not cast your "
                f"model: call model.to({dtype}) yourself, or leave dtype unset"
            )
        self.model: Any = model  # a HF model: its attributes (config, generate ...) are not typed by torch
        self.tokenizer: Any = tokenizer
        self.kind = kind or _model_kind(model)
        self.device = param.device
        self.dtype = param.dtype
        self.embedding: Any = cast(Any, emb)  # torch types Module attributes as Tensor | Module
        config = getattr(model, "config", None)
        positions = getattr(config, "max_position_embeddings", None) or getattr(config, "n_positions", None)
        self.max_length = int(max_length or positions or 512)
        self.is_fast = bool(getattr(tokenizer, "is_fast", False))
        self.keeps_logits = "logits_to_keep" in inspect.signature(model.forward).parameters
        self.computed_tokens = 0  # tokens run through the model by logits_at and the prefix cache
        self.vocab_size = int(self.embedding.weight.shape[0])
        self.hidden_size = int(self.embedding.weight.shape[1])
        _check_vocabulary(model, tokenizer, self.vocab_size)

    # -- text -------------------------------------------------------------------------------------
    def encode(self, text: str, *, continued: bool | None = None, split_special: bool = True) -> Encoding:
        """Tokenize ``text``; an over-long text is truncated with a warning.

        ``continued``: the text is a prompt that the model continues: trailing special tokens
        (EOS / SEP) are dropped and an over-long prompt is refused. Default: True for a causal LM.
        ``split_special``: control tokens written in the text (a literal ``[SEP]``) are read as
        plain text, never as control tokens (a masked LM's ``[MASK]`` needs False). Only tokens
        the tokenizer added are special; an unknown word (``[UNK]``) is an element like any other.
        """
        if continued is None:
            continued = self.kind == "causal_lm"
        if not isinstance(text, str):
            raise InputError(f"texts must be strings, got {type(text).__name__}")
        if not text.strip():
            raise InputError("cannot explain an empty text")
        kwargs: dict[str, Any] = {"add_special_tokens": True, "split_special_tokens": split_special}
        if self.is_fast:
            kwargs["return_offsets_mapping"] = True
        enc = self.tokenizer(text, **kwargs)
        ids = list(enc["input_ids"])
        offsets = [tuple(o) for o in enc["offset_mapping"]] if self.is_fast else None
        special = self.special_mask(ids, offsets)
        if continued:
            # A prompt continues after its last real token: drop trailing specials (EOS/SEP).
            while ids and special[-1] and len(ids) > 1:
                ids.pop(), special.pop()
                if offsets is not None:
                    offsets.pop()
        truncated = False
        if len(ids) > self.max_length:
            if continued:
                raise InputError(
                    f"the prompt has {len(ids)} tokens, more than the model's maximum of {self.max_length}; shorten it"
                )
            warnings.warn(
                f"text of {len(ids)} tokens truncated to the model's maximum of {self.max_length} tokens",
                stacklevel=3,
            )
            keep_last = special[-1]
            ids, special = ids[: self.max_length], special[: self.max_length]
            offsets = offsets[: self.max_length] if offsets is not None else None
            if keep_last:  # keep the closing special token ([SEP]) that classifiers expect
                ids[-1], special[-1] = enc["input_ids"][-1], True
                if offsets is not None:
                    offsets[-1] = (0, 0)
            truncated = True
        tokens = self.tokenizer.convert_ids_to_tokens(ids)
        if not any(not s for s in special):
            raise InputError(f"text {text!r} has no tokens to explain")
        return Encoding(
            text=text,
            input_ids=tuple(ids),
            tokens=tuple(tokens),
            special=tuple(special),
            offsets=tuple(offsets) if offsets is not None else None,
            truncated=truncated,
        )

    def special_mask(self, ids: Sequence[int], offsets: Sequence[tuple[int, int]] | None) -> list[bool]:
        """Which tokens the tokenizer added (``[CLS]``, ``[SEP]``, BOS): special ids that cover no
        character of the text. ``[UNK]`` covering a word is not special."""
        special_ids = set(self.tokenizer.all_special_ids) - {getattr(self.tokenizer, "unk_token_id", None)}
        if offsets is None:
            return [i in special_ids for i in ids]
        return [i in special_ids and o[1] <= o[0] for i, o in zip(ids, offsets, strict=True)]

    def baseline_token_id(self, baseline: str) -> int | None:
        """Token id used to replace masked elements: ``mask`` / ``pad`` / ``unk`` (None: no such token)."""
        return {
            "mask": getattr(self.tokenizer, "mask_token_id", None),
            "pad": getattr(self.tokenizer, "pad_token_id", None),
            "unk": getattr(self.tokenizer, "unk_token_id", None),
        }.get(baseline)

    def baseline_vector(self, baseline: str) -> torch.Tensor:
        """The ``(H,)`` embedding that replaces a masked element / starts an IG path.

        ``zero``: the zero vector; ``mask``/``pad``/``unk``: that token's embedding; ``auto``: the
        mask token where the tokenizer has one, else the pad token, else zero.
        """
        hidden = self.embedding.weight.shape[1]
        if baseline == "auto":
            for name in ("mask", "pad"):
                if self.baseline_token_id(name) is not None:
                    return self.baseline_vector(name)
            baseline = "zero"
        if baseline == "zero":
            return torch.zeros(hidden, device=self.device, dtype=self.dtype)
        if baseline not in ("mask", "pad", "unk"):
            raise InputError(f"unknown baseline {baseline!r}; choose zero, mask, pad, unk or auto")
        token_id = self.baseline_token_id(baseline)
        if token_id is None:
            raise InputError(
                f"baseline={baseline!r} but the tokenizer has no {baseline} token; use baseline='zero' or 'auto'"
            )
        with torch.no_grad():
            return self.embed(torch.tensor([token_id], device=self.device))[0]

    # -- model ------------------------------------------------------------------------------------
    def embed(self, ids: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return self.embedding(ids.to(self.device)).detach()

    @contextlib.contextmanager
    def evaluating(self) -> Iterator[None]:
        """Eval mode for the duration of the block (restored after), warning if we had to switch.

        Calls on one model from several threads share the switch: the first to enter puts the
        model in eval mode, the last to leave restores training mode, so no call ever runs with
        dropout on because another call finished first.
        """
        model = self.model
        with _MODE_LOCK:
            entry = _IN_EVAL.get(model)
            if entry is None:
                entry = _IN_EVAL[model] = [0, model.training]
                if model.training:
                    warnings.warn(
                        "the model was in training mode (dropout on); interpreto switches it to eval mode during "
                        "the explanation and restores training mode afterwards",
                        stacklevel=4,
                    )
                    model.eval()
            entry[0] += 1
        try:
            yield
        finally:
            with _MODE_LOCK:
                entry[0] -= 1
                if entry[0] == 0:
                    del _IN_EVAL[model]
                    if entry[1]:
                        model.train()

    def logits_at(self, position: torch.Tensor, **model_inputs: Any) -> torch.Tensor:
        """The model's logits ``(B, W, V)`` at ``position (B, W)`` of each row.

        Where the model takes ``logits_to_keep``, only those positions are projected to the
        vocabulary (the largest matrix of an LM); otherwise they are picked from the full logits.
        """
        mask = model_inputs.get("attention_mask")
        x = model_inputs.get("inputs_embeds", model_inputs.get("input_ids"))
        if mask is not None:
            self.computed_tokens += int(mask.sum())
        elif x is not None:
            self.computed_tokens += int(x.shape[0] * x.shape[1])
        if self.keeps_logits:
            keep, rows = torch.unique(position, return_inverse=True)
            model_inputs["logits_to_keep"] = keep
        else:
            rows = position
        logits = self.model(**model_inputs).logits  # (B, K, V) or (B, L, V)
        return logits.gather(1, rows.unsqueeze(-1).expand(-1, -1, logits.shape[-1]))

    def step_scores(self, logits: torch.Tensor, ids: Sequence[int]) -> dict[str, list[float]]:
        """:func:`step_scores` of ``ids`` under next-token ``logits (n, V)`` (for tasks: no private import)."""
        return step_scores(logits, ids)

    def class_labels(self) -> list[str]:
        id2label = getattr(self.model.config, "id2label", None) or {}
        n = int(getattr(self.model.config, "num_labels", len(id2label)) or len(id2label))
        return [str(id2label.get(i, i)) for i in range(n)]

    def token_label(self, token_id: int) -> str:
        return self.tokenizer.decode([token_id])

    @torch.no_grad()
    def predict(self, ids_batch: Sequence[Sequence[int]], *, batch_size: int = 32) -> np.ndarray:
        """Classifier logits ``(N, C)`` for token id sequences (batched, right-padded)."""
        out = []
        with self.evaluating():
            for i in range(0, len(ids_batch), batch_size):
                chunk = ids_batch[i : i + batch_size]
                ids, mask = pad_ids(chunk, self.pad_id, self.device)
                out.append(self.model(input_ids=ids, attention_mask=mask).logits.float().cpu())
        return torch.cat(out).numpy()

    @property
    def pad_id(self) -> int:
        pad = getattr(self.tokenizer, "pad_token_id", None)
        return int(pad) if pad is not None else 0

    @torch.no_grad()
    def generate(self, input_ids: Sequence[int], *, max_new_tokens: int) -> list[int]:
        """Greedy continuation of ``max_new_tokens`` tokens (stops early at EOS).

        Encoder-decoder models: ``input_ids`` is the source; the generated target is returned
        without the decoder's start token. :meth:`generate_steps` takes sampling and stop strings.
        """
        return self.generate_steps(input_ids, max_new_tokens=max_new_tokens).ids

    @torch.no_grad()
    def generate_steps(
        self,
        input_ids: Sequence[int],
        *,
        max_new_tokens: int,
        do_sample: bool = False,
        temperature: float | None = None,
        top_k: int | None = None,
        top_p: float | None = None,
        seed: int = 0,
        stop: Sequence[str] = (),
    ) -> Generation:
        """Generate a continuation; also return the model's raw next-token logits at each step.

        Greedy unless ``do_sample``: then tokens are drawn from ``softmax(logits / temperature)``,
        restricted to the ``top_k`` most likely tokens and the smallest set of probability mass
        ``top_p`` when given (these three are always passed: the model's ``generation_config``
        values of them are not used; its other settings, such as a repetition penalty, apply).
        The torch RNG is seeded with ``seed`` for the call and restored after it: the same seed gives
        the same continuation, and the global RNG is left as it was. Generation ends at an EOS token
        (the model's ``generation_config.eos_token_id`` and the tokenizer's ``eos_token_id``; the
        EOS token is returned), after ``max_new_tokens``, or with the token that completes the
        first of the ``stop`` strings (kept: the continuation is cut right after it).
        """
        ids = torch.tensor([list(input_ids)], device=self.device)
        eos = _eos_ids(self.model, self.tokenizer)
        encdec = bool(getattr(self.model.config, "is_encoder_decoder", False))
        start = 1 if encdec else ids.shape[1]  # where the generated tokens start in the output rows
        kwargs: dict[str, Any] = {"do_sample": bool(do_sample)}
        if do_sample:  # every sampling setting explicit: the model's generation_config must not add any
            kwargs.update(temperature=1.0 if temperature is None else float(temperature),
                          top_k=0 if top_k is None else int(top_k), top_p=1.0 if top_p is None else float(top_p))
        if stop:
            from transformers import StoppingCriteriaList

            kwargs["stopping_criteria"] = StoppingCriteriaList([_StopStrings(self.tokenizer, tuple(stop), start)])
        if eos:
            kwargs["eos_token_id"] = eos
        cuda = self.device.type == "cuda"
        # the RNG states this call may draw from (the CPU's, the model's GPU's) are restored after it
        with self.evaluating(), torch.random.fork_rng(devices=[self.device] if cuda else [],
                                                      device_type="cuda" if cuda else None):
            if do_sample:
                torch.default_generator.manual_seed(int(seed))
                if cuda:
                    with torch.cuda.device(self.device):
                        torch.cuda.manual_seed(int(seed))
            out = self.model.generate(
                input_ids=ids,
                attention_mask=torch.ones_like(ids),
                max_new_tokens=max_new_tokens,
                num_beams=1,
                pad_token_id=self.pad_id if not eos else eos[0],
                output_logits=True,
                return_dict_in_generate=True,
                **kwargs,
            )
        cont = out.sequences[0, start:].tolist()
        logits = torch.cat([step[:1] for step in out.logits], 0) if out.logits else None
        n = len(cont) if logits is None else min(len(cont), logits.shape[0])
        if stop:
            n = _stop_cut(self.tokenizer, cont[:n], tuple(stop))
        return Generation(ids=cont[:n], logits=None if logits is None else logits[:n].float().cpu())


@attrs.frozen(kw_only=True, eq=False)
class Generation:
    """A generated continuation: its token ids and the model's raw logits ``(n, V)`` before each
    token (the distribution the token was picked from, before temperature or top-k / top-p)."""

    ids: list[int]
    logits: torch.Tensor | None = None


def _eos_ids(model: Any, tokenizer: Any) -> list[int]:
    """The EOS ids that end a generation: the model's generation config's, then the tokenizer's."""
    out: list[int] = []
    config = getattr(model, "generation_config", None) or getattr(model, "config", None)
    for value in (getattr(config, "eos_token_id", None), getattr(tokenizer, "eos_token_id", None)):
        for v in value if isinstance(value, list | tuple) else [value]:
            if v is not None and int(v) not in out:
                out.append(int(v))
    return out


class _StopStrings:
    """A stopping criterion: the generated text (from ``start``) contains one of ``stops``."""

    def __init__(self, tokenizer: Any, stops: tuple[str, ...], start: int) -> None:
        self.tokenizer, self.stops, self.start = tokenizer, stops, start

    def __call__(self, input_ids: torch.Tensor, scores: Any, **kwargs: Any) -> torch.Tensor:
        done = [any(s in self.tokenizer.decode(row[self.start :].tolist()) for s in self.stops) for row in input_ids]
        return torch.tensor(done, dtype=torch.bool, device=input_ids.device)


def _stop_cut(tokenizer: Any, ids: list[int], stops: tuple[str, ...]) -> int:
    """How many of ``ids`` to keep: up to the token that completes the first stop string (all if none)."""
    for n in range(1, len(ids) + 1):
        if any(s in tokenizer.decode(ids[:n]) for s in stops):
            return n
    return len(ids)


def step_scores(logits: torch.Tensor, ids: Sequence[int]) -> dict[str, list[float]]:
    """Per-step scores of tokens ``ids`` under next-token logits ``(n, V)``: ``probability``
    softmax(z)[t], ``log_probability`` log softmax(z)[t], ``entropy`` -sum p log p (nats) and
    ``rank`` 1 + #{v : z[v] > z[t]} (1: the most likely token)."""
    logp = logits.detach().float().log_softmax(-1)
    index = torch.as_tensor(list(ids), dtype=torch.long, device=logp.device)[:, None]
    picked = logp.gather(1, index)  # (n, 1)
    entropy = -torch.special.xlogy(logp.exp(), logp.exp()).sum(-1)
    rank = 1 + (logp > picked).sum(-1)
    return {
        "probability": picked[:, 0].exp().tolist(),
        "log_probability": picked[:, 0].tolist(),
        "entropy": entropy.tolist(),
        "rank": rank.tolist(),
    }


@contextlib.contextmanager
def tokenizer_state_kept(tokenizer: Any) -> Iterator[None]:
    """Restore a fast tokenizer's backend truncation and padding settings after the block.

    transformers resets them on every ``tokenizer(...)`` call (a tokenizer loaded with
    ``truncation`` / ``padding`` in its ``tokenizer.json`` loses them on the first call): the
    user's tokenizer must come out as it went in.
    """
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is None:
        yield
        return
    truncation, padding = backend.truncation, backend.padding
    try:
        yield
    finally:
        if truncation is None:
            backend.no_truncation()
        else:
            backend.enable_truncation(**truncation)
        if padding is None:
            backend.no_padding()
        else:
            backend.enable_padding(**padding)


def pad_ids(seqs: Sequence[Sequence[int]], pad_id: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-pad id sequences; returns ``(ids, attention_mask)``."""
    length = max(len(s) for s in seqs)
    ids = torch.full((len(seqs), length), pad_id, dtype=torch.long)
    mask = torch.zeros((len(seqs), length), dtype=torch.long)
    for i, s in enumerate(seqs):
        ids[i, : len(s)] = torch.tensor(list(s), dtype=torch.long)
        mask[i, : len(s)] = 1
    return ids.to(device), mask.to(device)


def _check_vocabulary(model: Any, tokenizer: Any, rows: int) -> None:
    """Refuse a tokenizer whose ids go past the model's embedding rows (a model/tokenizer mismatch):
    such ids fail deep inside torch (index out of range) or, on GPU, with an unreadable device assert."""
    try:
        n_ids = len(tokenizer)
    except TypeError:  # a tokenizer-like callable without a length: its ids are checked per text
        return
    if isinstance(n_ids, int) and n_ids > rows:
        raise InputError(
            f"the tokenizer ({type(tokenizer).__name__}, {n_ids} ids) does not fit {type(model).__name__} "
            f"(an embedding of {rows} rows): ids {rows}..{n_ids - 1} are outside the model's vocabulary. Pass "
            "the tokenizer saved with this model, or call model.resize_token_embeddings(len(tokenizer)) "
            "after adding tokens"
        )


def adapt(model: Any, tokenizer: Any = None, **kwargs: Any) -> ModelAdapter:
    """A ModelAdapter for ``model`` (an adapter passes through unchanged)."""
    if isinstance(model, ModelAdapter):
        return model
    return ModelAdapter(model, tokenizer, **kwargs)

"""What an attributor (the direct family of recipes) gets: :class:`AttributorContext`.

An attributor computes its scores straight from the model instead of from perturbed rows or
gradients: attention maps are the first use. Attention maps need the *eager* attention
implementation (SDPA and flash kernels never form the softmax matrix). The user's model is never
switched: the maps come from a *structural copy* (new module objects sharing the very same
parameter and buffer tensors, no weight copied, as ``SplitModel`` does) whose config says
``eager``. The user's model, its config and any other thread using it are untouched, even when
the call fails. A model that cannot switch at run time is refused with what to do.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from ._adapters import ModelAdapter
from ._engine import Engine
from ._errors import InputError
from ._scores import Score
from ._tasks import Task, TaskItem

__all__ = ["AttributorContext", "eager_copy", "structural_copy", "engine_on"]


def _refuse(model: Any, why: str) -> InputError:
    return InputError(
        f"{type(model).__name__} {why}, so attention maps cannot be read: load the model with "
        "attn_implementation=\"eager\" (from_pretrained(..., attn_implementation=\"eager\")) to use attention methods"
    )


def structural_copy(model: Any) -> Any:
    """New module objects sharing ``model``'s very parameter and buffer tensors (no weight copied),
    in eval mode: hooks and config changes on the copy never reach the user's model."""
    memo: dict[int, Any] = {id(t): t for t in [*model.parameters(), *model.buffers()]}
    return copy.deepcopy(model, memo).eval()


def engine_on(twin: Any, engine: Engine) -> Engine:
    """An engine like ``engine`` (its score, batch size, memory budget) running a copy of its task
    bound to ``twin``: the same task options and items, another module tree."""
    adapter = engine.task.adapter
    twin_task = copy.copy(engine.task)
    twin_task.bind(ModelAdapter(twin, adapter.tokenizer, kind=adapter.kind, max_length=adapter.max_length))
    batch_size = "auto" if getattr(engine, "auto", False) else engine.batch_size
    return Engine(twin_task, engine.score, batch_size=batch_size, progress=False,
                  memory_budget=getattr(engine, "memory_budget", None))


def eager_copy(model: Any) -> Any:
    """A structural copy of ``model`` (shared parameters and buffers) using eager attention, in eval mode.

    transformers 5 models that route attention through ``ALL_ATTENTION_FUNCTIONS`` switch with
    ``set_attn_implementation("eager")``; that is done on the copy's own config. Raises
    ``InputError`` naming the model class when the switch is not possible.
    """
    config = getattr(model, "config", None)
    if config is None or not hasattr(config, "_attn_implementation"):
        raise _refuse(model, "has no transformers config with an attention implementation")
    twin = structural_copy(model)
    if twin.config._attn_implementation != "eager":
        setter = getattr(twin, "set_attn_implementation", None)
        if not callable(setter):
            raise _refuse(model, f"uses {config._attn_implementation!r} attention and cannot switch at run time")
        try:
            setter("eager")
        except (ValueError, ImportError, NotImplementedError) as exc:
            raise _refuse(model, f"cannot switch to eager attention ({type(exc).__name__})") from None
        if twin.config._attn_implementation != "eager":
            raise _refuse(model, f"uses {config._attn_implementation!r} attention and cannot switch at run time")
    return twin.eval()


class AttributorContext:
    """What an attributor's ``attribute(context)`` reads.

    Attributes
    ----------
    task: the bound task (its ``scores`` runs the model on a ``RowBatch``).
    items: the :class:`TaskItem` objects to explain, in order: ``attribute`` returns one array each.
    score: the score explained for each target.
    adapter: the model adapter (tokenizer helpers, embeddings, device).
    model: the user's model, read-only: an attributor must not change it (no hooks, no config).

    :meth:`attentions` runs the task's own forward once per item, batched, with eager attention.
    """

    def __init__(self, *, task: Task, items: Sequence[TaskItem], score: Score, engine: Engine) -> None:
        self.task, self.items, self.score = task, tuple(items), score
        self.adapter: ModelAdapter = task.adapter
        self._engine = engine

    @property
    def model(self) -> Any:
        return self.adapter.model

    @property
    def encoder_decoder(self) -> bool:
        """The model is an encoder-decoder: an item's ids are its source, then its decoder input."""
        return bool(getattr(getattr(self.model, "config", None), "is_encoder_decoder", False))

    def row_of(self, item: TaskItem, target: Any) -> int | None:
        """The row of :meth:`attentions`' maps where ``target``'s output is read: its position (shifted
        past the source for an encoder-decoder model), None for a target without one (a classifier)."""
        if target.position is None:
            return None
        return int(target.position) + (int(item.layout.get("source_length", 0)) if self.encoder_decoder else 0)

    def attentions(self) -> list[np.ndarray]:
        """Attention maps of each item over its tokens: ``(n_layers, n_heads, L, L)`` float32, row ``q``
        the softmax weights of query position ``q`` over the key positions (rows sum to 1).

        The item's tokens go through the task's normal forward (``task.scores`` on the unmasked
        embeddings, ``output_attentions=True``) on an eager copy of the model; rows are packed
        ``batch_size`` at a time and cut to each item's length (padding is on the right and masked,
        so the maps of the real tokens are those of the item alone).

        Encoder-decoder models (ids = S source tokens, then D decoder tokens), per decoder layer: a
        decoder row holds the cross-attention over the source (columns ``:S``) and the decoder's
        self-attention (columns ``S:``), so it sums to 2; a source row holds the encoder's
        self-attention of the same layer index (zeros when the encoder has another number of layers
        or heads).
        """
        model = self.model
        twin = eager_copy(model)
        engine = engine_on(twin, self._engine)
        captured: list[Any] = []

        def ask(_module: Any, args: Any, kwargs: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
            return args, {**kwargs, "output_attentions": True}

        def keep(_module: Any, _args: Any, _kwargs: Any, output: Any) -> None:
            captured.append(output)

        items = self.items
        out: list[np.ndarray | None] = [None] * len(items)
        hooks = [twin.register_forward_pre_hook(ask, with_kwargs=True),
                 twin.register_forward_hook(keep, with_kwargs=True)]
        try:
            with torch.no_grad():
                for segments in engine._chunks([it.length for it in items], [1] * len(items), grad=False):
                    width = max(len(items[k].targets) for k, _, _ in segments)
                    batch = engine._batch(items, segments, list(range(len(items))), width)
                    for k, _, j in segments:
                        batch.inputs_embeds[j, : items[k].length] = engine.embed(items[k])
                        batch.target[j, : len(items[k].targets)] = torch.arange(len(items[k].targets))
                    captured.clear()
                    engine._scores(batch)
                    output = captured[-1] if captured else None
                    names = ("encoder_attentions", "decoder_attentions", "cross_attentions") if self.encoder_decoder \
                        else ("attentions",)
                    found: list[Any] = [getattr(output, n, None) or () for n in names]
                    if any(not m or any(a is None for a in m) for m in found):
                        raise _refuse(model, "returned no attention maps with output_attentions=True")
                    stacks = [torch.stack([a.float() for a in m], 1).cpu() for m in found]  # (B, layers, heads, ., .)
                    for k, _, j in segments:
                        out[k] = _item_maps(items[k], j, stacks, self.encoder_decoder)
        finally:
            for h in hooks:
                h.remove()
        self._engine.forward_calls += engine.forward_calls
        self._engine.rows += engine.rows
        self._engine.tokens += engine.tokens
        return [m for m in out if m is not None]


def _item_maps(item: TaskItem, row: int, stacks: list[torch.Tensor], encoder_decoder: bool) -> np.ndarray:
    """One item's ``(layers, heads, L, L)`` maps from the batch's stacks (row ``row``)."""
    n = item.length
    if not encoder_decoder:
        return stacks[0][row, :, :, :n, :n].numpy()
    encoder, decoder, cross = (s[row] for s in stacks)
    src = int(item.layout.get("source_length", 0))
    dec = n - src
    layers, heads = decoder.shape[:2]
    joint = torch.zeros((layers, heads, n, n))
    joint[:, :, src:, :src] = cross[:, :, :dec, :src]
    joint[:, :, src:, src:] = decoder[:, :, :dec, :dec]
    if tuple(encoder.shape[:2]) == (layers, heads):
        joint[:, :, :src, :src] = encoder[:, :, :src, :src]
    return joint.numpy()

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

    def attentions(self) -> list[np.ndarray]:
        """Self-attention maps of each item: ``(n_layers, n_heads, L, L)`` float32, row ``q`` the
        softmax weights of query position ``q`` over the key positions (rows sum to 1).

        The item's tokens go through the task's normal forward (``task.scores`` on the unmasked
        embeddings, ``output_attentions=True``) on an eager copy of the model; rows are packed
        ``batch_size`` at a time and cut to each item's length (padding is on the right and masked,
        so the maps of the real tokens are those of the item alone). Encoder-decoder models are
        refused (their maps split into encoder, decoder and cross attention).
        """
        model = self.model
        if getattr(getattr(model, "config", None), "is_encoder_decoder", False):
            raise InputError(
                f"attention methods read one stack of self-attention maps; {type(model).__name__} is an "
                "encoder-decoder model (encoder, decoder and cross attention): use a gradient or perturbation "
                "method (integrated_gradients, occlusion ...) for it"
            )
        twin = eager_copy(model)
        engine = engine_on(twin, self._engine)
        captured: list[Any] = []

        def ask(_module: Any, args: Any, kwargs: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
            return args, {**kwargs, "output_attentions": True}

        def keep(_module: Any, _args: Any, _kwargs: Any, output: Any) -> None:
            captured.append(getattr(output, "attentions", None))

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
                    maps = captured[-1] if captured else None
                    if not maps or any(m is None for m in maps):
                        raise _refuse(model, "returned no attention maps with output_attentions=True")
                    stacked = torch.stack([m.float() for m in maps], 1).cpu()  # (B, layers, heads, L, L)
                    for k, _, j in segments:
                        n = items[k].length
                        out[k] = stacked[j, :, :, :n, :n].numpy()
        finally:
            for h in hooks:
                h.remove()
        self._engine.forward_calls += engine.forward_calls
        self._engine.rows += engine.rows
        self._engine.tokens += engine.tokens
        return [m for m in out if m is not None]

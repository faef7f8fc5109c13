"""Split a HF model at one or more points with nnsight, without touching the user's model.

nnsight patches the ``forward`` of every module it wraps. To leave the user's model untouched we
wrap a *structural* copy: new module objects that share the very same parameter and buffer
tensors (no weight is copied). A layer given by index is found in the model's stack of blocks
(``bert.encoder.layer``, ``transformer.h``, ``model.layers``...).
"""

from __future__ import annotations

import copy
import warnings
from collections.abc import Sequence
from typing import Any

import torch

from .._adapters import ModelAdapter, _model_kind
from .._errors import InputError

__all__ = ["SplitModel", "hidden_of", "resolve_split_point"]

# nnsight serves these names on every module; a submodule with such a name is renamed ``E_<name>``.
_NNSIGHT_RESERVED = ("output", "input", "inputs", "source")


def hidden_of(output: Any) -> torch.Tensor:
    """The hidden state in a module's output: the tensor itself, or the first item of a tuple.

    transformers 5 blocks (BertLayer, GPT2Block, LlamaDecoderLayer) return a Tensor; older ones
    return a tuple. Indexing a Tensor output with ``[0]`` would silently take the first *sample*.
    """
    if isinstance(output, torch.Tensor):
        return output
    if isinstance(output, tuple | list) and output and isinstance(output[0], torch.Tensor):
        return output[0]
    if hasattr(output, "last_hidden_state"):
        return output.last_hidden_state
    raise InputError(f"cannot find a hidden-state tensor in a module output of type {type(output).__name__}")


def with_hidden(output: Any, hidden: torch.Tensor) -> Any:
    """``output`` with its hidden state replaced by ``hidden`` (same container type)."""
    if isinstance(output, torch.Tensor):
        return hidden
    if isinstance(output, tuple):
        return (hidden, *output[1:])
    if isinstance(output, list):
        return [hidden, *output[1:]]
    raise InputError(f"cannot replace the hidden state in a module output of type {type(output).__name__}")


def _block_stack(model: torch.nn.Module) -> tuple[str, torch.nn.ModuleList]:
    """The longest ModuleList of same-class modules: the transformer blocks."""
    best: tuple[str, torch.nn.ModuleList] | None = None
    for name, module in model.named_modules():
        if isinstance(module, torch.nn.ModuleList) and len(module) > 0:
            classes = {type(m) for m in module}
            if len(classes) == 1 and (best is None or len(module) > len(best[1])):
                best = (name, module)
    if best is None:
        raise InputError(f"{type(model).__name__} has no stack of blocks; give the split point as a module path")
    return best


def resolve_split_point(model: torch.nn.Module, point: int | str) -> str:
    """The module path of a split point: a block index (``3``, ``-1``) in the model's stack of blocks,
    or a module path as in ``model.named_modules()``; ``InputError`` naming close paths otherwise."""
    modules = dict(model.named_modules())
    if isinstance(point, bool):
        raise InputError(f"a split point is a block index or a module path, got {point!r}")
    if isinstance(point, int):
        stack_name, stack = _block_stack(model)
        if not -len(stack) <= point < len(stack):
            raise InputError(f"block index {point} is out of range: the model has {len(stack)} blocks")
        return f"{stack_name}.{point % len(stack)}"
    if not isinstance(point, str) or point not in modules:
        close = [n for n in modules if isinstance(point, str) and n.endswith(point.split(".")[-1])][:5]
        hint = f"; similar: {', '.join(close)}" if close else ""
        raise InputError(f"no module {point!r} in {type(model).__name__}{hint}")
    return point


class SplitModel:
    """A HF model split at one or more points (module paths or block indices).

    Parameters
    ----------
    model, tokenizer:
        Any HF model (encoder, classifier, causal LM) and its tokenizer. The model is neither
        moved, cast nor patched: nnsight wraps a copy that shares its weights.
    split_points:
        One or several split points: a block index (``3``, ``-1``: the output of that
        transformer block) or a module path as in ``model.named_modules()``
        (``"bert.encoder.layer.3.output"``).
    kind:
        ``"classifier"`` or ``"causal_lm"`` (how texts are tokenized; inferred from the model
        class, encoders count as classifiers).
    """

    def __init__(
        self,
        model: Any,
        tokenizer: Any,
        *,
        split_points: int | str | Sequence[int | str] = -1,
        kind: str | None = None,
        max_length: int | None = None,
    ) -> None:
        import nnsight

        if not isinstance(model, torch.nn.Module):
            raise InputError(f"model must be a torch.nn.Module (a HF model), got {type(model).__name__}")
        self.model: Any = model  # a HF model (config, generate ...): not typed by torch
        self.tokenizer = tokenizer
        kind = kind or _model_kind(model) or "classifier"
        self.adapter = ModelAdapter(model, tokenizer, kind=kind, max_length=max_length)
        points = [split_points] if isinstance(split_points, int | str) else list(split_points)
        if not points:
            raise InputError("give at least one split point")
        names = [self._resolve(p) for p in points]
        order = {name: i for i, (name, _) in enumerate(model.named_modules())}
        # nnsight must see modules in execution order: sort by definition order (blocks run in order).
        self.split_points: tuple[str, ...] = tuple(sorted(dict.fromkeys(names), key=order.__getitem__))
        tensors = list(model.parameters()) + list(model.buffers())
        memo: dict[int, Any] = {id(t): t for t in tensors}
        self._copy = copy.deepcopy(model, memo)
        self._copy.eval()
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*nnsight already serves.*")
            self.envoy = nnsight.NNsight(self._copy)

    @property
    def kind(self) -> str:
        return self.adapter.kind or "classifier"

    def _resolve(self, point: int | str) -> str:
        return resolve_split_point(self.model, point)

    def module(self, point: str) -> torch.nn.Module:
        """The user's module at ``point`` (for shapes; never hooked)."""
        return dict(self.model.named_modules())[point]

    def envoy_at(self, point: str) -> Any:
        """The nnsight envoy of ``point``, handling submodules renamed by nnsight (``output``)."""
        env = self.envoy
        for part in point.split("."):
            if part.isdigit():
                env = env[int(part)]
            elif part in _NNSIGHT_RESERVED:
                env = getattr(env, f"E_{part}")
            else:
                env = getattr(env, part)
        return env

    def point_name(self, point: int | str | None) -> str:
        if point is None:
            if len(self.split_points) != 1:
                raise InputError(f"this model has several split points ({', '.join(self.split_points)}); choose one")
            return self.split_points[0]
        name = self._resolve(point)
        if name not in self.split_points:
            raise InputError(f"{name!r} is not a split point of this model ({', '.join(self.split_points)})")
        return name

    def inputs(self, ids: Sequence[Sequence[int]]) -> dict[str, torch.Tensor]:
        """Right-padded ``input_ids`` and ``attention_mask`` on the model's device.

        Encoder-decoder models (T5, BART ...) also get the text as the decoder's input (shifted
        right behind the decoder start token), so encoder and decoder split points both see it.
        """
        from .._adapters import pad_ids

        input_ids, mask = pad_ids(ids, self.adapter.pad_id, self.adapter.device)
        out = {"input_ids": input_ids, "attention_mask": mask}
        config = self.model.config
        if getattr(config, "is_encoder_decoder", False):
            start = getattr(config, "decoder_start_token_id", None)
            if start is None:
                raise InputError(f"{type(self.model).__name__} has no decoder_start_token_id in its config")
            decoder = torch.full_like(input_ids, self.adapter.pad_id)
            decoder[:, 0] = int(start)
            decoder[:, 1:] = input_ids[:, :-1]
            out |= {"decoder_input_ids": decoder, "decoder_attention_mask": mask}
        return out

    @torch.no_grad()
    def hidden_states(self, inputs: dict[str, torch.Tensor], *, stop: bool = True) -> dict[str, torch.Tensor]:
        """Hidden states ``(B, L, H)`` at every split point for one batch (one nnsight trace).

        ``stop``: end the forward pass after the last split point (the rest is not computed).
        """
        saved: dict[str, Any] = {}
        envoys = [(p, self.envoy_at(p)) for p in self.split_points]
        with self.envoy.trace(**inputs) as tracer:
            for point, env in envoys:
                saved[point] = env.output.save()
            if stop:
                tracer.stop()
        return {p: hidden_of(v) for p, v in saved.items()}

    def collect(self, texts: Sequence[str], *, split_point: int | str | None = None, **kwargs: Any) -> Any:
        """Activations of one split point over ``texts`` (see :func:`collect_activations` for options)."""
        from ._activations import collect_activations

        name = self.point_name(split_point)
        return collect_activations(self, texts, **kwargs)[name]

    def __repr__(self) -> str:
        return f"SplitModel({type(self.model).__name__}, split_points={list(self.split_points)})"

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


# shared with core code (layer attribution): re-exported here for the concepts
from .._blocks import block_stack as _block_stack  # noqa: E402, F401
from .._blocks import hidden_of, resolve_split_point, with_hidden  # noqa: E402, F401


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

"""Transformer blocks of a HF model: the stack of blocks, split-point names, a block output's hidden state.

Core code (layer attribution) and the concepts (``concepts._split``) share these; they live outside
the concepts package so that core modules never import it.
"""

from __future__ import annotations

from typing import Any

import torch

from ._errors import InputError

__all__ = ["hidden_of", "with_hidden", "block_stack", "resolve_split_point"]


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


def block_stack(model: torch.nn.Module) -> tuple[str, torch.nn.ModuleList]:
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
        stack_name, stack = block_stack(model)
        if not -len(stack) <= point < len(stack):
            raise InputError(f"block index {point} is out of range: the model has {len(stack)} blocks")
        return f"{stack_name}.{point % len(stack)}"
    if not isinstance(point, str) or point not in modules:
        close = [n for n in modules if isinstance(point, str) and n.endswith(point.split(".")[-1])][:5]
        hint = f"; similar: {', '.join(close)}" if close else ""
        raise InputError(f"no module {point!r} in {type(model).__name__}{hint}")
    return point

"""Activation checkpointing for gradient rows too long for the memory budget.

A backward pass keeps every layer's activations: one SmolLM2-135M row of 512 tokens holds 1.3 GB,
of 2,048 tokens about 5 GB, however few rows share the pass. When one row alone would exceed the
budget (``batch_size="auto"``), gradient passes run on a structural copy of the model (new module
objects sharing the very same weights: the user's model is never touched) whose transformer blocks
are checkpointed (``torch.utils.checkpoint``, non-reentrant): only each block's input is kept and
the block is recomputed during the backward pass — about one more forward of compute, memory of
one block instead of all. Gradients are the same up to rounding.
"""

from __future__ import annotations

from typing import Any

import torch

from ._memory import row_bytes

__all__ = ["needs_checkpointing", "checkpointed_copy"]


def needs_checkpointing(model: Any, longest_row: int, budget: int, itemsize: int = 4) -> bool:
    """True when one gradient row of ``longest_row`` tokens would hold more than ``budget`` bytes."""
    return row_bytes(model, longest_row, grad=True, itemsize=itemsize) > budget


def _block_lists(model: torch.nn.Module) -> list[torch.nn.ModuleList]:
    """Every stack of same-class blocks (an encoder's and a decoder's layers), outermost first."""
    stacks: list[torch.nn.ModuleList] = []
    for module in model.modules():
        if isinstance(module, torch.nn.ModuleList) and len(module) >= 2 and len({type(m) for m in module}) == 1:
            if not any(module is s or any(module is sub for sub in s.modules()) for s in stacks):
                stacks.append(module)
    return stacks


def checkpointed_copy(model: Any) -> Any:
    """A structural copy of ``model`` (shared weights) whose blocks are checkpointed when gradients are on."""
    from ._attention import structural_copy

    twin = structural_copy(model)
    for stack in _block_lists(twin):
        for block in stack:
            inner = block.forward

            def forward(*args: Any, _inner: Any = inner, **kwargs: Any) -> Any:
                if torch.is_grad_enabled():
                    return torch.utils.checkpoint.checkpoint(_inner, *args, use_reentrant=False, **kwargs)
                return _inner(*args, **kwargs)

            block.forward = forward
    return twin

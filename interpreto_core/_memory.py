"""Rows per forward pass from a memory budget (``batch_size="auto"``).

A pass over ``R`` rows of ``L`` tokens holds, per layer, activations of about
``L (k_h h + k_i i) + k_a a L^2`` floats per row (hidden size h, feed-forward size i, a attention
heads). Without gradients only one layer's are alive at a time; a backward pass keeps every
layer's. The constants are upper bounds taken on this project's models (MiniLM, SmolLM2, T5 /
BART / GPT-2 configs), so the estimate errs on the side of fewer rows; rows are also capped at
:data:`AUTO_MAX_ROWS`, past which a CPU pass is no faster per row.
"""

from __future__ import annotations

from typing import Any

__all__ = ["AUTO_MAX_ROWS", "DEFAULT_MEMORY_BUDGET", "row_bytes", "rows_for"]

#: rows per pass when memory allows (the former fixed default)
AUTO_MAX_ROWS = 32
#: bytes of activations one pass may hold by default
DEFAULT_MEMORY_BUDGET = 256 * 2**20

_K_HIDDEN, _K_INNER, _K_ATTENTION = 10, 2, 2


def _first(config: Any, names: tuple[str, ...], default: int) -> int:
    for n in names:
        v = getattr(config, n, None)
        if isinstance(v, int) and v > 0:
            return v
    return default


def _shape(model: Any) -> tuple[int, int, int, int]:
    """(layers, hidden, inner, heads) of a HF model's config, with conservative fallbacks."""
    config = getattr(model, "config", None)
    hidden = _first(config, ("hidden_size", "d_model", "n_embd", "dim"), 768)
    layers = _first(config, ("num_hidden_layers", "n_layer", "num_layers", "n_layers"), 12)
    if getattr(config, "is_encoder_decoder", False):
        layers += _first(config, ("decoder_layers", "num_decoder_layers"), layers)
    inner = _first(config, ("intermediate_size", "d_ff", "n_inner", "ffn_dim", "encoder_ffn_dim"), 4 * hidden)
    heads = _first(config, ("num_attention_heads", "n_head", "num_heads", "encoder_attention_heads"), 12)
    return layers, hidden, inner, heads


def row_bytes(model: Any, length: int, *, grad: bool, itemsize: int = 4) -> int:
    """Estimated bytes of activations one row of ``length`` tokens holds during a pass."""
    layers, hidden, inner, heads = _shape(model)
    per_layer = length * (_K_HIDDEN * hidden + _K_INNER * inner) + _K_ATTENTION * heads * length * length
    return itemsize * per_layer * (layers if grad else 1)


def rows_for(model: Any, length: int, *, grad: bool, budget: int = DEFAULT_MEMORY_BUDGET,
             itemsize: int = 4, max_rows: int = AUTO_MAX_ROWS) -> int:
    """Rows of ``length`` tokens per pass within ``budget`` bytes (at least 1, at most ``max_rows``)."""
    return max(1, min(max_rows, budget // max(row_bytes(model, length, grad=grad, itemsize=itemsize), 1)))

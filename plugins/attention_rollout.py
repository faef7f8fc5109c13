"""Attention rollout (Abnar & Zuidema, "Quantifying Attention Flow in Transformers", ACL 2020).

Each layer's attention, fused over heads (mean, as the paper; or max), gets the residual
connection added and its rows renormalised: A_hat_l = (0.5 A_l + 0.5 I) / rowsum. The rollout
to layer l is the product R_l = A_hat_l A_hat_(l-1) ... A_hat_1; the score of token j for a
target is R_l[q_t, j] at the target's query position q_t (chosen as in ``attention``: the
target's position, else [CLS] for an encoder and the last token for a causal model). Rows of R
sum to 1: the scores of a target over all tokens (special ones included) sum to 1.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from interpreto_core.plugin import AttributionRecipe, InputError, hookimpl
from interpreto_plugins.attention import check_head, check_layer, check_query, fuse_heads, is_causal, query_rows


def rollout(maps: np.ndarray, *, head: str = "mean", layer: int = -1) -> np.ndarray:
    """``(L, L)`` rollout of ``maps (layers, heads, L, L)`` through layer ``layer`` (default: all)."""
    last = check_layer("attention_rollout", layer, maps.shape[0])
    n = maps.shape[-1]
    eye = np.eye(n)
    out = eye
    for layer_maps in maps[: last + 1]:
        a = 0.5 * fuse_heads("attention_rollout", layer_maps, head).astype(np.float64) + 0.5 * eye
        a = a / a.sum(-1, keepdims=True)
        out = a @ out
    return out


class AttentionRollout:
    """Rollout through layer ``layer`` (default: the last); ``head``: ``"mean"`` (default) or
    ``"max"`` fusion of the heads; ``query`` as in ``attention``."""

    output = "tokens"

    def __init__(self, *, layer: int = -1, head: str = "mean", query: str = "auto") -> None:
        if isinstance(layer, bool) or not isinstance(layer, int):
            raise InputError(f"attention_rollout: layer must be an integer (-1: the last), got {layer!r}")
        self.layer, self.head = layer, check_head("attention_rollout", head, allow_index=False)
        self.query = check_query("attention_rollout", query)

    def attribute(self, context: Any) -> list[np.ndarray]:
        if context.encoder_decoder:
            raise InputError(f"attention_rollout multiplies one stack of self-attention maps; "
                             f"{type(context.model).__name__} is an encoder-decoder model: use attention "
                             "(cross-attention over the source) or a gradient method")
        out = []
        for item, maps in zip(context.items, context.attentions(), strict=True):
            matrix = rollout(maps, head=self.head, layer=self.layer)
            out.append(query_rows(matrix, item, self.query, is_causal(maps), context))
        return out


@hookimpl
def interpreto_register_attributor(register):
    register(AttentionRollout, name="rollout",
             summary="Attention rollout: product over layers of (0.5 A + 0.5 I), rows renormalised, heads fused.")


@hookimpl
def interpreto_register_attribution(register):
    register(
        AttributionRecipe(attributor="rollout"),
        name="attention_rollout",
        summary="Attention rollout through all layers (heads averaged, residual added), from the target's query "
                "position (1 forward row, eager attention on a copy of the model).",
        reference="Abnar & Zuidema, Quantifying Attention Flow in Transformers, ACL 2020",
    )

"""Raw attention (as inseq's ``attention``; Bahdanau et al. 2015, Vaswani et al. 2017).

The score of token j for a target t is the attention weight A^(l)_h[q_t, j] of one layer l from
the target's query position q_t to key j, for one head h or fused over heads (mean or max); an
element's score is the sum over its tokens. Query position (``query="auto"``): the target's
position where it has one (LMs: the position whose output predicts the token; token
classification and masked LMs: the token itself); otherwise (sequence classifiers, QA) the first
token ([CLS]) for a bidirectional encoder, the last token for a causal one (GPT-2 / Llama
classifiers pool the last token). ``"first"``, ``"last"`` or ``"mean"`` (the mean over all query
rows) force one. Encoder-decoder models: a target's row holds the decoder layer's cross-attention
over the source and its self-attention over the decoder tokens before it (as inseq shows them), so
it sums to 2. Attention is a view of the model, not a faithful attribution (Jain & Wallace,
"Attention is not Explanation", NAACL 2019): use it beside gradient or perturbation methods.

The maps come from the task's own forward on an eager-attention copy of the model (the user's
model is never switched): one forward row per input, no backward.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from interpreto_core.plugin import AttributionRecipe, InputError, hookimpl

QUERIES = ("auto", "first", "last", "mean")
HEADS = ("mean", "max")


def check_query(name: str, query: Any) -> str:
    if query not in QUERIES:
        raise InputError(f"{name}: query must be one of {', '.join(QUERIES)}, got {query!r}")
    return str(query)


def check_head(name: str, head: Any, *, allow_index: bool = True) -> Any:
    if isinstance(head, str) and head in HEADS:
        return head
    if allow_index and isinstance(head, int) and not isinstance(head, bool):
        return head
    allowed = "a head index, " if allow_index else ""
    raise InputError(f"{name}: head must be {allowed}'mean' or 'max', got {head!r}")


def check_layer(name: str, layer: Any, n_layers: int) -> int:
    if isinstance(layer, bool) or not isinstance(layer, int) or not -n_layers <= layer < n_layers:
        raise InputError(f"{name}: layer must be an integer in -{n_layers}..{n_layers - 1} (the model has {n_layers} "
                         f"attention layers), got {layer!r}")
    return layer % n_layers


def fuse_heads(name: str, maps: np.ndarray, head: Any) -> np.ndarray:
    """``(heads, L, L)`` -> ``(L, L)``: one head, or their mean / max."""
    if head == "mean":
        return maps.mean(0)
    if head == "max":
        return maps.max(0)
    n = maps.shape[0]
    if not -n <= head < n:
        raise InputError(f"{name}: head {head} is out of range: the layer has {n} heads (0..{n - 1})")
    return maps[head]


def is_causal(maps: np.ndarray) -> bool:
    """A causal model's maps ``(layers, heads, L, L)`` give no weight above the diagonal."""
    return maps.shape[-1] > 1 and bool(np.all(np.triu(maps, k=1) == 0))


def query_rows(matrix: np.ndarray, item: Any, query: str, causal: bool, context: Any) -> np.ndarray:
    """``(T, L)``: for each target of ``item``, the row of ``matrix (L, L)`` read at its query position."""
    rows = []
    for target in item.targets:
        if query == "mean":
            rows.append(matrix.mean(0))
            continue
        row = context.row_of(item, target)
        if query == "auto" and row is not None:
            q = row
        elif query == "first" or (query == "auto" and not causal):
            q = 0
        else:
            q = matrix.shape[0] - 1
        rows.append(matrix[q])
    return np.stack(rows)


class AttentionWeights:
    """Attention weights of layer ``layer`` (default: the last) from each target's query position.

    ``head``: a head index, ``"mean"`` (default) or ``"max"`` over heads; ``query``: ``auto``,
    ``first``, ``last`` or ``mean`` (see the module docstring).
    """

    output = "tokens"

    def __init__(self, *, layer: int = -1, head: int | str = "mean", query: str = "auto") -> None:
        if isinstance(layer, bool) or not isinstance(layer, int):
            raise InputError(f"attention: layer must be an integer (a layer index, -1 the last), got {layer!r}")
        self.layer, self.head = layer, check_head("attention", head)
        self.query = check_query("attention", query)

    def attribute(self, context: Any) -> list[np.ndarray]:
        out = []
        for item, maps in zip(context.items, context.attentions(), strict=True):
            layer = check_layer("attention", self.layer, maps.shape[0])
            matrix = fuse_heads("attention", maps[layer], self.head)
            out.append(query_rows(matrix, item, self.query, is_causal(maps), context))
        return out


@hookimpl
def interpreto_register_attributor(register):
    register(AttentionWeights, name="attention_weights",
             summary="One layer's attention weights from each target's query position (heads one or fused).")


@hookimpl
def interpreto_register_attribution(register):
    register(
        AttributionRecipe(attributor="attention_weights"),
        name="attention",
        summary="Raw attention of one layer (default the last), heads averaged, from the target's query position "
                "(1 forward row, eager attention on a copy of the model).",
        reference="Bahdanau et al., Neural Machine Translation by Jointly Learning to Align and Translate, ICLR 2015; "
                  "caveat: Jain & Wallace, Attention is not Explanation, NAACL 2019",
    )

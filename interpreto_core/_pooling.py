"""Pooling: how a gradient method's token scores become element scores.

A gradient attribution gives one score per token (after the hidden dimension is reduced, see
``reduction``); an element (a word, a sentence, a custom segment) holds several tokens. With
``s_t`` the score of token t and ``G_e`` the tokens of element e:

- ``sum`` (default): ``Σ_{t∈G_e} s_t`` — keeps completeness (IG: Σ_e = f(x) − f(b)) and efficiency;
  the element's score is the attribution of changing all of its tokens (Sundararajan et al. 2017).
- ``mean``: ``(1/|G_e|) Σ_{t∈G_e} s_t`` — does not favour long elements.
- ``max``: ``max_{t∈G_e} s_t`` — the most positive token.
- ``abs_max``: ``s_{t*}`` with ``t* = argmax_{t∈G_e} |s_t|`` — the token of largest magnitude, sign kept
  (a tie between +a and −a gives +a).
- ``l2``: ``(Σ_{t∈G_e} s_t²)^{1/2}`` — unsigned: the norm of the element's token scores.

These are the span aggregations of inseq (Sarti et al. 2023, "Inseq: An Interpretability Toolkit for
Sequence Generation Models": sum, mean, max, absmax, vnorm).

Only ``sum`` keeps completeness: ``completeness_delta`` is refused with another pooling.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._errors import InputError

__all__ = ["POOLINGS", "check_pooling", "pool_tokens"]

POOLINGS = ("sum", "mean", "max", "abs_max", "l2")


def check_pooling(pooling: object, *, gradient: bool, completeness_delta: bool = False) -> None:
    """Refuse an unknown pooling, a pooling for a method that scores elements directly, and
    ``completeness_delta`` with a pooling that does not keep completeness."""
    if not isinstance(pooling, str) or pooling not in POOLINGS:
        raise InputError(f"unknown pooling {pooling!r}; choose one of {', '.join(POOLINGS)}")
    if pooling != "sum" and not gradient:
        raise InputError(f"pooling={pooling!r} applies to gradient methods (token scores pooled into elements); this "
                         "method scores elements directly: leave pooling unset")
    if pooling != "sum" and completeness_delta:
        raise InputError(f"completeness_delta compares the sum of the scores with f(x) - f(baseline), which holds for "
                         f"pooling='sum' only, not {pooling!r}: drop one of them")


def pool_tokens(token_scores: np.ndarray, membership: np.ndarray, pooling: str = "sum") -> np.ndarray:
    """``(T, E)`` element scores from ``(T, L)`` token scores and the ``(E, L)`` 0/1 membership."""
    s = np.asarray(token_scores, dtype=np.float64)
    m = np.asarray(membership, dtype=np.float64)
    if pooling == "sum":
        return s @ m.T
    if pooling == "mean":
        return (s @ m.T) / np.maximum(m.sum(axis=1), 1.0)
    if pooling == "l2":
        return np.sqrt((s * s) @ m.T)
    if pooling not in POOLINGS:
        raise InputError(f"unknown pooling {pooling!r}; choose one of {', '.join(POOLINGS)}")
    # max / abs_max over each element's tokens, scattered over the (element, token) pairs: memory
    # T x (pairs), never T x E x L
    e_idx, t_idx = np.nonzero(m > 0)
    values = s[:, t_idx].T  # (pairs, T)
    high = np.full((m.shape[0], s.shape[0]), -np.inf)
    np.maximum.at(high, e_idx, values)
    if pooling == "max":
        out = high
    else:  # abs_max: the signed score of largest magnitude (a tie +a / -a goes to +a)
        low = np.full_like(high, np.inf)
        np.minimum.at(low, e_idx, values)
        out = np.where(high >= -low, high, low)
    empty: np.ndarray = m.sum(axis=1) == 0  # an element without tokens (never built by the tasks) scores 0
    return np.where(empty[:, None], 0.0, out).T


def reduce_hidden(attr: Any, reduction: str) -> Any:
    """Token scores ``(..., L)`` from attributions ``(..., L, H)``: the hidden dimension summed (``sum``,
    keeps completeness), its L2 ``norm``, ``abs_sum`` or ``mean``."""
    if reduction == "sum":
        return attr.sum(-1)
    if reduction == "norm":
        return attr.norm(dim=-1)
    if reduction == "abs_sum":
        return attr.abs().sum(-1)
    return attr.mean(-1)

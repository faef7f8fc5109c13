"""Layer attribution: any gradient method at any split point (``layer=``), as captum's Layer* family.

With ``layer=`` (a block index or a module path, the split points of the concepts:
``SplitModel``'s names), the gradient points are the layer's *output* instead of the input
embeddings. Per input: one pass of two rows gives the layer's output h(x) on the input and
h(b) on the baseline input b (the baseline embedding in place of every element, as for input
gradients) and F(x), F(b); the gradient method plans its points between h(b) and h(x) (Layer
IG: h(b) + a (h(x) - h(b)), as captum's ``LayerIntegratedGradients``); each gradient row runs
the real input, and a forward hook puts the point in place of the layer's output, so
the rest of the model runs from there. Attributions ``(T, L, H')`` at the layer are reduced
over the hidden dimension (``reduction=``) and pooled over each element's tokens (``pooling=``,
default the sum): scores per
element at that layer; ``layer_units=True`` also keeps the per-unit ``(T, L, H')`` attributions
(``extras["layer_attributions"]``). Layer completeness (IG): the sum over every position and
unit equals F(x) - F(b) (``completeness_delta=True`` reports the gap over all positions, special
tokens included: at a layer they carry attribution too).

Hooks go on a structural copy of the model (shared weights): the user's model is never hooked.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from ._attention import engine_on, structural_copy
from ._blocks import hidden_of, resolve_split_point, with_hidden
from ._engine import Engine
from ._errors import InputError
from ._pooling import pool_tokens, reduce_hidden
from ._tasks import TaskItem

__all__ = ["run_layer_gradient"]


class _LayerHook:
    """Reads (``mode="read"``) or replaces (``mode="replace"``) the hidden state a module outputs."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.mode = "read"
        self.read: torch.Tensor | None = None
        self.points: torch.Tensor | None = None
        self.valid: torch.Tensor | None = None

    def __call__(self, _module: Any, _args: Any, output: Any) -> Any:
        hidden = hidden_of(output)
        if hidden.ndim != 3:
            raise InputError(f"layer {self.name!r} outputs a tensor of shape {tuple(hidden.shape)}: layer attribution "
                             "needs a (batch, tokens, hidden) output, one position per token (a block or a module "
                             "inside one)")
        if self.mode == "read":
            self.read = hidden.detach()
            return None
        assert self.points is not None and self.valid is not None
        if tuple(hidden.shape[:2]) != tuple(self.points.shape[:2]) or hidden.shape[2] != self.points.shape[2]:
            raise InputError(f"layer {self.name!r} outputs {tuple(hidden.shape)} on rows of {tuple(self.points.shape)}")
        return with_hidden(output, torch.where(self.valid, self.points.to(hidden.dtype), hidden))


def run_layer_gradient(explainer: Any, engine: Engine,
                       items: list[TaskItem]) -> list[tuple[np.ndarray, dict[str, Any]]]:
    """The gradient family at ``explainer.engine_params["layer"]``: one ``(scores (T, E), extras)`` per item."""
    adapter = explainer.adapter
    params = explainer.engine_params
    model = adapter.model
    if getattr(getattr(model, "config", None), "is_encoder_decoder", False):
        raise InputError(f"layer attribution runs one token stream; {type(model).__name__} is an encoder-decoder "
                         "model: explain its input embeddings (leave layer unset)")
    if getattr(explainer.first, "adaptive", False) is True:
        raise InputError("n_steps='auto' is not available with layer=: pass an integer n_steps")
    name = resolve_split_point(model, params["layer"])
    twin = structural_copy(model)
    module = dict(twin.named_modules())[name]
    twin_engine = engine_on(twin, engine)
    hook = _LayerHook(name)
    handle = module.register_forward_hook(hook)
    try:
        results = _run(explainer, twin_engine, items, hook)
    finally:
        handle.remove()
    engine.forward_calls += twin_engine.forward_calls
    engine.rows += twin_engine.rows
    engine.tokens += twin_engine.tokens
    for _, extras in results:
        extras["layer"] = name
    return results


def _run(explainer: Any, engine: Engine, items: list[TaskItem],
         hook: _LayerHook) -> list[tuple[np.ndarray, dict[str, Any]]]:
    adapter = explainer.adapter
    params = explainer.engine_params
    base_vec = adapter.baseline_vector(params["baseline"])
    xs, bs = [], []
    for item in items:
        x = engine.embed(item)
        covered = torch.from_numpy(item.membership().sum(0) > 0).to(adapter.device)
        xs.append(x)
        bs.append(torch.where(covered[:, None], base_vec.expand_as(x), x))
    # 1. the layer's output and the scores on each input and its baseline: two rows per item
    h_x, h_b, f_delta = _read_layer(engine, items, xs, bs, hook)
    # 2. the gradient method's points between the two outputs
    name = explainer._records["first"].qualified_name
    plans = []
    for item, hx, hb in zip(items, h_x, h_b, strict=True):
        plan = explainer.first.plan(hx, hb, generator=explainer._generator(item))
        points = getattr(plan, "points", None)
        if not isinstance(points, torch.Tensor) or points.ndim != 3 or tuple(points.shape[1:]) != tuple(hx.shape):
            got = tuple(points.shape) if isinstance(points, torch.Tensor) else type(points).__name__
            raise InputError(f"gradient method {name!r} returned points of shape {got}, expected (S, "
                             f"{hx.shape[0]}, {hx.shape[1]}) at the layer")
        plans.append(plan)
    # 3. gradients of each target's score at the points, the rest of the model run from the layer
    grads = _layer_gradients(engine, items, xs, [p.points for p in plans], hook)
    agg_name = explainer._records["agg"].qualified_name
    results = []
    for item, plan, g, hx, delta in zip(items, plans, grads, h_x, f_delta, strict=True):
        attr = explainer.aggregator.aggregate(plan, g)  # (T, L, H')
        expected = (len(item.targets), *hx.shape)
        if not isinstance(attr, torch.Tensor) or tuple(attr.shape) != expected:
            got = tuple(attr.shape) if isinstance(attr, torch.Tensor) else type(attr).__name__
            raise InputError(f"aggregator {agg_name!r} returned {got}, expected (T, L, H) = {expected}")
        token_scores = reduce_hidden(attr, params["reduction"]).numpy().astype(np.float64)  # (T, L)
        scores = pool_tokens(token_scores, item.membership(), params.get("pooling", "sum"))
        extras: dict[str, Any] = dict(plan.info.get("extras", {}))
        if params.get("layer_units"):
            extras["layer_attributions"] = attr.numpy().astype(np.float32)
        if params["completeness_delta"]:
            total = attr.double().sum((1, 2)).numpy()
            extras["completeness_delta"] = (total - delta).tolist()
        results.append((scores, extras))
    return results


@torch.no_grad()
def _read_layer(engine: Engine, items: list[TaskItem], xs: list[torch.Tensor], bs: list[torch.Tensor],
                hook: _LayerHook) -> tuple[list[torch.Tensor], list[torch.Tensor], list[np.ndarray]]:
    """``h(x)``, ``h(b)`` ``(L, H')`` and ``F(x) - F(b)`` ``(T,)`` of each item, in passes of 2 rows per item."""
    n = len(items)
    hidden: list[list[Any]] = [[None, None] for _ in range(n)]  # h(x), h(b) of each item
    f: list[list[Any]] = [[None, None] for _ in range(n)]  # F(x), F(b)
    hook.mode = "read"
    for segments in engine._chunks([it.length for it in items], [2] * n, grad=False):
        width = max(len(items[i].targets) for i, _, _ in segments)
        batch = engine._batch(items, segments, list(range(n)), width)
        for i, rs, j in segments:
            for r, row in enumerate(rs):
                batch.inputs_embeds[j + r, : items[i].length] = (xs[i] if row == 0 else bs[i]).to(engine.adapter.dtype)
                batch.target[j + r, : len(items[i].targets)] = torch.arange(len(items[i].targets))
        scores = engine._scores(batch).double().cpu().numpy()
        read = hook.read
        assert read is not None
        if tuple(read.shape[:2]) != tuple(batch.inputs_embeds.shape[:2]):
            raise InputError(f"layer {hook.name!r} outputs {tuple(read.shape)} on rows of "
                             f"{tuple(batch.inputs_embeds.shape[:2])} tokens: layer attribution needs one position "
                             "per input token")
        for i, rs, j in segments:
            length, t = items[i].length, len(items[i].targets)
            for r, row in enumerate(rs):
                hidden[i][row] = read[j + r, :length].float()
                f[i][row] = scores[j + r, :t]
    return [h[0] for h in hidden], [h[1] for h in hidden], [fx - fb for fx, fb in f]


def _layer_gradients(engine: Engine, items: list[TaskItem], xs: list[torch.Tensor], points: list[torch.Tensor],
                     hook: _LayerHook) -> list[torch.Tensor]:
    """Gradients ``(S, T, L, H')`` of each target's score w.r.t. the layer's output at each point.

    As the engine's input gradients: one job per (item, target) whose rows are the item's points,
    each row cut to the tokens its target needs (``Task.row_length``: a causal LM's target at
    position p carries p + 1 tokens; gradients after the cut are zero), packed under the memory
    cap. Every row runs the item's real input up to the layer."""
    n_targets = [len(it.targets) for it in items]
    width = points[0].shape[-1] if points else 0
    grads = [torch.zeros((len(p), t, it.length, width), dtype=torch.float32)
             for p, t, it in zip(points, n_targets, items, strict=True)]
    jobs = [(i, t) for i, it in enumerate(items) for t in range(n_targets[i])]
    item_of = [i for i, _ in jobs]
    lengths = [engine.row_length(items[i], [t]) for i, t in jobs]
    rows = [len(points[i]) for i, _ in jobs]
    device = engine.adapter.device
    hook.mode = "replace"
    try:
        for segments in engine._chunks(lengths, rows, grad=True):
            batch = engine._batch(items, segments, item_of, 1, lengths)
            emb = batch.inputs_embeds
            b, length = emb.shape[:2]
            pts = torch.zeros((b, length, width), dtype=torch.float32, device=device)
            valid = torch.zeros((b, length, 1), dtype=torch.bool, device=device)
            for k, rs, j in segments:
                (i, t), cut, n = jobs[k], lengths[k], len(rs)
                s_idx = torch.from_numpy(rs).to(points[i].device)
                emb[j : j + n, :cut] = xs[i][:cut].to(emb.dtype)
                pts[j : j + n, :cut] = points[i][s_idx, :cut].to(device, torch.float32)
                valid[j : j + n, :cut] = True
                batch.target[j : j + n, 0] = t
            pts.requires_grad_(True)
            hook.points, hook.valid = pts, valid
            with torch.enable_grad():
                scores = engine._scores(batch)
                (g,) = torch.autograd.grad(scores.sum(), pts)
            g = g.float().cpu()
            for k, rs, j in segments:
                (i, t), cut = jobs[k], lengths[k]
                grads[i][torch.from_numpy(rs), t, :cut] = g[j : j + len(rs), :cut]
    finally:
        hook.mode, hook.points, hook.valid = "read", None, None
    return grads

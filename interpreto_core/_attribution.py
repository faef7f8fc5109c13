"""The attribution engine: runs a recipe of parts over texts in batched forward passes."""

from __future__ import annotations

import importlib.metadata as md
import zlib
from collections.abc import Iterator, Sequence
from typing import Any

import attrs
import numpy as np
import torch
from tqdm.auto import tqdm

from ._adapters import INFERENCE_MODES, Encoding, ModelAdapter, Target, adapt
from ._elements import Elements
from ._errors import InputError, UnknownParameterError
from ._explanation import Explanation
from ._parts import AttributionRecipe, GradientPlan, PerturbationPlan, build_part
from ._registry import Registry, get_registry

__all__ = ["Explainer", "explain", "REDUCTIONS"]

REDUCTIONS = ("sum", "norm", "abs_sum", "mean")

# Parameters the engine itself takes (not routed to parts).
ENGINE_PARAMS = {
    "batch_size": 32,
    "seed": 0,
    "mode": None,
    "baseline": None,
    "reduction": "sum",
    "max_new_tokens": 5,
    "completeness_delta": False,
    "progress": None,
}


@attrs.define(kw_only=True)
class _Prepared:
    """One text ready for the engine."""

    index: int
    encoding: Encoding
    ids: list[int]  # full sequence (prompt + continuation for LMs)
    elements: Elements  # prompt elements + continuation tokens
    generated: tuple[bool, ...]
    membership: np.ndarray  # (E, L)
    targets: list[Target]
    visible: np.ndarray  # (T, E) bool: element can influence target
    output_text: str | None = None

    @property
    def length(self) -> int:
        return len(self.ids)

    @property
    def target_index(self) -> torch.Tensor:
        return torch.tensor([t.index for t in self.targets], dtype=torch.long)

    @property
    def target_position(self) -> torch.Tensor | None:
        if self.targets[0].position is None:
            return None
        return torch.tensor([t.position for t in self.targets], dtype=torch.long)


def _versions() -> dict[str, str]:
    out = {}
    for dist in ("interpreto-core", "torch", "transformers"):
        try:
            out[dist] = md.version(dist)
        except md.PackageNotFoundError:
            pass
    return out


class Explainer:
    """Explain texts with one attribution method, reusing the model adapter and parts.

    Parameters
    ----------
    model, tokenizer:
        A HF sequence classifier or causal LM and its tokenizer (or a ``ModelAdapter``).
    method:
        A registered attribution method (``interpreto methods --kind attribution``) or an
        ``AttributionRecipe`` naming parts of any plugin.
    granularity:
        ``token``, ``word`` (default), ``sentence`` or ``all_tokens``.
    batch_size:
        Rows (perturbed inputs or gradient points) per forward pass.
    seed:
        Seed for stochastic methods; the same seed gives the same result.
    mode:
        Score explained: ``logits``, ``softmax`` or ``log_softmax``. Default: logits for
        classifiers, log_softmax (log-probability of the token) for causal LMs.
    baseline:
        What replaces a masked element / starts a gradient path: ``mask``, ``pad``, ``unk``,
        ``zero`` or ``auto``. Default: ``auto`` (mask token, else pad, else zero) for
        perturbations, ``zero`` for gradients.
    reduction:
        How a gradient attribution's hidden dimension is reduced: ``sum`` (default, keeps
        completeness), ``norm``, ``abs_sum`` or ``mean``.
    max_new_tokens:
        Causal LMs without a given continuation: tokens generated greedily and explained.
    completeness_delta:
        Gradient methods: also compute ``sum(scores) - (f(x) - f(baseline))`` per target.
    progress:
        Show a progress bar (default: when there is more than one batch and stderr is a TTY).
    **params:
        Parameters of the method's parts (e.g. ``n_samples``, ``n_steps``); unknown ones raise.
    """

    def __init__(
        self,
        model: Any,
        tokenizer: Any = None,
        *,
        method: str | AttributionRecipe = "lime",
        granularity: str = "word",
        registry: Registry | None = None,
        kind: str | None = None,
        device: Any = None,
        dtype: Any = None,
        max_length: int | None = None,
        **params: Any,
    ) -> None:
        self.registry = registry or get_registry()
        self.adapter: ModelAdapter = adapt(
            model, tokenizer, kind=kind, device=device, dtype=dtype, max_length=max_length
        )
        if isinstance(method, AttributionRecipe):
            self.recipe, self.method_name = method, "custom"
            provenance = {"recipe": "custom"}
        else:
            rec = self.registry.get("attribution", method)
            self.recipe, self.method_name = rec.obj, rec.name
            provenance = {"recipe": f"{rec.distribution or rec.plugin} {rec.version or ''}".strip()}
        self.granularity = granularity
        merged = {**self.recipe.defaults, **params}
        self.engine_params = {k: merged.pop(k, v) for k, v in ENGINE_PARAMS.items()}
        first_kind = "perturbator" if self.recipe.family == "perturbation" else "gradient_method"
        first_name = self.recipe.perturbator or self.recipe.gradient_method
        assert first_name is not None
        first = self.registry.get(first_kind, first_name)
        agg = self.registry.get("aggregator", self.recipe.aggregator)
        expected_input = self.recipe.family
        if agg.obj.input != expected_input:
            raise InputError(
                f"aggregator {agg.name!r} takes {agg.obj.input} outputs, but {first_kind} {first.name!r} "
                f"makes {expected_input}s; pick an aggregator with input={expected_input!r}"
            )
        routed: dict[str, dict[str, Any]] = {first.name: {}, agg.name: {}}
        unknown = []
        for key, value in merged.items():
            takers = [r for r in (first, agg) if key in r.params]
            if not takers:
                unknown.append(key)
            for r in takers:
                routed[r.name][key] = value
        if unknown:
            accepted = sorted(set(first.params) | set(agg.params) | set(ENGINE_PARAMS))
            raise UnknownParameterError(
                f"method {self.method_name!r} does not take {', '.join(sorted(unknown))}; "
                f"it takes: {', '.join(accepted)}"
            )
        self.first = build_part(first.obj, routed[first.name], kind=first_kind, name=first.name)
        self.aggregator = build_part(agg.obj, routed[agg.name], kind="aggregator", name=agg.name)
        self._check_engine_params()
        self.parameters = {
            **{k: v for k, v in self.engine_params.items() if k != "progress"},
            **routed[first.name],
            **routed[agg.name],
            "parts": {first_kind: first.qualified_name, "aggregator": agg.qualified_name},
        }
        self.versions = _versions() | {
            f"{r.kind}:{r.name}": f"{r.distribution or r.plugin} {r.version or ''}".strip() for r in (first, agg)
        } | provenance

    def _check_engine_params(self) -> None:
        p = self.engine_params
        if not isinstance(p["batch_size"], int) or p["batch_size"] < 1:
            raise InputError(f"batch_size must be a positive integer, got {p['batch_size']!r}")
        if p["mode"] is None:
            p["mode"] = "logits" if self.adapter.kind == "classifier" else "log_softmax"
        if p["mode"] not in INFERENCE_MODES:
            raise InputError(f"unknown mode {p['mode']!r}; choose one of {', '.join(INFERENCE_MODES)}")
        if p["baseline"] is None:
            p["baseline"] = "auto" if self.recipe.family == "perturbation" else "zero"
        self.adapter.baseline_vector(p["baseline"])  # validates early
        if p["reduction"] not in REDUCTIONS:
            raise InputError(f"unknown reduction {p['reduction']!r}; choose one of {', '.join(REDUCTIONS)}")
        if not isinstance(p["seed"], int):
            raise InputError(f"seed must be an integer, got {p['seed']!r}")

    # -- public -----------------------------------------------------------------------------------
    def explain(self, texts: str | Sequence[str], targets: Any = None) -> list[Explanation]:
        """Explain ``texts`` (a string or a list); ``targets`` as in :func:`explain`."""
        single = isinstance(texts, str)
        text_list = [texts] if single else list(texts)
        if not text_list:
            raise InputError("no texts to explain")
        with self.adapter.evaluating():
            prepared = self._prepare(text_list, targets)
            if self.recipe.family == "perturbation":
                results = self._run_perturbation(prepared)
            else:
                results = self._run_gradient(prepared)
        return [self._explanation(p, scores, extras) for p, (scores, extras) in zip(prepared, results, strict=True)]

    __call__ = explain

    # -- preparation ------------------------------------------------------------------------------
    def _per_text_targets(self, targets: Any, n: int) -> list[Any]:
        if targets is None or isinstance(targets, int | str) and not isinstance(targets, bool):
            return [targets] * n
        if isinstance(targets, Sequence) and len(targets) == n:
            return list(targets)
        raise InputError(
            f"targets must be None, one target for every text, or a list with one entry per text "
            f"({n} texts, got {targets!r}); for several targets of one text use [[0, 1]]"
        )

    def _prepare(self, texts: list[str], targets: Any) -> list[_Prepared]:
        adapter = self.adapter
        encodings = [adapter.encode(t) for t in texts]
        per_text = self._per_text_targets(targets, len(texts))
        if adapter.kind == "classifier":
            return self._prepare_classifier(encodings, per_text)
        return [self._prepare_lm(i, enc, tgt) for i, (enc, tgt) in enumerate(zip(encodings, per_text, strict=True))]

    def _prepare_classifier(self, encodings: list[Encoding], per_text: list[Any]) -> list[_Prepared]:
        labels = self.adapter.class_labels()
        n_classes = len(labels)
        if any(t is None for t in per_text):
            logits = self.adapter.predict([e.input_ids for e in encodings], batch_size=self.engine_params["batch_size"])
            predicted = logits.argmax(axis=1).tolist()
        out = []
        for i, (enc, tgt) in enumerate(zip(encodings, per_text, strict=True)):
            if tgt is None:
                ids = [predicted[i]]
            elif isinstance(tgt, str) or (isinstance(tgt, Sequence) and any(isinstance(x, str) for x in tgt)):
                raise InputError(
                    "targets for a classifier are class indices; text targets (continuations) are for causal LMs"
                )
            else:
                ids = [tgt] if isinstance(tgt, int) else list(tgt)
            if not ids:
                raise InputError(f"text {i} has an empty target list")
            for c in ids:
                if not isinstance(c, int | np.integer) or isinstance(c, bool) or not 0 <= c < n_classes:
                    raise InputError(f"target {c!r} is out of range: the model has {n_classes} classes (0..{n_classes - 1})")
            elements = enc.elements(self.granularity)
            if len(elements) == 0:
                raise InputError(f"text {enc.text!r} has no {self.granularity} elements")
            out.append(
                _Prepared(
                    index=i,
                    encoding=enc,
                    ids=list(enc.input_ids),
                    elements=elements,
                    generated=(False,) * len(elements),
                    membership=elements.membership(len(enc.input_ids)),
                    targets=[Target(index=int(c), label=labels[c]) for c in ids],
                    visible=np.ones((len(ids), len(elements)), dtype=bool),
                )
            )
        return out

    def _prepare_lm(self, i: int, enc: Encoding, tgt: Any) -> _Prepared:
        adapter = self.adapter
        if tgt is None:
            n_new = self.engine_params["max_new_tokens"]
            if not isinstance(n_new, int) or n_new < 1:
                raise InputError(f"max_new_tokens must be a positive integer, got {n_new!r}")
            cont = adapter.generate(enc.input_ids, max_new_tokens=n_new)
        elif isinstance(tgt, str):
            if not tgt:
                raise InputError("the continuation to explain is empty")
            cont = adapter.tokenizer(tgt, add_special_tokens=False)["input_ids"]
        elif isinstance(tgt, Sequence) and all(isinstance(x, int) for x in tgt):
            cont = list(tgt)
        else:
            raise InputError(
                "targets for a causal LM are a continuation (a string, or a list of token ids) per text, or None "
                f"to generate {self.engine_params['max_new_tokens']} tokens greedily; got {tgt!r}"
            )
        if not cont:
            raise InputError(f"the model generated nothing to explain for text {i} (it stopped at once)")
        ids = list(enc.input_ids) + list(cont)
        if len(ids) > adapter.max_length:
            raise InputError(f"prompt + continuation is {len(ids)} tokens, more than the model's {adapter.max_length}")
        prompt_elements = enc.elements(self.granularity)
        if len(prompt_elements) == 0:
            raise InputError(f"text {enc.text!r} has no {self.granularity} elements")
        p = len(enc.input_ids)
        cont_tokens = [adapter.token_label(t) for t in cont]
        # Generated tokens are elements too (a token each), except the last: it influences no target.
        elements = Elements(
            texts=prompt_elements.texts + tuple(cont_tokens[:-1]),
            spans=prompt_elements.spans + (None,) * (len(cont) - 1),
            token_groups=prompt_elements.token_groups + tuple((p + j,) for j in range(len(cont) - 1)),
            granularity=self.granularity,
        )
        targets = [Target(index=int(t), label=cont_tokens[j], position=p + j - 1) for j, t in enumerate(cont)]
        last_token = np.array([max(g) for g in elements.token_groups])
        visible = np.array([[last_token <= tg.position] for tg in targets])[:, 0, :]
        return _Prepared(
            index=i,
            encoding=enc,
            ids=ids,
            elements=elements,
            generated=(False,) * len(prompt_elements) + (True,) * (len(cont) - 1),
            membership=elements.membership(len(ids)),
            targets=targets,
            visible=visible,
            output_text=adapter.tokenizer.decode(cont),
        )

    def _explanation(self, p: _Prepared, scores: np.ndarray, extras: dict[str, Any]) -> Explanation:
        scores = np.where(p.visible, scores, 0.0)
        return Explanation(
            text=p.encoding.text,
            elements=p.elements.texts,
            spans=p.elements.spans,
            scores=scores,
            targets=p.targets,
            method=self.method_name,
            granularity=self.granularity,
            parameters=self.parameters,
            versions=self.versions,
            generated=p.generated,
            model_kind=self.adapter.kind,
            output_text=p.output_text,
            extras=extras | ({"truncated": True} if p.encoding.truncated else {}),
        )

    # -- batching ---------------------------------------------------------------------------------
    def _rng(self, p: _Prepared) -> np.random.Generator:
        # Seeded by the text itself, not its position: a text gets the same result alone or in a batch.
        return np.random.default_rng([self.engine_params["seed"], zlib.crc32(p.encoding.text.encode())])

    def _generator(self, p: _Prepared) -> torch.Generator:
        return torch.Generator().manual_seed(int(self._rng(p).integers(2**62)))

    def _batches(
        self, prepared: list[_Prepared], rows_per_text: list[int]
    ) -> Iterator[list[tuple[int, np.ndarray, int]]]:
        """Chunks of ``batch_size`` rows, texts packed by length.

        A chunk is ``[(text, its row indices, where they start in the chunk)]``.
        """
        order = sorted(range(len(prepared)), key=lambda i: prepared[i].length)
        bs = self.engine_params["batch_size"]
        chunk: list[tuple[int, np.ndarray, int]] = []
        room = bs
        for i in order:
            done = 0
            while done < rows_per_text[i]:
                take = min(room, rows_per_text[i] - done)
                chunk.append((i, np.arange(done, done + take), bs - room))
                done, room = done + take, room - take
                if room == 0:
                    yield chunk
                    chunk, room = [], bs
        if chunk:
            yield chunk

    def _progress(self, total: int, desc: str) -> tqdm:
        show = self.engine_params["progress"]
        disable = (total <= 1) if show is None else not show
        if show is None and not disable:
            disable = None  # tqdm: off when not a TTY
        return tqdm(total=total, desc=desc, unit="batch", disable=disable, leave=False)

    def _pad(self, rows: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        length = max(r.shape[0] for r in rows)
        hidden = rows[0].shape[1]
        emb = torch.zeros((len(rows), length, hidden), dtype=self.adapter.dtype, device=self.adapter.device)
        mask = torch.zeros((len(rows), length), dtype=torch.long, device=self.adapter.device)
        for j, r in enumerate(rows):
            emb[j, : r.shape[0]] = r
            mask[j, : r.shape[0]] = 1
        return emb, mask

    def _batch_tensors(
        self, segments: list[tuple[int, np.ndarray, int]], prepared: list[_Prepared], *, per_row_target: bool
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """Empty ``emb (rows, length, H)`` and a filled ``mask``, ``index`` and ``position`` for a chunk.

        ``per_row_target``: each row scores one target (gradient rows: ``r % T``); otherwise each
        row scores all its text's targets (padded to the chunk's largest ``T``).
        """
        adapter = self.adapter
        n_rows = sum(len(rs) for _, rs, _ in segments)
        length = max(prepared[i].length for i, _, _ in segments)
        width = 1 if per_row_target else max(len(prepared[i].targets) for i, _, _ in segments)
        emb = torch.zeros((n_rows, length, adapter.embedding.weight.shape[1]), dtype=adapter.dtype,
                          device=adapter.device)
        mask = torch.zeros((n_rows, length), dtype=torch.long)
        index = torch.zeros((n_rows, width), dtype=torch.long)
        position = torch.zeros((n_rows, width), dtype=torch.long) if adapter.kind == "causal_lm" else None
        for i, rs, j in segments:
            p, n = prepared[i], len(rs)
            mask[j : j + n, : p.length] = 1
            t_index, t_position = p.target_index, p.target_position
            if per_row_target:
                t = torch.from_numpy(rs % len(p.targets))
                index[j : j + n, 0] = t_index[t]
                if position is not None and t_position is not None:
                    position[j : j + n, 0] = t_position[t]
            else:
                index[j : j + n, : len(p.targets)] = t_index
                if position is not None and t_position is not None:
                    position[j : j + n, : len(p.targets)] = t_position
                    position[j : j + n, len(p.targets) :] = t_position[-1]
        dev = adapter.device
        return emb, mask.to(dev), index.to(dev), position.to(dev) if position is not None else None

    # -- perturbation -----------------------------------------------------------------------------
    def _run_perturbation(self, prepared: list[_Prepared]) -> list[tuple[np.ndarray, dict[str, Any]]]:
        adapter = self.adapter
        baseline = adapter.baseline_vector(self.engine_params["baseline"])
        plans: list[PerturbationPlan] = []
        for p in prepared:
            plan = self.first.plan(len(p.elements), rng=self._rng(p))
            masks = np.asarray(plan.masks, dtype=np.float32)
            if masks.ndim != 2 or masks.shape[1] != len(p.elements):
                raise InputError(f"perturbator returned masks of shape {masks.shape}, expected (n, {len(p.elements)})")
            plans.append(attrs.evolve(plan, masks=masks))
        embeds = [adapter.embed(torch.tensor(p.ids)) for p in prepared]
        # token-level keep weights: special tokens (no element) are always kept
        covered = [torch.from_numpy(p.membership.sum(0) > 0) for p in prepared]
        outputs = [np.zeros((len(pl.masks), len(p.targets)), dtype=np.float64) for p, pl in zip(prepared, plans, strict=True)]
        rows_per_text = [len(pl.masks) for pl in plans]
        n_batches = -(-sum(rows_per_text) // self.engine_params["batch_size"])
        self.forward_calls = 0
        with torch.inference_mode(), self._progress(n_batches, f"{self.method_name}") as bar:
            for segments in self._batches(prepared, rows_per_text):
                emb, mask, index, position = self._batch_tensors(segments, prepared, per_row_target=False)
                for i, rs, j in segments:  # all rows of one text at once: a few tensor ops per text, not per row
                    p = prepared[i]
                    keep = torch.from_numpy(plans[i].masks[rs] @ p.membership)  # (n, L)
                    keep[:, ~covered[i]] = 1.0
                    keep = keep.to(adapter.device, adapter.dtype)[:, :, None]
                    emb[j : j + len(rs), : p.length] = keep * embeds[i] + (1 - keep) * baseline
                scores = adapter.target_scores(emb, mask, index, position, mode=self.engine_params["mode"])
                self.forward_calls += 1
                scores = scores.float().cpu().numpy()
                for i, rs, j in segments:
                    outputs[i][rs] = scores[j : j + len(rs), : len(prepared[i].targets)]
                bar.update(1)
        results = []
        for p, plan, out in zip(prepared, plans, outputs, strict=True):
            scores = np.asarray(self.aggregator.aggregate(plan, out), dtype=np.float64)
            if scores.shape != (len(p.targets), len(p.elements)):
                raise InputError(
                    f"aggregator returned shape {scores.shape}, expected {(len(p.targets), len(p.elements))}"
                )
            results.append((scores, dict(plan.info.get("extras", {}))))
        return results

    # -- gradients --------------------------------------------------------------------------------
    def _run_gradient(self, prepared: list[_Prepared]) -> list[tuple[np.ndarray, dict[str, Any]]]:
        adapter = self.adapter
        base_vec = adapter.baseline_vector(self.engine_params["baseline"])
        plans: list[GradientPlan] = []
        xs = []
        for p in prepared:
            x = adapter.embed(torch.tensor(p.ids))
            covered = torch.from_numpy(p.membership.sum(0) > 0).to(adapter.device)
            # Tokens outside every element (special tokens) keep their embedding on the baseline,
            # so they get no attribution and completeness holds over the elements.
            b = torch.where(covered[:, None], base_vec.expand_as(x), x)
            plan = self.first.plan(x, b, generator=self._generator(p))
            plans.append(plan)
            xs.append((x, b))
        # rows: (point, target) pairs; each row's score is one target at one point
        rows_per_text = [len(pl.points) * len(p.targets) for p, pl in zip(prepared, plans, strict=True)]
        grads = [
            torch.zeros((len(pl.points), len(p.targets), p.length, x.shape[1]), dtype=torch.float32)
            for p, pl, (x, _) in zip(prepared, plans, xs, strict=True)
        ]
        n_batches = -(-sum(rows_per_text) // self.engine_params["batch_size"])
        self.forward_calls = 0
        with self._progress(n_batches, self.method_name) as bar:
            for segments in self._batches(prepared, rows_per_text):
                emb, mask, index, position = self._batch_tensors(segments, prepared, per_row_target=True)
                # row r of a text is (point r // T, target r % T)
                split = [(i, torch.from_numpy(rs // len(prepared[i].targets)),
                          torch.from_numpy(rs % len(prepared[i].targets)), j) for i, rs, j in segments]
                for i, s_idx, _, j in split:
                    points = plans[i].points
                    emb[j : j + len(s_idx), : prepared[i].length] = points[s_idx.to(points.device)].to(
                        adapter.device, adapter.dtype)
                emb.requires_grad_(True)
                with torch.enable_grad():
                    scores = adapter.target_scores(emb, mask, index, position, mode=self.engine_params["mode"])
                    (g,) = torch.autograd.grad(scores.sum(), emb)
                self.forward_calls += 1
                g = g.float().cpu()
                for i, s_idx, t_idx, j in split:
                    grads[i][s_idx, t_idx] = g[j : j + len(s_idx), : prepared[i].length]
                bar.update(1)
        results = []
        for p, plan, g, (x, b) in zip(prepared, plans, grads, xs, strict=True):
            token_attr = self.aggregator.aggregate(plan, g)  # (T, L, H)
            token_scores = _reduce(token_attr, self.engine_params["reduction"])  # (T, L)
            scores = token_scores.numpy().astype(np.float64) @ p.membership.T.astype(np.float64)
            extras: dict[str, Any] = dict(plan.info.get("extras", {}))
            if self.engine_params["completeness_delta"]:
                extras["completeness_delta"] = self._completeness(p, x, b, scores).tolist()
            results.append((scores, extras))
        return results

    @torch.no_grad()
    def _completeness(self, p: _Prepared, x: torch.Tensor, b: torch.Tensor, scores: np.ndarray) -> np.ndarray:
        emb, mask = self._pad([x, b])
        index = p.target_index.to(self.adapter.device)[None].expand(2, -1)
        pos = p.target_position
        position = pos.to(self.adapter.device)[None].expand(2, -1) if pos is not None else None
        out = self.adapter.target_scores(emb, mask, index, position, mode=self.engine_params["mode"]).float().cpu()
        visible_sum = np.where(p.visible, scores, 0.0).sum(axis=1)
        return visible_sum - (out[0] - out[1]).numpy()


def _reduce(attr: torch.Tensor, reduction: str) -> torch.Tensor:
    if reduction == "sum":
        return attr.sum(-1)
    if reduction == "norm":
        return attr.norm(dim=-1)
    if reduction == "abs_sum":
        return attr.abs().sum(-1)
    return attr.mean(-1)


def explain(
    model: Any,
    tokenizer: Any,
    texts: str | Sequence[str],
    *,
    method: str | AttributionRecipe = "lime",
    targets: Any = None,
    granularity: str = "word",
    **params: Any,
) -> list[Explanation]:
    """Explain ``texts`` with one attribution method; one :class:`Explanation` per text.

    Parameters
    ----------
    model, tokenizer:
        A HF sequence classifier or causal LM and its tokenizer.
    texts:
        A string or a list of strings (for causal LMs: the prompts).
    method:
        A registered attribution method (see ``interpreto methods --kind attribution``).
    targets:
        Classifiers: ``None`` (the predicted class), a class index for every text, or one entry
        per text (an index or a list of indices). Causal LMs: ``None`` (greedy generation of
        ``max_new_tokens`` tokens), a continuation string, or one continuation per text.
    granularity:
        ``token``, ``word``, ``sentence`` or ``all_tokens``.
    **params:
        Engine options of :class:`Explainer` and parameters of the method's parts.
    """
    return Explainer(model, tokenizer, method=method, granularity=granularity, **params).explain(texts, targets)

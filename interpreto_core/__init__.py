"""interpreto-core: plugin-based explainability for HuggingFace transformers.

The one list of public names. Names that need torch (``explain``, ``Explanation``, ...) load on
first access, so that listing plugins and methods stays fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING as _TYPE_CHECKING

from ._errors import (
    AmbiguousNameError,
    InputError,
    InterpretoError,
    InvalidPartError,
    PluginLoadError,
    UnknownNameError,
    UnknownParameterError,
)
from ._lazy import lazy_attributes as _lazy_attributes
from ._parts import KINDS, AttributionRecipe, GradientPlan, PerturbationPlan
from ._records import PartRecord, PluginRecord
from ._registry import PluginWarning, Registry, get_registry, list_methods, list_plugins, reset_registry
from .hookspecs import hookimpl

__version__ = "0.1.0"

if _TYPE_CHECKING:  # the lazily loaded names (below), for type checkers
    from ._adapters import Encoding, ModelAdapter, Target
    from ._attribution import Explainer, explain
    from ._collection import Explanations
    from ._elements import Elements
    from ._explanation import Explanation
    from .dataset import explain_dataset
    from .metrics import CurveResult, MetricResult, evaluate

_LAZY = {
    "explain": "._attribution",
    "explain_dataset": ".dataset",
    "Explainer": "._attribution",
    "Explanation": "._explanation",
    "Explanations": "._collection",
    "ModelAdapter": "._adapters",
    "Target": "._adapters",
    "Encoding": "._adapters",
    "Elements": "._elements",
    "evaluate": ".metrics",
    "MetricResult": ".metrics",
    "CurveResult": ".metrics",
}

__all__ = [
    "KINDS",
    "AmbiguousNameError",
    "AttributionRecipe",
    "CurveResult",
    "Elements",
    "Encoding",
    "Explainer",
    "Explanation",
    "Explanations",
    "GradientPlan",
    "InputError",
    "InterpretoError",
    "InvalidPartError",
    "MetricResult",
    "ModelAdapter",
    "PartRecord",
    "PerturbationPlan",
    "PluginLoadError",
    "PluginRecord",
    "PluginWarning",
    "Registry",
    "Target",
    "UnknownNameError",
    "UnknownParameterError",
    "__version__",
    "evaluate",
    "explain",
    "explain_dataset",
    "get_registry",
    "hookimpl",
    "list_methods",
    "list_plugins",
    "reset_registry",
]


_lazy_getattr, __dir__ = _lazy_attributes(__name__, _LAZY, __all__)


def __getattr__(name: str) -> object:
    # ``hookspec`` (the marker of hook *specifications*) is for the core only: still importable
    # as ``interpreto_core.hookspec``, but not public (a plugin needs ``hookimpl``). It is not
    # cached in the namespace, so the public names stay exactly ``__all__``.
    if name == "hookspec":
        from .hookspecs import hookspec

        return hookspec
    return _lazy_getattr(name)

"""The public API is pinned: the plugin API's names, the package's names, no private imports in
plugins, and every name that was importable stays importable."""

from __future__ import annotations
import __future__

import ast
import importlib
import subprocess
import sys
import types
from pathlib import Path

import pytest

import interpreto_core
import interpreto_core.plugin as plugin_api

REPO = Path(__file__).resolve().parents[2]

#: interpreto_core.plugin.__all__, exactly: adding or removing a public name is a decision
PLUGIN_API = [
    "GRANULARITIES", "KINDS", "PAIR_SEPARATOR",
    "AffineLearner", "AmbiguousNameError", "AttributionRecipe", "AttributorContext", "ConceptInterpretation",
    "ConceptMetric",
    "CurveMetric", "CurveResult", "DictionaryLearner", "Elements", "EraserMetric", "Explainer", "Explanation",
    "GradientPlan", "InputError", "InterpretoError", "InvalidPartError", "MaskJob", "MetricItem", "MetricResult",
    "ModelAdapter", "NonNegativeLearner", "OrderCurveMetric", "PartRecord", "PerturbationPlan", "PluginLoadError",
    "PluginRecord", "Registry", "RowBatch", "SAELearner", "Score", "Target", "Task", "TaskItem", "UnknownNameError",
    "UnknownParameterError",
    "adapt", "area", "as_matrix", "build_part", "check_concepts", "check_fractions", "check_n_steps",
    "codes_and_reconstruction", "concept_codes", "curve_steps", "fista_codes", "get_registry", "hookimpl",
    "method_name", "method_order", "metric_items", "moved_masks", "part_params", "prefix_cached_logits",
    "random_orders", "score_masks",
    "split_elements", "split_pair_elements", "top_k_counts", "word_span",
]

#: interpreto_core.__all__, exactly (``hookspec`` left it: a plugin only needs ``hookimpl``)
PACKAGE_API = [
    "KINDS", "AmbiguousNameError", "AttributionRecipe", "CurveResult", "Elements", "Encoding", "Explainer",
    "Explanation", "Explanations", "GradientPlan", "InputError", "InterpretoError", "InvalidPartError", "MetricResult",
    "ModelAdapter", "PartRecord", "PerturbationPlan", "PluginLoadError", "PluginRecord", "PluginWarning", "Registry",
    "Target", "UnknownNameError", "UnknownParameterError", "__version__", "evaluate", "explain", "explain_dataset",
    "get_registry", "hookimpl", "list_methods", "list_plugins", "reset_registry",
]

#: every name importable at 27ca905 (before the plugin API), module by module: they stay importable
FORMER_NAMES = {
    "interpreto_core": [
        "KINDS", "AmbiguousNameError", "AttributionRecipe", "CurveResult", "Elements", "Encoding", "Explainer",
        "Explanation", "GradientPlan", "InputError", "InterpretoError", "InvalidPartError", "MetricResult",
        "ModelAdapter", "PartRecord", "PerturbationPlan", "PluginLoadError", "PluginRecord", "PluginWarning",
        "Registry", "Target", "UnknownNameError", "UnknownParameterError", "__version__", "evaluate", "explain",
        "explain_dataset", "get_registry", "hookimpl", "hookspec", "list_methods", "list_plugins", "reset_registry",
    ],
    "interpreto_core.testing": [
        "check_aggregator", "check_attribution", "check_dictionary_learner", "check_gradient_method",
        "check_interpreter", "check_metric", "check_perturbator", "make_tiny_causal_lm", "make_tiny_classifier",
        "make_tiny_tokenizer",
    ],
    "interpreto_core.metrics": [
        "CurveMetric", "CurveResult", "EraserMetric", "OrderCurveMetric", "MaskJob", "MetricItem", "MetricResult",
        "OrderCurves", "area", "check_fractions", "check_n_steps", "curve_steps", "evaluate", "method_name",
        "method_order", "order_curves", "prepare_items", "random_orders", "score_masks", "top_k_counts",
    ],
    "interpreto_core.concepts": [
        "SplitModel", "Activations", "collect_activations", "ACTIVATION_GRANULARITIES", "DictionaryLearner",
        "make_learner", "load_learner", "AffineLearner", "NonNegativeLearner", "SAELearner", "concept_importance",
        "ConceptImportance", "ConceptModel", "concept_adapter", "explain_concept", "ConceptMetric", "concept_metrics",
        "ConceptInterpretation", "interpret_concepts",
    ],
}


# -- (a) interpreto_core.plugin ----------------------------------------------------------------------
def test_plugin_api_names_are_pinned():
    assert plugin_api.__all__ == PLUGIN_API
    assert len(set(PLUGIN_API)) == len(PLUGIN_API)


def test_plugin_api_public_names_are_exactly_all():
    for name in plugin_api.__all__:  # every listed name resolves (the lazy ones load now)
        assert getattr(plugin_api, name) is not None, name
    public = {
        name for name, value in vars(plugin_api).items()
        if not name.startswith("_")
        and not isinstance(value, types.ModuleType | __future__._Feature)  # `from __future__ import annotations`
    }
    assert public == set(plugin_api.__all__)
    assert sorted(dir(plugin_api)) == sorted(plugin_api.__all__)


@pytest.mark.parametrize("name", PLUGIN_API)
def test_every_plugin_api_name_imports(name):
    namespace: dict = {}
    exec(f"from interpreto_core.plugin import {name}", namespace)
    assert namespace[name] is getattr(plugin_api, name)


def test_importing_the_plugin_api_loads_no_torch():
    code = ("import sys; import interpreto_core.plugin as p; from interpreto_core.plugin import hookimpl, Task, "
            "Score, DictionaryLearner, ConceptMetric, AttributionRecipe; "
            "print(sorted(m for m in ('torch', 'transformers', 'sklearn', 'nnsight', 'overcomplete') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO)
    assert out.stdout.strip() == "[]", out.stdout


# -- (b) interpreto_core ------------------------------------------------------------------------------
def test_package_names_are_pinned():
    assert interpreto_core.__all__ == PACKAGE_API


def test_hookspec_is_importable_but_not_public():
    from interpreto_core import hookspec
    from interpreto_core.hookspecs import hookspec as marker

    assert "hookspec" not in interpreto_core.__all__ and "hookspec" not in dir(interpreto_core)
    assert hookspec is marker is interpreto_core.hookspec
    assert "hookspec" not in vars(interpreto_core)  # not cached: the public names stay exactly __all__


# -- (c) plugins import the public API only ----------------------------------------------------------------
_IGNORED_DIRS = {"build", "dist", "__pycache__", ".venv", ".git"}


def _plugin_sources() -> list[Path]:
    files = []
    for top in ("plugins", "contrib"):
        for path in sorted((REPO / top).rglob("*.py")):
            rel = path.relative_to(REPO).parts
            if not any(p in _IGNORED_DIRS or p.endswith(".egg-info") for p in rel):
                files.append(path)
    return files


def _private(module: str) -> bool:
    """``interpreto_core._x`` or ``interpreto_core.pkg._x`` (any private part below the package)."""
    parts = module.split(".")
    return parts[0] == "interpreto_core" and any(p.startswith("_") for p in parts[1:])


def private_imports(source: str) -> list[str]:
    """Every private interpreto_core import in ``source``: ``import`` and ``from`` forms, at module
    level or inside functions, private names imported from a public module, and
    ``importlib.import_module("interpreto_core._...")`` / ``__import__(...)`` string forms."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [f"line {node.lineno}: import {a.name}" for a in node.names if _private(a.name)]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if _private(node.module):
                found.append(f"line {node.lineno}: from {node.module} import ...")
            elif node.module.split(".")[0] == "interpreto_core":
                found += [f"line {node.lineno}: from {node.module} import {a.name}" for a in node.names
                          if a.name.startswith("_") and _private(f"{node.module}.{a.name}")]
        elif isinstance(node, ast.Call) and node.args:
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
            arg = node.args[0]
            literal = isinstance(arg, ast.Constant) and isinstance(arg.value, str)
            if name in ("import_module", "__import__") and literal and _private(arg.value):
                found.append(f"line {node.lineno}: {name}({arg.value!r})")
    return found


def test_the_private_import_scan_finds_every_form():
    source = '''
import interpreto_core._registry
import interpreto_core.concepts._learner as learner
from interpreto_core._parts import KINDS
from interpreto_core.metrics._base import area
from interpreto_core import _reference
from interpreto_core.plugin import hookimpl, Task
import importlib

def later():
    from interpreto_core._tasks import Task
    importlib.import_module("interpreto_core._adapters")
    __import__("interpreto_core.concepts._split")
    import interpreto_core.plugin
'''
    found = private_imports(source)
    assert len(found) == 8, found
    assert private_imports("from interpreto_core import zoo\nfrom .._sampling import x\nimport numpy._core") == []


def test_plugins_and_contrib_import_no_private_module():
    files = _plugin_sources()
    assert len(files) > 40 and any("interpreto_example" in p.parts for p in files)
    offenders = {str(p.relative_to(REPO)): found for p in files if (found := private_imports(p.read_text()))}
    assert offenders == {}, "plugins must import interpreto_core.plugin (public) only: " + repr(offenders)


# -- (d) former names stay importable --------------------------------------------------------------------
@pytest.mark.parametrize(("module", "name"), [(m, n) for m, names in FORMER_NAMES.items() for n in names])
def test_former_names_stay_importable(module, name):
    namespace: dict = {}
    exec(f"from {module} import {name}", namespace)
    assert namespace[name] is not None
    assert getattr(importlib.import_module(module), name) is namespace[name]

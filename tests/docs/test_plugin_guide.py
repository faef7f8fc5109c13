"""Every ```python block of docs/plugins.md runs: each is a plugin module that ends with its kind's
conformance check, so executing it is the test; its hooks must then register in a registry of the
built-ins. A block whose first line is ``# name.py`` is importable by the later blocks as ``name``;
a block defining ``test_*`` functions (the testing section) has them run with the kit's fixtures."""

from __future__ import annotations

import ast
import inspect
import re
import sys
import types
import warnings
from pathlib import Path

import pytest

from interpreto_core.testing import (
    builtin_registry,
    make_tiny_causal_lm,
    make_tiny_classifier,
    make_tiny_tokenizer,
)

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "plugins.md"
BLOCKS = re.findall(r"^```python\n(.*?)^```$", GUIDE.read_text(encoding="utf-8"), flags=re.MULTILINE | re.DOTALL)
HEADER = re.compile(r"^# (\w+)\.py\b")
KINDS = ("perturbator", "gradient_method", "aggregator", "attributor", "attribution", "metric",
         "dictionary_learner", "interpreter", "concept_metric", "task", "score")


def _module_name(i: int, source: str) -> str:
    m = HEADER.match(source)
    return m.group(1) if m else f"plugin_guide_block_{i}"


NAMED = {_module_name(i, s): s for i, s in enumerate(BLOCKS) if HEADER.match(s)}


def _imported(source: str) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module.split(".")[0])
    return names


def _load(name: str, source: str, monkeypatch: pytest.MonkeyPatch) -> types.ModuleType:
    """Execute ``source`` as the module ``name`` (in sys.modules while the test runs), after the
    page's modules that it imports."""
    for dep in sorted(_imported(source) & set(NAMED) - {name}):
        if dep not in sys.modules:
            _load(dep, NAMED[dep], monkeypatch)
    module = types.ModuleType(name)
    module.__file__ = f"<docs/plugins.md: {name}>"
    monkeypatch.setitem(sys.modules, name, module)
    exec(compile(source, module.__file__, "exec"), module.__dict__)
    return module


def _hooks(module: types.ModuleType) -> list[str]:
    return [k for k in KINDS if callable(getattr(module, f"interpreto_register_{k}", None))]


def _fixtures() -> dict:
    tok = make_tiny_tokenizer()
    return {"isolated_registry": builtin_registry, "tiny_tokenizer": lambda: tok,
            "tiny_classifier": lambda: make_tiny_classifier(tok), "tiny_causal_lm": lambda: make_tiny_causal_lm(tok)}


def test_the_guide_has_an_example_of_every_kind():
    assert len(BLOCKS) >= 10
    registered = {f"interpreto_register_{k}" for k in KINDS}
    found = {name for s in BLOCKS for name in registered if f"def {name}(" in s}
    assert found == registered, f"kinds without an example: {sorted(registered - found)}"


@pytest.mark.parametrize("i", range(len(BLOCKS)), ids=lambda i: _module_name(i, BLOCKS[i]))
def test_example_runs(i, monkeypatch):
    source = BLOCKS[i]
    name = _module_name(i, source)
    calls = {n.func.id for n in ast.walk(ast.parse(source)) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)}
    tests = [n for n in ast.parse(source).body if isinstance(n, ast.FunctionDef) and n.name.startswith("test_")]
    assert any(c.startswith("check_") for c in calls) or tests, f"block {name} runs no conformance check"
    module = _load(name, source, monkeypatch)
    if _hooks(module):  # its hooks register (strict: an invalid part raises), in no deprecated way
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            registry = builtin_registry(module)
        assert [p.status for p in registry.list_plugins() if p.name == name] == ["loaded"]
        assert not [w for w in caught if issubclass(w.category, DeprecationWarning)], [str(w.message) for w in caught]
    if tests:
        fixtures = _fixtures()
        for node in tests:
            test = getattr(module, node.name)
            test(**{p: fixtures[p]() for p in inspect.signature(test).parameters})

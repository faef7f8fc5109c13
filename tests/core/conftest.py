"""Fake installed distributions with entry points, made on disk for discovery tests."""

from __future__ import annotations

import importlib
import itertools
import sys
import textwrap

import pytest

_counter = itertools.count()


@pytest.fixture
def install_fake(tmp_path, monkeypatch):
    """``install_fake(dist, {entry_name: source})`` writes a distribution (dist-info + modules) on sys.path.

    Returns the entry point names; each module gets a unique import name so tests never share modules.
    """
    monkeypatch.syspath_prepend(str(tmp_path))

    def install(dist: str, plugins: dict[str, str], version: str = "1.0") -> dict[str, str]:
        lines = ["[interpreto]"]
        modules = {}
        for entry, source in plugins.items():
            module = f"fake_{entry}_{next(_counter)}"
            (tmp_path / f"{module}.py").write_text(textwrap.dedent(source))
            lines.append(f"{entry} = {module}")
            modules[entry] = module
        info = tmp_path / f"{dist.replace('-', '_')}-{version}.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n")
        (info / "entry_points.txt").write_text("\n".join(lines) + "\n")
        importlib.invalidate_caches()
        return modules

    yield install
    for name in [m for m in sys.modules if m.startswith("fake_")]:
        del sys.modules[name]


@pytest.fixture
def good_plugin() -> str:
    """Source of a valid plugin registering a perturbator named ``{name}``."""
    return _GOOD_PLUGIN


_GOOD_PLUGIN = """
from interpreto_core import AttributionRecipe, PerturbationPlan, hookimpl

class Masks:
    def __init__(self, n_samples: int = 4):
        self.n_samples = n_samples
    def plan(self, n_elements, *, rng):
        import numpy as np
        return PerturbationPlan(masks=np.ones((self.n_samples, n_elements)))

@hookimpl
def interpreto_register_perturbator(register):
    register(Masks, name="{name}", summary="test masks")
"""

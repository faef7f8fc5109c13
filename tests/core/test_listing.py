"""`interpreto methods/plugins` (CLI and Python), JSON schema, and listing cost."""

from __future__ import annotations

import json
import subprocess
import sys

import interpreto_core

RECORD_KEYS = {"kind", "name", "plugin", "distribution", "version", "summary"}


def _run(*args: str, cwd) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "interpreto_core.cli", *args], capture_output=True, text=True, cwd=cwd, check=False
    )


def test_methods_json_schema(tmp_path):
    out = _run("methods", "--json", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    records = json.loads(out.stdout)
    assert records and all(RECORD_KEYS <= set(r) for r in records)
    assert all(r["distribution"] and r["version"] and r["summary"] for r in records)
    kinds = {r["kind"] for r in records}
    assert {"perturbator", "gradient_method", "aggregator", "attribution"} <= kinds


def test_methods_kind_filter_and_text_view(tmp_path):
    out = _run("methods", "--kind", "attribution", cwd=tmp_path)
    assert out.returncode == 0
    assert "integrated_gradients" in out.stdout and "perturbator:" not in out.stdout
    bad = _run("methods", "--kind", "nope", cwd=tmp_path)
    assert bad.returncode == 2 and "invalid choice" in bad.stderr


def test_plugins_json_lists_failed_plugins_with_their_error(tmp_path):
    info = tmp_path / "brokenthing-2.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: brokenthing\nVersion: 2.0\n")
    (info / "entry_points.txt").write_text("[interpreto]\nbrokenthing = not_a_module_anywhere\n")
    env = {"PYTHONPATH": str(tmp_path), "PATH": ""}
    out = subprocess.run(
        [sys.executable, "-m", "interpreto_core.cli", "plugins", "--json"],
        capture_output=True, text=True, cwd=tmp_path, env=env, check=False,
    )
    assert out.returncode == 0, out.stderr
    records = {r["name"]: r for r in json.loads(out.stdout)}
    assert records["brokenthing"]["status"] == "failed"
    assert "not_a_module_anywhere" in records["brokenthing"]["error"]
    assert records["brokenthing"]["distribution"] == "brokenthing" and records["brokenthing"]["version"] == "2.0"
    assert records["lime"]["status"] == "loaded"
    assert "brokenthing" in out.stderr  # the warning names it


def test_listing_imports_no_heavy_code(tmp_path):
    code = (
        "import sys, time; t = time.perf_counter(); import interpreto_core;"
        "interpreto_core.list_methods(); interpreto_core.list_plugins();"
        "print(time.perf_counter() - t);"
        "heavy = [m for m in ('torch', 'transformers', 'overcomplete', 'nnsight', 'matplotlib') if m in sys.modules];"
        "assert not heavy, heavy"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, check=False)
    assert out.returncode == 0, out.stderr
    assert float(out.stdout) < 5.0  # generous: listing took ~0.1 s here; torch alone takes ~3 s


def test_python_listing_returns_frozen_records():
    import attrs
    import pytest

    records = interpreto_core.list_methods("attribution")
    assert records and all(attrs.has(type(r)) for r in records)
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        records[0].name = "x"  # type: ignore[misc]
    plugins = interpreto_core.list_plugins()
    assert {p.name for p in plugins} >= {"lime", "occlusion"}


def test_public_names_are_exactly_all():
    import types

    for name in interpreto_core.__all__:  # every listed name resolves (lazy ones included)
        assert getattr(interpreto_core, name) is not None
    public = {
        n for n, v in vars(interpreto_core).items()
        if not n.startswith("_") and not isinstance(v, types.ModuleType) and n not in {"annotations", "Any"}
    }
    assert public == set(interpreto_core.__all__) - {"__version__"}

"""The docs build with MkDocs (strict: warnings are errors) and the method reference matches the registry."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def test_method_reference_is_generated_from_the_registry():
    from interpreto_core._reference import method_reference

    committed = (REPO / "docs" / "reference.md").read_text(encoding="utf-8")
    assert committed == method_reference(), (
        "docs/reference.md is stale: run `interpreto methods --markdown > docs/reference.md`"
    )


def test_every_attribution_method_is_in_the_reference():
    import interpreto_core

    text = (REPO / "docs" / "reference.md").read_text(encoding="utf-8")
    for rec in interpreto_core.list_methods():
        if rec.distribution == "interpreto-core":
            assert f"### `{rec.name}`" in text


def test_docs_build_strict(tmp_path):
    pytest.importorskip("mkdocs")
    site = tmp_path / "site"
    out = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
        cwd=REPO, capture_output=True, text=True, check=False,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    assert (site / "reference" / "index.html").is_file()
    nav = re.findall(r"^\s+- [^:]+: (\S+\.md)$", (REPO / "mkdocs.yml").read_text(), flags=re.M)
    for page in nav:
        assert (REPO / "docs" / page).is_file(), page
    shutil.rmtree(site)

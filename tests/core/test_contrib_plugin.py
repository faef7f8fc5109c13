"""The example third-party distribution in contrib/: installed, discovered, listed, used."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def test_contrib_is_installed_as_its_own_distribution_not_from_the_source_tree(tmp_path):
    code = (
        "import importlib.metadata as md, interpreto_example, json;"
        "print(json.dumps([interpreto_example.__file__, md.version('interpreto-example'),"
        "[e.value for e in md.entry_points(group='interpreto') if e.name == 'example']]))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, check=False)
    if out.returncode != 0:
        pytest.fail(f"interpreto-example is not installed (pip install ./contrib/interpreto-example): {out.stderr}")
    path, version, values = json.loads(out.stdout)
    assert version == "0.1.0" and values == ["interpreto_example"]
    assert REPO / "contrib" not in Path(path).parents  # a real install, not the source tree on sys.path


def test_contrib_parts_are_listed_by_the_cli(tmp_path):
    out = subprocess.run(
        [sys.executable, "-m", "interpreto_core.cli", "methods", "--json"],
        capture_output=True, text=True, cwd=tmp_path, check=False,
    )
    records = {(r["kind"], r["name"]): r for r in json.loads(out.stdout)}
    rec = records[("attribution", "bernoulli_lime")]
    assert (rec["plugin"], rec["distribution"], rec["version"]) == ("example", "interpreto-example", "0.1.0")
    assert records[("perturbator", "bernoulli")]["distribution"] == "interpreto-example"


def test_contrib_method_explains_mixing_its_part_with_a_builtin(classifier, tokenizer):
    import interpreto_core

    expl = interpreto_core.explain(
        classifier, tokenizer, "a fine and moving film", method="bernoulli_lime", n_samples=64, keep_probability=0.7
    )[0]
    assert expl.method == "bernoulli_lime"
    assert expl.scores.shape == (1, 5) and abs(expl.scores).sum() > 0
    assert expl.parameters["parts"] == {"perturbator": "example:bernoulli", "aggregator": "lime:lime_regression",
                                        "task": "task_sequence_classification:sequence_classification"}
    assert expl.versions["perturbator:bernoulli"] == "interpreto-example 0.1.0"

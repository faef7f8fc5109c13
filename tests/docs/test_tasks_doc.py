"""docs/tasks.md's examples run as written (in order, one namespace), on tiny random models."""

from __future__ import annotations

import re
from pathlib import Path

DOC = Path(__file__).resolve().parents[2] / "docs" / "tasks.md"


def test_every_example_of_the_tasks_guide_runs(tmp_path, monkeypatch):
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.S)
    assert len(blocks) >= 7
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    for k, block in enumerate(blocks):
        if block.lstrip().startswith("explain(model"):  # the signature, not an example
            continue
        exec(compile(block, f"{DOC.name} block {k}", "exec"), namespace)
    assert (tmp_path / "pair.html").read_text().count("<b>text_b</b>") == 1

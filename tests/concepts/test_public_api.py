"""The public concept API: every exported name resolves; listing stays light."""

from __future__ import annotations

import subprocess
import sys

import interpreto_core.concepts as concepts


def test_every_public_name_resolves():
    for name in concepts.__all__:
        assert getattr(concepts, name) is not None, name
    assert sorted(dir(concepts)) == sorted(concepts.__all__)


def test_concept_plugins_load_without_torch():
    code = (
        "import sys; from interpreto_core import get_registry; r = get_registry(); "
        "[r.list_methods(k) for k in ('dictionary_learner', 'interpreter', 'metric')]; "
        "print('torch' in sys.modules, 'overcomplete' in sys.modules, 'nnsight' in sys.modules)"
    )
    env_only = "INTERPRETO_PLUGINS"
    import os

    plugins = ",".join(ep.name for ep in __import__("importlib.metadata").metadata.entry_points(group="interpreto")
                       if ep.value.startswith("interpreto_plugins.concepts."))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**os.environ, env_only: plugins})
    assert out.stdout.split() == ["False", "False", "False"]

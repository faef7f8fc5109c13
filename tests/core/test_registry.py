"""Entry-point discovery, broken plugins, duplicates, unknown names, allow/deny lists."""

from __future__ import annotations

import warnings

import pytest

from interpreto_core import (
    AmbiguousNameError,
    PluginLoadError,
    PluginWarning,
    Registry,
    UnknownNameError,
)

BUILTIN_METHODS = {
    "occlusion", "lime", "kernel_shap", "sobol", "saliency", "input_x_gradient", "integrated_gradients",
    "smoothgrad", "vargrad", "squaregrad", "gradient_shap",
}


def _load(**kwargs) -> tuple[Registry, list[warnings.WarningMessage]]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        reg = Registry(autoload=False)
        reg.load_entry_points(**kwargs)
    return reg, [w for w in caught if issubclass(w.category, PluginWarning)]


def test_every_builtin_is_its_own_entry_point():
    reg, caught = _load()
    assert not caught
    names = {r.name for r in reg.list_methods("attribution")}
    assert BUILTIN_METHODS <= names
    plugins = {p.name: p for p in reg.list_plugins()}
    for method in BUILTIN_METHODS:
        record = reg.get("attribution", method)
        assert record.distribution == "interpreto-core"
        assert plugins[record.plugin].status == "loaded"
    # each method comes from a different plugin (entry point)
    assert len({reg.get("attribution", m).plugin for m in BUILTIN_METHODS}) == len(BUILTIN_METHODS)


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("import module_that_does_not_exist\n", "ModuleNotFoundError"),
        (
            "from interpreto_core import hookimpl\n@hookimpl\ndef interpreto_register_metric(regster):\n    pass\n",
            "regster",
        ),
        (
            "from interpreto_core import hookimpl\n@hookimpl\ndef interpreto_register_metric(register):\n"
            "    register(42, name='garbage', summary='not a metric')\n",
            "must be a class or factory",
        ),
        (
            "from interpreto_core import hookimpl\n@hookimpl\ndef interpreto_register_sandwich(register):\n    pass\n",
            "interpreto_register_sandwich",
        ),
    ],
    ids=["import-error", "wrong-signature", "registers-garbage", "unknown-hook"],
)
def test_broken_plugin_warns_with_name_distribution_version_and_others_load(
    install_fake, good_plugin, source, expected
):
    install_fake("broken-dist", {"broken": source}, version="9.8.7")
    install_fake("good-dist", {"good": good_plugin.format(name="good_masks")})
    reg, caught = _load()
    assert len(caught) == 1
    message = str(caught[0].message)
    assert "'broken'" in message and "broken-dist 9.8.7" in message and expected in message
    assert reg.get("perturbator", "good_masks").distribution == "good-dist"
    assert BUILTIN_METHODS <= set(reg.names("attribution"))
    failed = {p.name: p for p in reg.list_plugins()}["broken"]
    assert failed.status == "failed" and expected in failed.error


def test_a_failing_plugin_adds_none_of_its_parts(install_fake, good_plugin):
    source = good_plugin.format(name="half_done") + (
        "\n@hookimpl\ndef interpreto_register_metric(register):\n    raise RuntimeError('boom')\n"
    )
    install_fake("half-dist", {"half": source})
    reg, caught = _load()
    assert "boom" in str(caught[0].message)
    assert "half_done" not in reg.names("perturbator")


def test_strict_mode_turns_the_warning_into_an_error(install_fake, monkeypatch):
    install_fake("broken-dist", {"broken": "raise ImportError('nope')\n"})
    monkeypatch.setenv("INTERPRETO_STRICT_PLUGINS", "1")
    with pytest.raises(PluginLoadError, match=r"'broken'.*broken-dist 1.0.*nope"):
        Registry()


def test_allow_and_deny_lists_from_environment(install_fake, monkeypatch):
    modules = install_fake("side-effects", {"noisy": "raise SystemError('must not be imported')\n"})
    monkeypatch.setenv("INTERPRETO_PLUGINS", "lime,occlusion")
    reg, caught = _load()
    assert not caught
    assert set(reg.names("attribution")) == {"lime", "occlusion"}
    statuses = {p.name: p.status for p in reg.list_plugins()}
    assert statuses["noisy"] == "disabled" and statuses["sobol"] == "disabled"
    import sys

    assert modules["noisy"] not in sys.modules

    monkeypatch.delenv("INTERPRETO_PLUGINS")
    monkeypatch.setenv("INTERPRETO_DISABLE_PLUGINS", "noisy, sobol")
    reg, caught = _load()
    assert not caught
    assert "sobol" not in reg.names("attribution") and "lime" in reg.names("attribution")


def test_disabled_part_is_named_in_the_unknown_name_error(monkeypatch):
    monkeypatch.setenv("INTERPRETO_DISABLE_PLUGINS", "sobol")
    reg, _ = _load()
    with pytest.raises(UnknownNameError, match="not loaded: sobol"):
        reg.get("attribution", "sobol")


def test_duplicate_names_name_both_plugins(install_fake, good_plugin):
    install_fake("dist-a", {"plug_a": good_plugin.format(name="twin")})
    install_fake("dist-b", {"plug_b": good_plugin.format(name="twin")})
    reg, caught = _load()
    assert any("twin" in str(w.message) and "plug_a" in str(w.message) and "plug_b" in str(w.message) for w in caught)
    with pytest.raises(AmbiguousNameError) as info:
        reg.get("perturbator", "twin")
    assert "plug_a:twin" in str(info.value) and "plug_b:twin" in str(info.value)
    assert "dist-a" in str(info.value) and "dist-b" in str(info.value)
    assert reg.get("perturbator", "plug_b:twin").distribution == "dist-b"


def test_unknown_name_lists_available_with_close_matches_first():
    reg, _ = _load()
    with pytest.raises(UnknownNameError) as info:
        reg.get("attribution", "integrated_gradient")
    available = info.value.available
    assert available[0] == "integrated_gradients"
    assert BUILTIN_METHODS <= set(available)
    assert "unknown attribution 'integrated_gradient'; available: integrated_gradients," in str(info.value)


def test_unknown_kind():
    reg, _ = _load()
    with pytest.raises(UnknownNameError, match="unknown kind 'metrics'; available: metric"):
        reg.list_methods("metrics")


def test_programmatic_plugin_and_provenance():
    from types import SimpleNamespace

    from interpreto_core import hookimpl

    class Agg:
        input = "perturbation"

        def __init__(self, scale: float = 1.0):
            self.scale = scale

        def aggregate(self, plan, outputs):
            return outputs

    @hookimpl
    def interpreto_register_aggregator(register):
        register(Agg, name="identity_agg", summary="returns outputs", reference="none")

    reg = Registry(autoload=False)
    reg.add_plugin(SimpleNamespace(interpreto_register_aggregator=interpreto_register_aggregator), name="mine")
    rec = reg.get("aggregator", "identity_agg")
    assert (rec.plugin, rec.distribution, rec.params, rec.meta) == ("mine", None, {"scale": 1.0}, {"reference": "none"})


def test_an_entry_point_named_like_a_builtin_does_not_replace_it(install_fake, good_plugin):
    install_fake("evil-dist", {"lime": good_plugin.format(name="evil_masks")}, version="6.6.6")
    reg, caught = _load()
    messages = [str(w.message) for w in caught]
    assert any("'lime'" in m and "interpreto-core" in m and "evil-dist" in m for m in messages), messages
    plugins = {p.name: p for p in reg.list_plugins()}
    assert plugins["lime"].distribution == "interpreto-core" and plugins["lime"].status == "loaded"
    assert plugins["lime@evil-dist"].distribution == "evil-dist" and plugins["lime@evil-dist"].status == "loaded"
    assert reg.get("attribution", "lime").distribution == "interpreto-core"
    assert reg.get("perturbator", "evil_masks").plugin == "lime@evil-dist"
    assert reg.get("perturbator", "lime@evil-dist:evil_masks").distribution == "evil-dist"


def test_two_third_party_entry_points_with_one_name_both_load(install_fake, good_plugin):
    install_fake("dist-z", {"same": good_plugin.format(name="masks_z")})
    install_fake("dist-y", {"same": good_plugin.format(name="masks_y")})
    reg, caught = _load()
    assert any("dist-y" in str(w.message) and "dist-z" in str(w.message) for w in caught)
    plugins = {p.name: p for p in reg.list_plugins()}
    assert plugins["same"].distribution == "dist-y" and plugins["same@dist-z"].distribution == "dist-z"
    assert reg.get("perturbator", "masks_z").plugin == "same@dist-z"
    assert reg.get("perturbator", "masks_y").plugin == "same"


def test_the_listing_shows_both_plugins_with_their_distributions(install_fake, good_plugin, capsys):
    import json

    from interpreto_core import reset_registry
    from interpreto_core.cli import main

    install_fake("evil-dist", {"occlusion": good_plugin.format(name="other_masks")})
    reg, _ = _load()
    reset_registry(reg)
    try:
        assert main(["plugins"]) == 0
        lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("occlusion")]
        assert any("interpreto-core" in line for line in lines) and any("evil-dist" in line for line in lines)
        assert main(["plugins", "--json"]) == 0
        records = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
    finally:
        reset_registry(None)
    assert records["occlusion@evil-dist"]["distribution"] == "evil-dist"
    assert records["occlusion"]["distribution"] == "interpreto-core"
    assert isinstance(records["occlusion"]["load_seconds"], float)


def test_a_slow_plugin_import_is_reported_by_name_and_timed(install_fake, good_plugin, monkeypatch):
    install_fake("sleepy-dist", {"sleepy": "import time\ntime.sleep(0.3)\n" + good_plugin.format(name="slow_masks")})
    monkeypatch.setenv("INTERPRETO_SLOW_PLUGIN_SECONDS", "0.2")
    reg, caught = _load()
    slow = [str(w.message) for w in caught if "to import" in str(w.message)]
    assert len(slow) == 1 and "'sleepy'" in slow[0] and "sleepy-dist" in slow[0], slow
    record = {p.name: p for p in reg.list_plugins()}["sleepy"]
    assert record.status == "loaded" and record.load_seconds >= 0.3
    assert record.to_json()["load_seconds"] == record.load_seconds
    assert reg.get("perturbator", "slow_masks").plugin == "sleepy"


def test_a_slow_failing_plugin_is_timed_too(install_fake, monkeypatch):
    install_fake("sleepy-dist", {"sleepy": "import time\ntime.sleep(0.3)\nraise ImportError('late')\n"})
    monkeypatch.setenv("INTERPRETO_SLOW_PLUGIN_SECONDS", "0.2")
    reg, caught = _load()
    assert any("to import" in str(w.message) for w in caught) and any("late" in str(w.message) for w in caught)
    record = {p.name: p for p in reg.list_plugins()}["sleepy"]
    assert record.status == "failed" and record.load_seconds >= 0.3


def test_a_bad_slow_threshold_warns_and_uses_the_default(monkeypatch):
    monkeypatch.setenv("INTERPRETO_SLOW_PLUGIN_SECONDS", "soon")
    reg, caught = _load()
    assert any("INTERPRETO_SLOW_PLUGIN_SECONDS" in str(w.message) for w in caught)
    assert "lime" in reg.names("attribution")


def test_a_plugin_still_importing_is_named_while_it_runs(tmp_path):
    """A plugin that sleeps at import: the listing says which one while it waits (not only afterwards)."""
    import os
    import subprocess
    import sys

    (tmp_path / "sleepy_plugin.py").write_text("import time\ntime.sleep(3)\n", encoding="utf-8")
    info = tmp_path / "sleepy_dist-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: sleepy-dist\nVersion: 0.1\n", encoding="utf-8")
    (info / "entry_points.txt").write_text("[interpreto]\nsleepy = sleepy_plugin\n", encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")]),
           "INTERPRETO_SLOW_PLUGIN_SECONDS": "1"}
    done = subprocess.run([sys.executable, "-m", "interpreto_core.cli", "plugins"], capture_output=True, text=True,
                          env=env, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "still importing plugin 'sleepy' (sleepy_plugin, from sleepy-dist) after 1 s" in done.stderr
    assert "sleepy" in done.stdout  # it loaded in the end, and is listed

"""Plugin text (names, summaries, distributions, errors) and user data (texts, labels, file names) reach the
terminal with their control characters escaped: ``interpreto methods``, ``plugins``, ``explain``, errors,
tracebacks and warnings. The command line's own newlines (and its own colours) stay."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import types
import warnings

import pytest

from interpreto_core._registry import using_registry
from interpreto_core._safe_text import terminal
from interpreto_core.cli import main
from interpreto_core.plugin import AttributionRecipe, hookimpl
from interpreto_core.testing import builtin_registry

from .conftest import ANSI, HOSTILE, IMG, SCRIPT, check_terminal

PLUGIN_NAME = f"evil{SCRIPT}{ANSI}"


def test_the_helper():
    assert terminal("\x1b]0;pwned\x07") == "\\x1b]0;pwned\\x07"
    assert terminal("a\r\x08\x9b\u202e\tb") == "a\\r\\x08\\x9b\\u202e\\tb"
    assert terminal("two\nlines") == "two\\nlines" and terminal("two\nlines", newlines=True) == "two\nlines"
    assert terminal("plain <b>é</b> ✓") == "plain <b>é</b> ✓" and terminal(3) == "3"
    assert terminal("\udc80") == "\\udc80"  # an undecodable file name byte prints, escaped


@pytest.fixture(scope="module")
def hostile_registry():
    @hookimpl
    def interpreto_register_attribution(register):
        register(AttributionRecipe(perturbator="occlusion", aggregator="difference"), name="evil_occlusion",
                 summary=f"occlusion {HOSTILE}")

    @hookimpl
    def interpreto_register_score(register):
        raise RuntimeError(f"broken {ANSI} plugin {IMG}")

    reg = builtin_registry()
    good = types.SimpleNamespace(__name__="evil_mod", interpreto_register_attribution=interpreto_register_attribution)
    bad = types.SimpleNamespace(__name__="bad_mod", interpreto_register_score=interpreto_register_score)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reg.add_plugin(good, name=PLUGIN_NAME, distribution=f"dist{ANSI}", version=f"1{ANSI}")
        reg.add_plugin(bad, name=f"bad{ANSI}", distribution=f"baddist{ANSI}", strict=False)
    return reg


def test_methods_and_plugins_listings_escape_plugin_text(hostile_registry, capsys):
    with using_registry(hostile_registry):
        assert main(["methods"]) == 0
        out = capsys.readouterr().out
        check_terminal(out)
        assert "evil_occlusion" in out and "\\x1b]0;pwned\\x07" in out and "\n" in out
        assert main(["methods", "--kind", "attribution", "--json"]) == 0
        check_terminal(capsys.readouterr().out)
        assert main(["methods", "--markdown"]) == 0
        check_terminal(capsys.readouterr().out)
        assert main(["plugins"]) == 0
        out = capsys.readouterr().out
        check_terminal(out)
        assert "failed" in out and "broken \\x1b]0;pwned\\x07" in out and len(out.splitlines()) > 3


def test_explain_terminal_view_escapes_text_and_labels(hostile_model_dir, tmp_path, capsys):
    page = tmp_path / "view.html"
    for color in ("never", "always"):
        assert main(["explain", "--model", str(hostile_model_dir), "--method", "occlusion", "--target", "0",
                     "--target", "1", "--target", "2", "--metric", "deletion", "--color", color,
                     "--html", str(page), HOSTILE]) == 0
        captured = capsys.readouterr()
        check_terminal(captured.out + captured.err, colours=color == "always")
        assert "\\x1b]0;pwned\\x07" in captured.out  # the text and the labels, shown escaped
    from .conftest import check_page

    check_page(page.read_text(encoding="utf-8"), images=1)  # the deletion curves, an embedded PNG


def test_explain_errors_and_warnings_are_escaped(hostile_model_dir, capsys):
    assert main(["explain", "--model", str(hostile_model_dir), "--method", f"nope{ANSI}", "x"]) == 2
    captured = capsys.readouterr()
    check_terminal(captured.out + captured.err)
    assert "interpreto: error:" in captured.err

    def warn_and_fail(args):
        warnings.warn(f"a plugin says {ANSI}\nsecond line", UserWarning, stacklevel=1)
        raise ValueError(f"plugin bug {ANSI}")

    from interpreto_core import cli

    parser = cli.build_parser()
    args = parser.parse_args(["plugins"])
    args.func = warn_and_fail
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        # print warnings to stderr as Python does by default (pytest's warning capture would record them)
        warnings.showwarning = lambda message, category, filename, lineno, file=None, line=None: sys.stderr.write(
            warnings.formatwarning(message, category, filename, lineno, line))
        original = cli.build_parser
        try:
            cli.build_parser = lambda: types.SimpleNamespace(parse_args=lambda argv: args)  # type: ignore[assignment]
            assert main([]) == 1
        finally:
            cli.build_parser = original
    captured = capsys.readouterr()
    check_terminal(captured.out + captured.err)
    assert "Traceback" in captured.err and "ValueError: plugin bug \\x1b]0;pwned\\x07" in captured.err
    assert f"a plugin says {terminal(ANSI)}\nsecond line" in captured.err  # the warning, its newline kept


def test_a_hostile_installed_distribution_cannot_drive_the_terminal(tmp_path):
    """A real entry point: a distribution whose name, version, plugin summary and import error hold escapes."""
    (tmp_path / "evil_ok.py").write_text(textwrap.dedent(f"""
        from interpreto_core.plugin import AttributionRecipe, hookimpl

        @hookimpl
        def interpreto_register_attribution(register):
            register(AttributionRecipe(perturbator="occlusion", aggregator="difference"), name="evil_ep",
                     summary={HOSTILE!r})
        """), encoding="utf-8")
    (tmp_path / "evil_broken.py").write_text(f"raise RuntimeError({('import failed ' + ANSI)!r})\n", encoding="utf-8")
    info = tmp_path / "evil_dist-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: evil{ANSI}dist\nVersion: 0.1{ANSI}\n",
                                   encoding="utf-8")
    (info / "entry_points.txt").write_text("[interpreto]\nevil_ok = evil_ok\nevil_broken = evil_broken\n",
                                           encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")]),
           "INTERPRETO_STRICT_PLUGINS": "0", "PYTHONWARNINGS": "always"}
    for command in (["methods", "--kind", "attribution"], ["plugins"]):
        done = subprocess.run([sys.executable, "-m", "interpreto_core.cli", *command], capture_output=True,
                              env=env, timeout=300)
        out, err = done.stdout.decode("utf-8"), done.stderr.decode("utf-8")
        assert done.returncode == 0, err[-2000:]
        check_terminal(out + err)
        assert "evil" in out
    assert "import failed \\x1b]0;pwned\\x07" in out + err

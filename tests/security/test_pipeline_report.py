"""A pipeline file with a hostile name, title, step name and labels: its report runs nothing (parsed, and
rendered by headless Chromium), and ``interpreto run`` prints no control character."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from interpreto_core.cli import main
from interpreto_core.pipeline import Pipeline

from .conftest import ANSI, HOSTILE, IMG, SCRIPT, check_page, check_terminal

FILE_NAME = "x\"><img src=x onerror=\"document.title='pwned'\">" + "\x1b]0;pwned\x07.toml"


def _pipeline_file(folder, model_dir):
    body = (f"title = {json.dumps(HOSTILE)}\n"
            f"[model]\npath = {json.dumps(str(model_dir))}\n"
            f"[data]\ntexts = [{json.dumps(HOSTILE)}, \"a fine film\"]\n"
            f"[[attribution]]\nmethod = \"occlusion\"\nname = {json.dumps(SCRIPT + ANSI)}\n")
    path = folder / FILE_NAME
    path.write_text(body, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def hostile_report(hostile_model_dir, tmp_path_factory):
    folder = tmp_path_factory.mktemp("pipe")
    result = Pipeline.from_toml(_pipeline_file(folder, hostile_model_dir)).run(folder / "out", progress=False)
    return result.report


def test_the_report_of_a_hostile_pipeline_file_is_inert(hostile_report):
    page = hostile_report.read_text(encoding="utf-8")
    checker = check_page(page)
    assert checker.title.startswith(SCRIPT) and "\\x1b]0;pwned\\x07" in checker.title  # text; controls shown
    assert "Pipeline: " in page and "x&quot;&gt;&lt;img src=x" in page  # the file name, escaped
    # the interactive page written beside it: its own script only, every hostile string as text
    explorer = (hostile_report.parent / "explorer.html").read_text(encoding="utf-8")
    check_page(explorer)
    assert "<img" not in explorer and "&lt;img src=x onerror=" in explorer


def test_interpreto_run_prints_no_control_characters(hostile_model_dir, tmp_path, capsys):
    path = _pipeline_file(tmp_path, hostile_model_dir)
    assert main(["run", str(path), "--out", str(tmp_path / "out")]) == 0
    captured = capsys.readouterr()
    check_terminal(captured.out + captured.err)
    assert "\\x1b]0;pwned\\x07" in captured.err  # the file name, shown escaped
    # an error naming the hostile file: escaped too
    broken = tmp_path / ("broken" + ANSI + ".toml")
    broken.write_text("[model\n", encoding="utf-8")
    assert main(["run", str(broken), "--check"]) == 2
    captured = capsys.readouterr()
    check_terminal(captured.out + captured.err)
    assert "interpreto: error:" in captured.err


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run"]


def _dump_dom(tmp_path, page):
    cmd = [CHROMIUM, *FLAGS, f"--user-data-dir={tmp_path / 'profile'}", "--virtual-time-budget=2000",
           "--dump-dom", page.as_uri()]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install chromium)")
def test_chromium_runs_no_script_from_a_hostile_pipeline_report(hostile_report, tmp_path):
    control = tmp_path / "control.html"  # proves this Chromium runs scripts and onerror handlers
    control.write_text(f"<html><head><title>t</title></head><body>{IMG}</body></html>", encoding="utf-8")
    assert "<title>pwned</title>" in _dump_dom(tmp_path, control)

    dom = _dump_dom(tmp_path, hostile_report)
    assert "<title>pwned" not in dom and 'data-pwned="1"' not in dom and "<body>" in dom  # nothing ran
    assert "<title>&lt;script&gt;document.title='pwned'" in dom  # the page's own title, as text
    assert "<img" not in dom and "<script" not in dom  # the injected elements are text, not elements
    assert "&lt;img src=x onerror=" in dom  # and they are shown
    dom = _dump_dom(tmp_path, hostile_report.parent / "explorer.html")  # the interactive page runs its script only
    assert "<title>pwned" not in dom and 'data-pwned="1"' not in dom and "<img" not in dom

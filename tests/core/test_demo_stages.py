"""The demo's stage runner with tiny fake stages: background process, failures, cache guarantees.

The fake stages live in a module written to a temporary folder (the background process is
spawned: it imports them by name, which the test modules' importlib mode would not allow).
"""

from __future__ import annotations

import os
import textwrap
import time

import pytest

from interpreto_core import InterpretoError
from interpreto_core.demo import Stage, run_stages

FAKE = """
import os, time
from pathlib import Path

from interpreto_core import InterpretoError
from interpreto_core.zoo import cached_build


def square(x):
    return f"<p>{x * x}</p>"


def where():
    import torch

    return f"{os.getpid()} {torch.get_num_threads()}"


def build(root, name):
    def builder(folder):
        (folder / "weights.bin").write_bytes(b"w" * 1000)
        return {"size": 1000}

    folder, meta = cached_build(Path(root), {"name": name, "format": 1}, builder)
    return f"{folder.name}:{(folder / 'weights.bin').stat().st_size}:{meta['size']}"


def broken_build(root):
    def builder(folder):
        (folder / "half.bin").write_bytes(b"h")
        raise InterpretoError("could not download the weights; install them and retry")

    cached_build(Path(root), {"name": "broken", "format": 1}, builder)
    return "never"


def crash():
    raise ValueError("a bug in a background stage")


def slow_build(root, flag):
    def builder(folder):
        (folder / "half.bin").write_bytes(b"h")
        Path(flag).write_text(str(os.getpid()))
        time.sleep(60)
        return {}

    cached_build(Path(root), {"name": "slow", "format": 1}, builder)
    return "never"


def wait_then_fail(flag):
    deadline = time.time() + 60
    while not Path(flag).exists() and time.time() < deadline:
        time.sleep(0.05)
    raise RuntimeError("the foreground failed")
"""


@pytest.fixture
def fake(tmp_path, monkeypatch):
    (tmp_path / "fake_demo_stages.py").write_text(textwrap.dedent(FAKE))
    monkeypatch.syspath_prepend(str(tmp_path))
    import importlib

    return importlib.import_module("fake_demo_stages")


def _listing(root):
    return sorted(p.name for p in root.iterdir() if not p.name.endswith(".lock"))


def test_parallel_equals_serial_and_runs_in_one_background_process(fake, tmp_path, capfd):
    stages = [
        Stage("a", fake.square, (3,)),
        Stage("b", fake.build, (tmp_path / "cache", "model"), background=True),
        Stage("c", fake.square, (4,)),
        Stage("d", fake.square, (5,), background=True),
    ]
    parallel = run_stages(stages, parallel=True)
    serial = run_stages(stages, parallel=False)  # the cache is warm now: the serial run reads what the background built
    assert parallel == serial == ["<p>9</p>", "model:1000:1000", "<p>16</p>", "<p>25</p>"]
    assert _listing(tmp_path / "cache") == ["model"]  # no temporary folder left
    pids = run_stages([Stage("here", fake.where), Stage("there", fake.where, background=True)], parallel=True)
    (here_pid, _), (there_pid, there_threads) = (p.split() for p in pids)
    assert here_pid == str(os.getpid()) and there_pid != here_pid and there_threads == "1"
    err = capfd.readouterr().err
    assert "SystemExit" not in err and "Traceback" not in err  # the idle background process exits quietly


def test_background_user_error_is_reported_and_leaves_no_half_written_cache(fake, tmp_path):
    logged = []
    root = tmp_path / "cache"
    stages = [Stage("fg", fake.square, (2,)), Stage("prepare", fake.broken_build, (root,), background=True)]
    with pytest.raises(
        InterpretoError, match=r"'prepare' section \(run in the background\) failed: .*could not download"
    ):
        run_stages(stages, parallel=True, log=logged.append)
    assert any("prepare (background) failed" in line for line in logged)
    assert _listing(root) == []  # neither the model folder nor the temporary one


def test_background_bug_carries_its_traceback(fake):
    with pytest.raises(RuntimeError, match=r"(?s)'boom' section.*ValueError: a bug.*background traceback.*in crash"):
        run_stages([Stage("fg", fake.square, (1,)), Stage("boom", fake.crash, background=True)], parallel=True)


def test_foreground_failure_stops_the_background_and_its_build_is_cleaned(fake, tmp_path):
    flag = tmp_path / "started"
    root = tmp_path / "cache"
    stages = [Stage("slow", fake.slow_build, (root, flag), background=True), Stage("fg", fake.wait_then_fail, (flag,))]
    start = time.perf_counter()
    with pytest.raises(RuntimeError, match="the foreground failed"):
        run_stages(stages, parallel=True)
    assert time.perf_counter() - start < 50  # it did not wait for the 60 s build
    pid = int(flag.read_text())
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    assert _listing(root) == []  # SIGTERM ran the build's cleanup: no half-written folder
    # a later build of that recipe starts clean and succeeds
    assert fake.build(root, "slow") == "slow:1000:1000"


def test_serial_run_raises_directly(fake):
    with pytest.raises(ValueError, match="a bug"):
        run_stages([Stage("boom", fake.crash, background=True)], parallel=False)


def test_run_demo_serial_with_a_tiny_classifier(monkeypatch, tmp_path, classifier, tokenizer, capfd):
    """The demo's plumbing on a tiny model (no fine-tuning, no download): one section, one report."""
    from interpreto_core import zoo
    from interpreto_core.demo import run_demo

    calls = []

    def fake_classifier(**kw):
        calls.append(kw)
        return classifier, tokenizer

    monkeypatch.setattr(zoo, "sentiment_classifier", fake_classifier)
    report = run_demo(tmp_path / "out", methods=("occlusion",), n_texts=2, generation=False, concepts=False)
    html = report.read_text(encoding="utf-8")
    assert report.name == "report.html" and "Sentiment (MiniLM fine-tuned on SST-2)" in html
    assert (tmp_path / "out" / "deletion_curves.png").stat().st_size > 0
    assert len(calls) == 1 and callable(calls[0]["progress"])  # progress as log lines, not a bar
    err = capfd.readouterr().err
    assert "occlusion: " in err and "done in" in err

"""One writer per output: a lock held for the run, refused at once for a second process; recorded
settings that cannot be verified refuse a resume (never treated as absent)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap

import pytest

from interpreto_core import InputError, explain_dataset
from interpreto_core.dataset._explain import run_meta
from interpreto_core.dataset._store import open_store

META = run_meta({"lime": {}}, "word", {"n_samples": 8})

HOLDER = textwrap.dedent(
    """
    import sys
    from interpreto_core.dataset._explain import run_meta
    from interpreto_core.dataset._store import open_store
    store = open_store(sys.argv[1], meta=run_meta({"lime": {}}, "word", {"n_samples": 8}), resume=True,
                       overwrite=False)
    print("locked", flush=True)
    line = sys.stdin.readline()
    if line.startswith("raise"):
        raise RuntimeError("the run fails")
    store.close()
    """
)


def _holder(out):
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(out)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "locked"
    return proc


@pytest.mark.parametrize("suffix", [".jsonl", ".parquet"])
def test_second_process_refused_with_holder_pid(classifier, tokenizer, tmp_path, suffix):
    if suffix == ".parquet":
        pytest.importorskip("pyarrow")
    out = tmp_path / f"r{suffix}"
    proc = _holder(out)
    try:
        with pytest.raises(InputError, match=rf"being written by pid {proc.pid}") as err:
            explain_dataset(classifier, tokenizer, ["a b c"], method="lime", n_samples=8, out=out)
        assert str(out) in str(err.value) and "\n" not in str(err.value)
        with pytest.raises(InputError, match="being written"):  # overwrite does not break the lock either
            explain_dataset(classifier, tokenizer, ["a b c"], method="lime", n_samples=8, out=out, resume=False,
                            overwrite=True)
    finally:
        proc.communicate("raise\n", timeout=60)  # the holder dies of an exception: the lock goes with it
    assert proc.returncode != 0
    run = explain_dataset(classifier, tokenizer, ["a b c"], method="lime", n_samples=8, out=out)
    assert run.records == 1
    assert not out.with_name(out.name + ".lock").exists()


def test_killed_holder_leaves_no_stale_lock(tmp_path):
    out = tmp_path / "r.jsonl"
    proc = _holder(out)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=60)
    open_store(out, meta=META, resume=True, overwrite=False).close()


RACER = textwrap.dedent(
    """
    import sys, time
    from interpreto_core import InputError
    from interpreto_core.dataset._explain import run_meta
    from interpreto_core.dataset._store import open_store
    start = float(sys.argv[2])
    while time.time() < start:
        pass
    try:
        store = open_store(sys.argv[1], meta=run_meta({"lime": {}}, "word", {"n_samples": 8}), resume=True,
                           overwrite=False)
    except InputError as exc:
        print("refused", exc, flush=True)
        sys.exit(3)
    store.write([{"id": i, "method": "lime", "text": "t", "explanation": {}} for i in range(50)])
    time.sleep(1.0)
    store.close()
    print("wrote", flush=True)
    """
)


def test_racing_processes_one_writes(tmp_path):
    import time

    out = tmp_path / "r.jsonl"
    start = time.time() + 3.0
    procs = [subprocess.Popen([sys.executable, "-c", RACER, str(out), str(start)], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(4)]
    results = [p.communicate(timeout=120) for p in procs]
    codes = sorted(p.returncode for p in procs)
    assert codes.count(0) >= 1 and set(codes) <= {0, 3}, results
    lines = out.read_bytes().splitlines()
    keys = [json.loads(x)["id"] for x in lines]
    assert len(keys) == len(set(keys)) == 50  # no duplicate record, whichever won


def test_lock_released_after_an_exception_in_process(classifier, tokenizer, tmp_path):
    out = tmp_path / "r.jsonl"
    explain_dataset(classifier, tokenizer, ["a b c"], method="lime", n_samples=8, out=out)
    with pytest.raises(InputError, match="other settings"):  # refused while opening: the lock is let go
        explain_dataset(classifier, tokenizer, ["a b c"], method="lime", n_samples=9, out=out)

    def failing():
        yield "d e f"
        raise RuntimeError("the source breaks")

    with pytest.raises(RuntimeError):
        explain_dataset(classifier, tokenizer, failing(), method="lime", n_samples=8, out=out, chunk_size=1)
    proc = _holder(out)  # another process can take it now
    proc.communicate("\n", timeout=60)
    assert proc.returncode == 0


@pytest.mark.parametrize(
    "meta_text",
    ['{"format": 1, "granul', "\xff\xfe not utf-8", "[1, 2]", '{"format": "1", "granularity": "word", "methods": {}}',
     '{"format": 1, "granularity": "word", "methods": []}', '{"format": 1, "methods": {"lime": {}}}',
     "[" * 100_000],
)
def test_corrupted_meta_refuses_resume(classifier, tokenizer, tmp_path, meta_text):
    out = tmp_path / "r.jsonl"
    explain_dataset(classifier, tokenizer, ["a b c"], method="lime", n_samples=8, out=out)
    meta = out.with_name(out.name + ".meta.json")
    meta.write_bytes(meta_text.encode("latin-1") if "\xff" in meta_text else meta_text.encode())
    before = out.read_bytes()
    with pytest.raises(InputError, match="cannot verify the settings") as err:
        explain_dataset(classifier, tokenizer, ["a b c", "x y"], method="lime", n_samples=9, out=out)
    assert str(meta) in str(err.value) and "delete" in str(err.value)
    assert out.read_bytes() == before and meta.read_bytes() != b""  # nothing changed
    run = explain_dataset(classifier, tokenizer, ["a b c"], method="lime", n_samples=9, out=out, resume=False,
                          overwrite=True)
    assert run.records == 1


def test_parquet_parts_without_meta_refuse_resume(classifier, tokenizer, tmp_path):
    pytest.importorskip("pyarrow")
    out = tmp_path / "r.parquet"
    explain_dataset(classifier, tokenizer, ["a b c"], method="lime", n_samples=8, out=out)
    (out / "interpreto-run.json").unlink()
    with pytest.raises(InputError, match="cannot be verified"):
        explain_dataset(classifier, tokenizer, ["a b c"], method="lime", n_samples=9, out=out)

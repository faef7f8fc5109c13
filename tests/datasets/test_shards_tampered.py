"""A shard manifest is checked on load: it may not name files outside its folder (``..``, absolute
paths, symlinks), nor lie about row counts or shapes; each is an InputError naming the file."""

from __future__ import annotations

import json
import os
import shutil

import pytest

from interpreto_core import InputError
from interpreto_core.concepts import SplitModel
from interpreto_core.dataset import ActivationShards, collect_activation_shards

TEXTS = [f"text {i} is {'good' if i % 2 else 'bad'}" for i in range(12)]


@pytest.fixture(scope="module")
def collected(classifier, tokenizer, tmp_path_factory):
    root = tmp_path_factory.mktemp("shards")
    split = SplitModel(classifier, tokenizer, split_points=[0])
    collect_activation_shards(split, TEXTS, root, granularity="word", shard_texts=5, progress=False)
    return root


@pytest.fixture
def folder(collected, tmp_path):
    dst = tmp_path / "acts"
    shutil.copytree(collected, dst)
    return dst


def _edit(folder, change):
    path = folder / "manifest.json"
    manifest = json.loads(path.read_text())
    change(manifest)
    path.write_text(json.dumps(manifest))


def _first_file(m):
    return next(iter(m["shards"][0]["files"].values()))


def test_untampered_loads(folder):
    s = ActivationShards(folder)
    assert len(s) == sum(s.values(i).shape[0] for i in range(s.n_shards))


@pytest.mark.parametrize("name", ["../../etc/passwd", "/etc/passwd", "x/../../outside.safetensors", ""])
def test_paths_outside_the_folder_are_refused(folder, name):
    _edit(folder, lambda m: _first_file(m).update(file=name))
    with pytest.raises(InputError, match="manifest") as err:
        ActivationShards(folder)
    assert "manifest.json" in str(err.value)


def test_symlink_escaping_the_folder_is_refused(folder, tmp_path):
    outside = tmp_path / "secret.safetensors"
    outside.write_bytes(b"not yours")
    name = "0/evil.safetensors"
    (folder / "0").mkdir(exist_ok=True)
    os.symlink(outside, folder / name)
    _edit(folder, lambda m: _first_file(m).update(file=name))
    with pytest.raises(InputError, match="outside the folder"):
        ActivationShards(folder)


def test_symlink_made_after_loading_is_refused_on_read(folder, tmp_path):
    s = ActivationShards(folder)
    target = folder / s.files[0]["file"]
    moved = tmp_path / "moved.safetensors"
    shutil.move(target, moved)
    os.symlink(moved, target)
    with pytest.raises(InputError, match="outside the folder"):
        s.values(0)


@pytest.mark.parametrize(
    ("change", "match"),
    [
        # more rows than the hygiene record's rows before exclusion, or than the shard's tensors hold
        (lambda m: _first_file(m).update(rows=_first_file(m)["rows"] + 1), "shape|rows_before"),
        (lambda m: _first_file(m).update(rows=_first_file(m)["rows"] - 1), "shape|no token excluded"),
        (lambda m: _first_file(m).update(hidden=_first_file(m)["hidden"] + 3), "hidden size|shape"),
        (lambda m: m.update(n_texts=m["n_texts"] + 1), "n_texts"),
        (lambda m: m["shards"][1].update(first_text=0), "starts at text"),
        (lambda m: _first_file(m).update(rows="12"), "not integers"),
        (lambda m: _first_file(m).update(rows=-1), "not integers"),
        (lambda m: m.update(shards={}), "'shards' is not a list"),
        (lambda m: m["settings"].update(split_points="0"), "split_points"),
        (lambda m: m["shards"][0].update(files={}), "no file for split point"),
    ],
)
def test_lying_manifest_is_detected(folder, change, match):
    _edit(folder, change)
    with pytest.raises(InputError, match=match) as err:
        ActivationShards(folder)
    assert "manifest.json" in str(err.value)


@pytest.mark.parametrize("text", ["{not json", "[" * 100_000, "[1]", '{"settings": 3}'])
def test_corrupted_manifest_is_one_clear_error(folder, text, classifier, tokenizer):
    (folder / "manifest.json").write_text(text)
    with pytest.raises(InputError, match="not a valid activation-shard manifest"):
        ActivationShards(folder)
    with pytest.raises(InputError, match="not a valid activation-shard manifest"):  # nor resumed onto
        collect_activation_shards(SplitModel(classifier, tokenizer, split_points=[0]), TEXTS, folder,
                                  granularity="word", shard_texts=5, progress=False)


def test_missing_or_garbage_shard_file(folder):
    name = json.loads((folder / "manifest.json").read_text())["shards"][0]["files"]
    file = folder / next(iter(name.values()))["file"]
    file.write_bytes(b"garbage, not safetensors")
    with pytest.raises(InputError, match="not a readable safetensors file"):
        ActivationShards(folder)
    file.unlink()
    with pytest.raises(InputError, match="missing"):
        ActivationShards(folder)

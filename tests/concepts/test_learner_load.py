"""load_learner checks a saved learner: a tampered config.json or weights.safetensors is one clear
InputError naming the file and what is wrong, never a failure later that blames the caller."""

from __future__ import annotations

import json
import os
import shutil

import pytest
import torch
from safetensors.torch import load_file, save_file

from interpreto_core import InputError
from interpreto_core.concepts import load_learner, make_learner

PARAMS = {"pca": {"n_concepts": 3}, "nmf": {"n_concepts": 3, "max_iter": 30, "signed": "shift"},
          "sae": {"n_concepts": 3, "epochs": 1, "batch_size": 16}}


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    g = torch.Generator().manual_seed(0)
    a = torch.rand(64, 3, generator=g) @ torch.randn(3, 8, generator=g)
    out = {}
    for name, params in PARAMS.items():
        folder = tmp_path_factory.mktemp(name)
        make_learner(name, **params).fit(a, progress=False).save(folder)
        out[name] = folder
    return out


@pytest.fixture(params=list(PARAMS))
def folder(request, saved, tmp_path):
    dst = tmp_path / request.param
    shutil.copytree(saved[request.param], dst)
    return dst


def _config(folder, change):
    path = folder / "config.json"
    cfg = json.loads(path.read_text())
    change(cfg)
    path.write_text(json.dumps(cfg))


def _weights(folder, change):
    path = folder / "weights.safetensors"
    tensors = dict(load_file(str(path)))
    change(tensors)
    save_file({k: v.contiguous() for k, v in tensors.items()}, str(path))


def _refused(folder, file, match):
    with pytest.raises(InputError, match=match) as err:
        load_learner(folder)
    message = str(err.value)
    assert file in message and "\n" not in message, message
    return message


def test_untampered_loads(folder):
    learner = load_learner(folder)
    assert learner.encode(torch.randn(2, 8)).shape[0] == 2


@pytest.mark.parametrize(
    ("change", "match"),
    [
        (lambda c: c.update(hidden_size=5), "hidden_size|shape"),
        (lambda c: c.update(hidden_size=80), "hidden_size|shape"),
        (lambda c: c.update(hidden_size="8"), "'hidden_size' is str"),
        (lambda c: c.update(hidden_size=0), "positive"),
        (lambda c: c.update(hidden_size=True), "'hidden_size' is bool"),
        (lambda c: c.pop("params"), "lacks 'params'"),
        (lambda c: c.pop("learner"), "lacks 'learner'"),
        (lambda c: c.pop("hidden_size"), "lacks 'hidden_size'"),
        (lambda c: c.update(params=[1, 2]), "'params' is list"),
        (lambda c: c.update(learner="no_such_learner"), "cannot rebuild"),
        (lambda c: c.update(learner=3), "'learner' is int"),
        (lambda c: c["params"].update(n_concepts=-2), "n_concepts"),
        (lambda c: c["params"].update(n_concepts="many"), "n_concepts"),
        (lambda c: c["params"].update(bogus=1), "bogus"),
        (lambda c: c.update(format=99), "unsupported format"),
        (lambda c: c.update(training_log=[1]), "'training_log' is list"),
        (lambda c: c.update(extra="x"), "'extra' is str"),
    ],
)
def test_tampered_config(folder, change, match):
    _config(folder, change)
    _refused(folder, "config.json", match)


@pytest.mark.parametrize("text", [b"{not json", b"\xff\xfe", b"[" * 100_000, b"[]", b"null"])
def test_unreadable_config(folder, text):
    (folder / "config.json").write_bytes(text)
    _refused(folder, "config.json", "unreadable|not an object")


def _first_float(tensors):
    return next(k for k, v in tensors.items() if v.is_floating_point() and v.numel() > 1)


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
def test_non_finite_weights(folder, bad):
    def poison(t):
        key = _first_float(t)
        t[key] = t[key].clone().flatten().index_fill(0, torch.tensor([0]), bad).reshape(t[key].shape)

    _weights(folder, poison)
    _refused(folder, "weights.safetensors", "NaN or infinite")


def test_weights_of_the_wrong_shape(folder):
    def widen(t):
        for key, v in list(t.items()):
            if v.is_floating_point() and v.ndim >= 1 and v.numel() > 1:
                t[key] = torch.cat([v, v[..., :1]], dim=-1)  # one more column everywhere

    _weights(folder, widen)
    _refused(folder, "weights.safetensors", "shape|fit|restore")


def test_weights_of_a_smaller_model(folder):
    def shrink(t):
        for key, v in list(t.items()):
            if v.is_floating_point() and v.ndim >= 1 and v.shape[-1] == 8:
                t[key] = v[..., :5].contiguous()

    _weights(folder, shrink)
    _refused(folder, "weights.safetensors", "shape|fit|restore")


def test_a_missing_tensor(folder):
    _weights(folder, lambda t: t.pop(_first_float(t)))
    _refused(folder, "weights.safetensors", "restore|fit|shape")


def test_broadcastable_mean_is_caught(saved, tmp_path):
    dst = tmp_path / "pca"
    shutil.copytree(saved["pca"], dst)
    _weights(dst, lambda t: t.update(mean=t["mean"][:1].contiguous()))  # (1,) broadcasts silently in x - mean
    _refused(dst, "weights.safetensors", "'mean' has shape")


def test_garbage_or_missing_weights(folder):
    (folder / "weights.safetensors").write_bytes(b"not a safetensors file")
    _refused(folder, "weights.safetensors", "not a readable safetensors")
    (folder / "weights.safetensors").unlink()
    _refused(folder, "weights.safetensors", "missing")


@pytest.mark.parametrize("file", ["config.json", "weights.safetensors"])
def test_symlink_out_of_the_folder_is_refused(folder, tmp_path, file):
    outside = tmp_path / f"outside-{file}"
    shutil.move(folder / file, outside)
    os.symlink(outside, folder / file)
    _refused(folder, file, "outside the learner's folder")

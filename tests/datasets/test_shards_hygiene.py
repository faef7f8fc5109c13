"""Shard manifests record the activation hygiene (options, and per shard what was left out), check it
on load, and fit_from_shards hands it to the learner, which concept_importance then re-applies."""

from __future__ import annotations

import copy
import json
import shutil

import pytest
import torch

from interpreto_core import InputError
from interpreto_core.concepts import SplitModel, collect_activations, concept_importance, load_learner, make_learner
from interpreto_core.dataset import ActivationShards, collect_activation_shards, fit_from_shards

TEXTS = [f"text {i} is {'good' if i % 2 else 'bad'} " + "very " * (i % 4) for i in range(9)]


@pytest.fixture(scope="module")
def split(causal_lm, tokenizer):
    """A GPT-2 whose token embedding at position 1 (the first real token) is scaled by 1e4 (the
    test's own hook): a massive activation in block 0's output on every text."""
    model = copy.deepcopy(causal_lm)

    def hook(module, inputs, output):
        out = output.clone()
        out[:, 1] = out[:, 1] * 1e4
        return out

    model.get_input_embeddings().register_forward_hook(hook)
    return SplitModel(model, tokenizer, split_points=[0])


@pytest.fixture(scope="module")
def collected(split, tmp_path_factory):
    root = tmp_path_factory.mktemp("hygiene-shards")
    collect_activation_shards(split, TEXTS, root, granularity="token", shard_texts=2, exclude_positions=[3],
                              progress=False)
    return root


def test_shards_hold_the_rows_and_exclusions_of_one_pass(split, collected):
    shards = ActivationShards(collected)
    whole = collect_activations(split, TEXTS, granularity="token", exclude_positions=(3,), progress=False)
    acts = whole[shards.split_point]
    # the rule is per text: cutting the data into shards of 2 texts changes no row and no exclusion
    torch.testing.assert_close(shards.load(), acts.values, rtol=1e-5, atol=1e-4)
    h = acts.hygiene
    assert sorted(shards.excluded()) == sorted((int(t), int(p), r) for t, p, r in zip(
        h.text_index, h.positions, h.reasons, strict=True))
    assert {(p, r) for _, p, r in shards.excluded()} == {(1, "outlier"), (3, "position")}
    assert len(shards.excluded()) == 2 * len(TEXTS)
    assert shards.hygiene_settings == {"keep_outliers": False, "outlier_factor": 10.0, "exclude_positions": [3]}
    manifest = json.loads((collected / "manifest.json").read_text())
    for entry in manifest["shards"]:
        f = entry["files"][shards.split_point]
        assert f["hygiene"]["rows_before"] - f["rows"] == len(f["hygiene"]["excluded"]) == 2 * entry["n_texts"]


def test_the_learner_fitted_from_shards_carries_the_hygiene(split, collected, tmp_path):
    shards = ActivationShards(collected)
    params = dict(n_concepts=8, top_k=2, epochs=2, batch_size=16)
    sae = fit_from_shards(make_learner("topk_sae", **params), shards)
    assert sae.hygiene.factor == 10.0 and sae.hygiene.exclude_positions == (3,)
    assert sae.fit_rows == len(shards) and sae.hygiene.granularity == "token"
    imp = concept_importance(split, sae, TEXTS[:3], progress=False)
    assert imp.excluded == ((1, 3),) * 3
    loaded = load_learner(sae.save(tmp_path / "sae"))
    assert loaded.hygiene.to_config() == sae.hygiene.to_config()
    # the same rule as a learner fitted on the activations in RAM
    in_ram = make_learner("topk_sae", **params).fit(
        collect_activations(split, TEXTS, exclude_positions=(3,), progress=False)[shards.split_point])
    assert in_ram.hygiene.to_config() == sae.hygiene.to_config()


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


def _record(m, k=0):
    return next(iter(m["shards"][k]["files"].values()))["hygiene"]


@pytest.mark.parametrize(("change", "message"), [
    (lambda m: m["settings"]["hygiene"].update(outlier_factor="ten"), "outlier_factor"),
    (lambda m: m["settings"]["hygiene"].update(exclude_positions=["0"]), "exclude_positions"),
    (lambda m: m["settings"]["hygiene"].pop("keep_outliers"), "settings.hygiene"),
    (lambda m: m["settings"].pop("hygiene"), "settings.hygiene' is missing"),
    (lambda m: _record(m).update(rows_before=0), "rows_before"),
    (lambda m: _record(m).update(excluded=[]), "no token excluded"),
    (lambda m: _record(m)["excluded"].append([7, 1, "outlier"]), "outside the shard's texts"),
    (lambda m: _record(m)["excluded"].append([0, -1, "outlier"]), "not \\[text, position, reason\\]"),
    (lambda m: _record(m)["excluded"].append([0, 1, "whim"]), "not \\[text, position, reason\\]"),
    (lambda m: m["settings"]["hygiene"].update(exclude_positions=None), "'position', which settings.hygiene"),
    (lambda m: next(iter(m["shards"][1]["files"].values())).pop("hygiene"), "shard 1 .* no 'hygiene'"),
])
def test_a_tampered_hygiene_record_is_refused(folder, change, message):
    _edit(folder, change)
    with pytest.raises(InputError, match=message) as err:
        ActivationShards(folder)
    assert str(folder / "manifest.json") in str(err.value) and "\n" not in str(err.value)


def test_manifests_without_hygiene_still_load(folder):
    def strip(m):
        m["settings"].pop("hygiene")
        for entry in m["shards"]:
            for f in entry["files"].values():
                f.pop("hygiene")

    _edit(folder, strip)
    shards = ActivationShards(folder)
    assert shards.hygiene_settings is None and shards.hygiene_rule() is None and shards.excluded() == []
    sae = fit_from_shards(make_learner("topk_sae", n_concepts=4, top_k=1, epochs=1, batch_size=16), shards)
    assert sae.hygiene is None  # unknown: concept_importance scores every position


def test_options_are_checked_and_resume_needs_the_same_hygiene(split, collected, tmp_path):
    with pytest.raises(InputError, match="callable"):
        collect_activation_shards(split, TEXTS, tmp_path / "a", exclude_positions=lambda tokens: [0])
    with pytest.raises(InputError, match="outlier_factor"):
        collect_activation_shards(split, TEXTS, tmp_path / "b", outlier_factor=1)
    with pytest.raises(InputError, match="other settings"):
        collect_activation_shards(split, TEXTS, collected, shard_texts=2, exclude_positions=[3], keep_outliers=True,
                                  progress=False)
    off = collect_activation_shards(split, TEXTS[:4], tmp_path / "off", keep_outliers=True, progress=False)
    s = next(iter(off.values()))
    assert s.excluded() == [] and s.hygiene_rule().factor is None
    assert float(s.load().norm(dim=-1).max()) > 1e3  # the massive rows are kept

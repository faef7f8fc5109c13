"""The learner's save / load contract is public (state, load_state, extra_config); learners written
against the former private names (_state, _load_state, _extra_config) keep working."""

from __future__ import annotations

import json

import pytest
import torch

from interpreto_core.concepts import load_learner
from interpreto_core.plugin import AffineLearner, DictionaryLearner, Registry, hookimpl
from interpreto_core.testing import check_dictionary_learner


class LegacyMeans(DictionaryLearner):
    """Written before the contract was public: private names only."""

    name = "legacy_means"

    def _fit(self, a, *, progress=None):
        self.centre = a.mean(0)
        self.directions = torch.linalg.svd(a - self.centre, full_matrices=False)[2][: self.n_concepts].contiguous()
        self.note = "fitted"

    def encode(self, x):
        return (self._input(x) - self.centre) @ self.directions.T

    def decode(self, z):
        return z.float() @ self.directions + self.centre

    @property
    def dictionary(self):
        return self.directions

    def _state(self):
        return {"centre": self.centre, "directions": self.directions}

    def _load_state(self, tensors, extra):
        self.centre, self.directions = tensors["centre"], tensors["directions"]
        self.note = extra["note"]

    def _extra_config(self):
        return {"note": self.note}


class LegacyAffine(AffineLearner):
    """A family subclass that extended the family's private methods with super()."""

    name = "legacy_affine"

    def _fit(self, a, *, progress=None):
        mean = a.mean(0)
        vt = torch.linalg.svd(a - mean, full_matrices=False)[2][: self.n_concepts]
        self._set(mean=mean, encoder=vt.T, components=vt)
        self.scale = a.std(0)

    def _state(self):
        return super()._state() | {"scale": self.scale}

    def _load_state(self, tensors, extra):
        super()._load_state(tensors, extra)
        self.scale = tensors["scale"]


def _registry(*classes):
    plugin = type("Plugin", (), {})()
    plugin.interpreto_register_dictionary_learner = hookimpl(
        lambda register: [register(c, name=c.name, summary="test") for c in classes])
    registry = Registry(autoload=False)
    registry.add_plugin(plugin, name="legacy")
    return registry


@pytest.fixture
def data():
    g = torch.Generator().manual_seed(0)
    return torch.rand(50, 3, generator=g) @ torch.randn(3, 8, generator=g) + 2.0


def test_legacy_private_names_still_save_and_load(data, tmp_path):
    learner = LegacyMeans(n_concepts=3).fit(data)
    assert set(learner.state()) == {"centre", "directions"} and learner.extra_config() == {"note": "fitted"}
    learner.save(tmp_path)
    assert json.loads((tmp_path / "config.json").read_text())["extra"] == {"note": "fitted"}
    loaded = load_learner(tmp_path, registry=_registry(LegacyMeans))
    assert loaded.note == "fitted"
    torch.testing.assert_close(loaded.encode(data), learner.encode(data))
    check_dictionary_learner(LegacyMeans, n_concepts=3)


def test_a_family_subclass_overriding_the_private_names_wins(data, tmp_path):
    learner = LegacyAffine(n_concepts=2).fit(data)
    learner.save(tmp_path)
    loaded = load_learner(tmp_path, registry=_registry(LegacyAffine))
    torch.testing.assert_close(loaded.scale, learner.scale)
    torch.testing.assert_close(loaded.encode(data), learner.encode(data))


def test_old_callers_of_private_names_reach_the_public_ones(data):
    from interpreto_core.concepts import make_learner

    pca = make_learner("pca", n_concepts=2).fit(data)
    assert set(pca._state()) == {"mean", "encoder", "components"} == set(pca.state())
    assert pca._extra_config() == pca.extra_config() == {}


def test_a_learner_without_state_says_so(data, tmp_path):
    class NoState(LegacyMeans):
        name = "no_state"
        _state = DictionaryLearner._state  # neither name defined below the base

    learner = NoState(n_concepts=2).fit(data)
    with pytest.raises(NotImplementedError, match=r"must implement state\(\)"):
        learner.save(tmp_path)

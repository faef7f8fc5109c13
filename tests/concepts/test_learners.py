"""Every dictionary learner fits, encodes, decodes and round-trips through save/load."""

from __future__ import annotations

import json

import pytest
import torch

from interpreto_core import InputError, list_methods
from interpreto_core.concepts import Activations, load_learner, make_learner

SAES = ("sae", "topk_sae", "batchtopk_sae", "jumprelu_sae", "mp_sae", "ra_topk_sae")
LEARNERS = ("neurons", "pca", "svd", "ica", "sparse_pca", "kmeans", "dictionary_learning", "nmf", "semi_nmf",
            "convex_nmf", *SAES)


@pytest.fixture(scope="module")
def data():
    """Rank-4 activations with noise: signed (A) and non-negative (P)."""
    g = torch.Generator().manual_seed(0)
    z = torch.rand(160, 4, generator=g)
    d = torch.randn(4, 12, generator=g)
    return z @ d + 0.01 * torch.randn(160, 12, generator=g), z @ d.abs()


def _params(name):
    p = {"n_concepts": 4}
    if name in SAES:
        p |= {"epochs": 2, "batch_size": 32}
    if name in ("topk_sae", "batchtopk_sae", "ra_topk_sae"):
        p["top_k"] = 2
    if name == "ra_topk_sae":
        p["n_points"] = 16
    if name in ("nmf", "convex_nmf", "semi_nmf"):
        p["max_iter"] = 50
    if name == "nmf":
        p["signed"] = "shift"
    return p


def test_all_learners_registered():
    names = {r.name for r in list_methods("dictionary_learner")}
    assert set(LEARNERS) <= names and len(LEARNERS) == 16


@pytest.mark.parametrize("name", LEARNERS)
def test_fit_encode_decode_roundtrip(name, data, tmp_path):
    a, _ = data
    learner = make_learner(name, **_params(name)).fit(a, progress=False)
    with torch.no_grad():
        z = learner.encode(a)
        x_hat = learner.decode(z)
    c = 12 if name == "neurons" else 4
    assert z.shape == (160, c) and x_hat.shape == a.shape and learner.dictionary.shape == (c, 12)
    assert learner.fit_seconds is not None and learner.fit_seconds >= 0
    if name in SAES:
        assert len(learner.training_log["loss"]) == 2
    learner.save(tmp_path)
    config = json.loads((tmp_path / "config.json").read_text())
    assert config["learner"] == name and config["params"] == learner.params()
    assert not list(tmp_path.glob("*.pkl")) and not list(tmp_path.glob("*.pt"))
    loaded = load_learner(tmp_path)
    assert type(loaded) is type(learner)
    with torch.no_grad():
        torch.testing.assert_close(loaded.encode(a), z, atol=1e-5, rtol=1e-4)
        torch.testing.assert_close(loaded.decode(z), x_hat, atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(loaded.dictionary, learner.dictionary)


@pytest.mark.parametrize("name", ["neurons", "pca", "svd", "ica", "semi_nmf"])
def test_exact_learners_reconstruct_low_rank_data(name, data):
    a, _ = data
    learner = make_learner(name, **_params(name) | ({"max_iter": 300} if name == "semi_nmf" else {}))
    learner.fit(a, progress=False)
    with torch.no_grad():
        err = (learner.reconstruct(a) - a).pow(2).mean() / a.var()
    assert err < 1e-2


def test_pca_matches_svd_of_centred_data(data):
    a, _ = data
    pca = make_learner("pca", n_concepts=2).fit(a)
    _, _, vt = torch.linalg.svd(a - a.mean(0), full_matrices=False)
    cos = (pca.dictionary @ vt[:2].T).abs()
    torch.testing.assert_close(cos, torch.eye(2), atol=1e-4, rtol=0)


def test_nmf_signed_options(data):
    a, p = data
    with pytest.raises(InputError, match="non-negative activations"):
        make_learner("nmf", n_concepts=4).fit(a)
    nmf = make_learner("nmf", n_concepts=4, max_iter=200).fit(p)
    z = nmf.encode(p)
    assert (z >= 0).all() and (nmf.dictionary >= 0).all()
    assert (nmf.decode(z) - p).pow(2).mean() / p.var() < 0.05
    relu = make_learner("nmf", n_concepts=4, signed="relu", max_iter=50).fit(a)
    assert (relu.encode(a) >= 0).all()


def test_kmeans_codes_are_one_hot(data):
    a, _ = data
    km = make_learner("kmeans", n_concepts=3).fit(a)
    z = km.encode(a)
    assert torch.equal(z.sum(1), torch.ones(160)) and set(z.unique().tolist()) == {0.0, 1.0}


def test_errors(data, tmp_path):
    a, _ = data
    with pytest.raises(InputError, match="not fitted"):
        make_learner("pca", n_concepts=2).encode(a)
    pca = make_learner("pca", n_concepts=2).fit(a)
    with pytest.raises(InputError, match=r"shape \(N, 12\)"):
        pca.encode(torch.zeros(3, 5))
    with pytest.raises(InputError, match="n_concepts"):
        make_learner("pca", n_concepts=0)
    with pytest.raises(InputError, match="NaN"):
        make_learner("pca", n_concepts=2).fit(torch.full((4, 3), float("nan")))
    with pytest.raises(InputError, match="config.json"):
        load_learner(tmp_path)


def test_fit_accepts_activations(classifier, tokenizer):
    from interpreto_core.concepts import SplitModel

    acts = SplitModel(classifier, tokenizer, split_points=0).collect(["one two three", "four five"], progress=False)
    assert isinstance(acts, Activations)
    learner = make_learner("pca", n_concepts=2).fit(acts)
    assert learner.encode(acts.values).shape == (len(acts), 2)


@pytest.mark.parametrize("name", ["sae", "topk_sae", "pca"])
def test_fit_on_an_explicit_cpu_device_is_the_default_fit(name, data):
    a, _ = data
    default = make_learner(name, **_params(name)).fit(a, progress=False)
    explicit = make_learner(name, **_params(name)).fit(a, progress=False, device="cpu")
    assert explicit.device == torch.device("cpu")
    torch.testing.assert_close(explicit.dictionary, default.dictionary, rtol=0, atol=0)
    torch.testing.assert_close(explicit.encode(a), default.encode(a), rtol=0, atol=0)


def test_fit_device_errors(data):
    a, _ = data
    with pytest.raises(InputError, match="not a torch device"):
        make_learner("sae", **_params("sae")).fit(a, device="gpu0")
    if not torch.cuda.is_available():
        with pytest.raises(InputError, match="CUDA is not available"):
            make_learner("sae", **_params("sae")).fit(a, device="cuda")

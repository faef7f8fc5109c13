"""Activation shards: same rows as collect_activations, resumable, mini-batches, SAE fit from shards."""

from __future__ import annotations

import json

import pytest
import torch

from interpreto_core import InputError
from interpreto_core.concepts import SplitModel, collect_activations, make_learner
from interpreto_core.dataset import ActivationShards, collect_activation_shards, fit_from_shards

TEXTS = [f"text {i} is {'good' if i % 2 else 'bad'} " + "very " * (i % 5) for i in range(30)]


@pytest.fixture(scope="module")
def split(classifier, tokenizer):
    return SplitModel(classifier, tokenizer, split_points=[0, 1])


@pytest.fixture(scope="module")
def full(split):
    return collect_activations(split, TEXTS, granularity="word", progress=False)


def test_shards_hold_the_same_rows_and_resume(split, full, tmp_path):
    def interrupted():
        for i, t in enumerate(TEXTS):
            if i == 17:
                raise KeyboardInterrupt
            yield t

    with pytest.raises(KeyboardInterrupt):
        collect_activation_shards(split, interrupted(), tmp_path, granularity="word", shard_texts=8, progress=False)
    assert json.loads((tmp_path / "manifest.json").read_text())["n_texts"] == 16
    shards = collect_activation_shards(split, iter(TEXTS), tmp_path, granularity="word", shard_texts=8, progress=False)
    for point, acts in full.items():
        s = shards[point]
        assert (len(s), s.n_shards, s.hidden_size) == (len(acts), 4, acts.hidden_size)
        torch.testing.assert_close(s.load(), acts.values, rtol=1e-5, atol=1e-5)
        rows = [s.shard(i) for i in range(s.n_shards)]
        assert torch.cat([r["text_index"] for r in rows]).tolist() == acts.text_index.tolist()
        assert sum((r["units"] for r in rows), ()) == acts.units
    with pytest.raises(InputError, match="differ"):
        collect_activation_shards(split, reversed(TEXTS), tmp_path, granularity="word", shard_texts=8)
    with pytest.raises(InputError, match="other settings"):
        collect_activation_shards(split, iter(TEXTS), tmp_path, granularity="token", shard_texts=8)


def test_batches_cover_every_row_once_with_a_bounded_buffer(split, full, tmp_path):
    point = split.split_points[1]
    collect_activation_shards(split, TEXTS, tmp_path, granularity="word", shard_texts=5, progress=False)
    s = ActivationShards(tmp_path, split_point=point)
    seen = torch.cat(list(s.batches(7, buffer_shards=2, seed=3)))
    ref = full[point].values
    assert seen.shape == ref.shape
    key = lambda t: sorted(map(tuple, t.round(decimals=4).tolist()))  # noqa: E731
    assert key(seen) == key(ref)
    assert all(b.shape[0] == 7 for b in s.batches(7, drop_last=True))
    assert not torch.equal(seen, torch.cat(list(s.batches(7, buffer_shards=2, seed=4))))
    sample = s.sample(10, seed=1)
    assert sample.shape == (10, s.hidden_size) and all((ref == r).all(1).any() for r in sample)
    with pytest.raises(InputError, match="several split points"):
        ActivationShards(tmp_path)


def test_sae_trains_from_shards(split, tmp_path):
    point = split.split_points[1]
    shards = collect_activation_shards(split, TEXTS, tmp_path, granularity="token", shard_texts=10, progress=False)
    s = shards[point]
    params = dict(n_concepts=16, top_k=4, epochs=8, batch_size=32, lr=5e-3)
    learner = fit_from_shards(make_learner("topk_sae", **params), s)
    x = s.load()
    in_ram = make_learner("topk_sae", **params).fit(x)  # the reference: the same training on rows in RAM
    log, ref = learner.training_log["mse"], in_ram.training_log["mse"]
    assert learner.fitted and len(log) == 8 and log[-1] < 0.7 * log[0]
    assert abs(log[-1] - ref[-1]) < 0.15 * ref[-1]
    torch.testing.assert_close(learner.scale, in_ram.scale, rtol=1e-4, atol=0)
    torch.testing.assert_close(learner.mean, x.mean(0), rtol=1e-4, atol=1e-5)
    assert (learner.encode(x) != 0).sum(1).max() <= 4
    learner.save(tmp_path / "sae")
    with pytest.raises(InputError, match="fits in RAM"):
        fit_from_shards(make_learner("pca", n_concepts=4), s)

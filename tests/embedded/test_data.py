"""The data files shipped in interpreto_core/data load and have the documented content."""

from __future__ import annotations

import tomllib
from collections import Counter
from pathlib import Path

import pytest

from interpreto_core import InterpretoError
from interpreto_core.zoo import AG_NEWS_LABELS, load_ag_news, load_sst2

ROOT = Path(__file__).resolve().parents[2]


def test_sst2_splits():
    dev, train = load_sst2(split="dev"), load_sst2(split="train")
    assert len(dev) == 872 and len(train) == 8000
    for data in (dev, train):
        assert {y for _, y in data} == {0, 1}
        assert all(isinstance(s, str) and s and s == s.strip() for s, _ in data)
    assert dev[0] == ("it 's a charming and often affecting journey .", 1)
    assert 0.4 < sum(y for _, y in train) / len(train) < 0.65
    assert not {s for s, _ in dev} & {s for s, _ in train}


def test_sst2_unknown_split():
    with pytest.raises(InterpretoError, match="unknown SST-2 split 'test'"):
        load_sst2(split="test")


def test_ag_news():
    data = load_ag_news()
    assert len(data) == 400
    assert Counter(y for _, y in data) == {0: 100, 1: 100, 2: 100, 3: 100}
    assert len(AG_NEWS_LABELS) == 4
    assert not any("&lt;" in t or "#39;" in t or "\t" in t for t, _ in data)


def test_data_files_are_package_data():
    conf = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert "interpreto_core.data" in conf["tool"]["setuptools"]["packages"]
    globs = conf["tool"]["setuptools"]["package-data"]["interpreto_core.data"]
    files = sorted(p.name for p in (ROOT / "interpreto_core" / "data").glob("*.gz"))
    assert files == ["ag_news_400.tsv.gz", "sst2_dev.tsv.gz", "sst2_train_8k.tsv.gz"]
    assert "*.gz" in globs

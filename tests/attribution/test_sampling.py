"""The vectorised coalition sampler of LIME and KernelSHAP draws uniform k-subsets."""

from __future__ import annotations

import itertools

import numpy as np

from interpreto_plugins._sampling import subset_masks


def test_rows_have_the_asked_sizes():
    rng = np.random.default_rng(0)
    sizes = np.array([0, 1, 2, 5, 7, 7])
    z = subset_masks(sizes, 7, rng=rng)
    assert z.shape == (6, 7) and set(np.unique(z)) <= {0.0, 1.0}
    np.testing.assert_array_equal(z.sum(1), sizes)


def test_every_subset_is_equally_likely():
    rng = np.random.default_rng(1)
    n = 60_000
    z = subset_masks(np.full(n, 2), 5, rng=rng)
    counts = {c: 0 for c in itertools.combinations(range(5), 2)}
    for row in z.astype(bool):
        counts[tuple(np.flatnonzero(row))] += 1
    freq = np.array(list(counts.values())) / n
    assert len(counts) == 10 and np.abs(freq - 0.1).max() < 0.01  # 10 subsets, 1/10 each (sd ~0.0012)


def test_same_seed_same_draws():
    a = subset_masks(np.array([3, 1]), 6, rng=np.random.default_rng(5))
    b = subset_masks(np.array([3, 1]), 6, rng=np.random.default_rng(5))
    np.testing.assert_array_equal(a, b)

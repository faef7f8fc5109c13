"""Random coalitions for the sampling perturbators (LIME, KernelSHAP), drawn without a Python loop."""

from __future__ import annotations

import numpy as np

__all__ = ["subset_masks"]


def subset_masks(sizes: np.ndarray, n_elements: int, *, rng: np.random.Generator) -> np.ndarray:
    """``(len(sizes), n_elements)`` 0/1 rows; row ``i`` has ``sizes[i]`` ones at uniformly random places.

    The ones of a row are the first ``sizes[i]`` positions of a uniform random permutation (the
    ranks of i.i.d. uniforms), i.e. a uniform ``sizes[i]``-subset, as ``rng.choice(n, k,
    replace=False)`` draws - for all rows at once.
    """
    sizes = np.asarray(sizes, dtype=np.int64)
    ranks = rng.random((len(sizes), n_elements)).argsort(axis=1).argsort(axis=1)
    return (ranks < sizes[:, None]).astype(np.float64)

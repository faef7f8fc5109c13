"""Random coalitions for the sampling perturbators (LIME, KernelSHAP), drawn without a Python loop, and
the shared pieces of their ``n_samples="auto"`` mode (parameter checks, bootstrap standard errors)."""

from __future__ import annotations

from typing import Any

import numpy as np

from interpreto_core.plugin import InputError
from interpreto_plugins._checks import count, number

__all__ = ["subset_masks", "auto_budget", "bootstrap_counts", "bootstrap_se", "batched_weighted_lstsq"]


def subset_masks(sizes: np.ndarray, n_elements: int, *, rng: np.random.Generator) -> np.ndarray:
    """``(len(sizes), n_elements)`` 0/1 rows; row ``i`` has ``sizes[i]`` ones at uniformly random places.

    The ones of a row are the first ``sizes[i]`` positions of a uniform random permutation (the
    ranks of i.i.d. uniforms), i.e. a uniform ``sizes[i]``-subset, as ``rng.choice(n, k,
    replace=False)`` draws - for all rows at once.
    """
    sizes = np.asarray(sizes, dtype=np.int64)
    ranks = rng.random((len(sizes), n_elements)).argsort(axis=1).argsort(axis=1)
    return (ranks < sizes[:, None]).astype(np.float64)


#: bootstrap replicates behind a standard error (the se itself is then known to about 1/sqrt(2 B) = 10%)
N_BOOTSTRAP = 50


def auto_budget(part: str, n_samples: Any, tolerance: Any, max_samples: Any, *, defaults: tuple[float, int],
                minimum: int) -> tuple[bool, Any, float | None, int | None]:
    """``(adaptive, n_samples, tolerance, max_samples)`` from a part's parameters.

    ``n_samples="auto"``: adaptive, with ``tolerance`` (the relative standard error to reach, > 0)
    and ``max_samples`` (>= ``minimum``); an integer ``n_samples`` (>= ``minimum``): fixed, and
    ``tolerance`` / ``max_samples`` must be left at their ``defaults``.
    """
    if isinstance(n_samples, str):
        if n_samples != "auto":
            raise InputError(f"{part}: n_samples must be an integer >= {minimum} or 'auto', got {n_samples!r}")
        tol = number(part, "tolerance", tolerance, strict=True)
        return True, "auto", tol, count(part, "max_samples", max_samples, minimum)
    if tolerance != defaults[0] or max_samples != defaults[1]:
        raise InputError(f"{part}: tolerance= and max_samples= apply to n_samples='auto' only; pass "
                         "n_samples='auto' or drop them")
    return False, count(part, "n_samples", n_samples, minimum), None, None


def bootstrap_counts(n: int, *, seed: int = 0, n_boot: int = N_BOOTSTRAP) -> np.ndarray:
    """``(n_boot, n)`` multinomial counts: how often each of ``n`` units is drawn in each bootstrap
    resample (a fixed seed: the same rows give the same standard error)."""
    rng = np.random.default_rng([seed, n])
    return rng.multinomial(n, np.full(n, 1.0 / n), size=n_boot).astype(np.float64)


def bootstrap_se(replicates: np.ndarray) -> np.ndarray:
    """The standard deviation over the first axis (the bootstrap standard error)."""
    return np.asarray(replicates, dtype=np.float64).std(axis=0, ddof=1)


def batched_weighted_lstsq(x: np.ndarray, y: np.ndarray, w: np.ndarray, alpha: float = 0.0,
                           center: bool = False) -> np.ndarray:
    """``(B, F, T)``: for each weight row ``w[b]`` (``(B, N)``), argmin_c sum_n w_bn (y_n - [c0] - x_n.c)^2
    + alpha |c|^2 by the normal equations (an unpenalised intercept when ``center``)."""
    sw = w.sum(axis=1)  # (B,)
    gram = np.einsum("bn,ni,nj->bij", w, x, x)
    cross = np.einsum("bn,ni,nt->bit", w, x, y)
    if center:
        xm = (w @ x) / sw[:, None]  # (B, F)
        ym = (w @ y) / sw[:, None]  # (B, T)
        gram = gram - sw[:, None, None] * xm[:, :, None] * xm[:, None, :]
        cross = cross - sw[:, None, None] * xm[:, :, None] * ym[:, None, :]
    gram = gram + alpha * np.eye(x.shape[1])[None]
    return np.linalg.pinv(gram, hermitian=True) @ cross  # a rank-deficient resample gives the min-norm solution

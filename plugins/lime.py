"""LIME (Ribeiro et al., 2016): a weighted linear surrogate fitted on random masks.

Masks remove a uniformly drawn number of elements; sample z gets the weight
pi(z) = sqrt(exp(-d(z)^2 / width^2)) with d the cosine distance between z and the all-ones mask
(as in the reference implementation's text explainer), and the scores are the coefficients of
a weighted ridge regression  min_b  sum_z pi(z) (f(z) - b0 - b.z)^2 + alpha |b|^2.
"""

from __future__ import annotations

import numpy as np

from interpreto_core.plugin import AttributionRecipe, PerturbationPlan, hookimpl
from interpreto_plugins._checks import count, number
from interpreto_plugins._sampling import subset_masks


class LimeMasks:
    """``n_samples`` masks: the original input, then masks with 1..n_elements elements removed."""

    def __init__(self, n_samples: int = 200) -> None:
        self.n_samples = count("lime", "n_samples", n_samples, 2)

    def plan(self, n_elements: int, *, rng: np.random.Generator) -> PerturbationPlan:
        n_removed = rng.integers(1, n_elements + 1, size=self.n_samples - 1)
        removed = subset_masks(n_removed, n_elements, rng=rng)
        return PerturbationPlan(masks=np.vstack([np.ones((1, n_elements)), 1.0 - removed]))


def weighted_ridge(x: np.ndarray, y: np.ndarray, w: np.ndarray, alpha: float) -> np.ndarray:
    """Ridge coefficients ``(n_features, n_outputs)`` with an unpenalised intercept, sample weights ``w``.

    Solves  min_b sum_i w_i (y_i - b0 - x_i.b)^2 + alpha |b|^2  (scikit-learn's ``Ridge`` objective).
    """
    x_mean, y_mean = (w @ x) / w.sum(), (w @ y) / w.sum()
    xc, yc = x - x_mean, y - y_mean
    gram = xc.T @ (xc * w[:, None]) + alpha * np.eye(x.shape[1])
    return np.linalg.lstsq(gram, xc.T @ (yc * w[:, None]), rcond=None)[0]


class LimeRegression:
    """Weighted ridge regression with LIME's exponential kernel on the cosine distance."""

    input = "perturbation"

    def __init__(self, kernel_width: float = 0.25, alpha: float = 1.0) -> None:
        self.kernel_width = number("lime_regression", "kernel_width", kernel_width, strict=True)
        self.alpha = number("lime_regression", "alpha", alpha)

    def aggregate(self, plan: PerturbationPlan, outputs: np.ndarray) -> np.ndarray:
        masks = plan.masks.astype(np.float64)
        norms = np.linalg.norm(masks, axis=1) * np.sqrt(masks.shape[1])
        cosine = np.divide(masks.sum(axis=1), norms, out=np.zeros(len(masks)), where=norms > 0)
        distance = 1.0 - cosine
        weights = np.sqrt(np.exp(-(distance**2) / self.kernel_width**2))
        return weighted_ridge(masks, outputs, weights, self.alpha).T


@hookimpl
def interpreto_register_perturbator(register):
    register(LimeMasks, name="lime", summary="Random masks removing a uniform number of elements (LIME).")


@hookimpl
def interpreto_register_aggregator(register):
    register(LimeRegression, name="lime_regression", summary="Weighted ridge regression, exponential cosine kernel.")


@hookimpl
def interpreto_register_attribution(register):
    register(
        AttributionRecipe(perturbator="lime", aggregator="lime_regression"),
        name="lime",
        summary="LIME: weighted linear surrogate on random masks (n_samples forwards).",
        reference="Ribeiro et al., 'Why Should I Trust You?', KDD 2016",
    )

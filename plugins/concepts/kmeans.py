"""K-means concepts (Lloyd, 1982): each concept is a cluster centroid.

encode(x) = one_hot(argmin_c ||x - mu_c||) (hard assignment: no gradient), decode(z) = z M.
"""

from __future__ import annotations

from interpreto_core.plugin import AffineLearner, InputError, hookimpl


class KMeans(AffineLearner):
    """K-means (scikit-learn, k-means++ init); a row's code is the one-hot of its nearest centroid."""

    name = "kmeans"

    def __init__(self, *, n_concepts: int = 20, seed: int = 0, n_init: int = 3) -> None:
        super().__init__(n_concepts=n_concepts, seed=seed)
        self.n_init = n_init

    def _fit(self, a, *, progress=None):
        import numpy as np
        from sklearn.cluster import KMeans as SkKMeans

        if a.shape[0] < self.n_concepts:
            raise InputError(f"k-means needs at least n_concepts ({self.n_concepts}) activation rows, got "
                             f"{a.shape[0]}: give more rows or ask for fewer concepts")

        km = SkKMeans(n_clusters=self.n_concepts, n_init=self.n_init, random_state=self.seed).fit(a.numpy())
        c = km.cluster_centers_
        self._set(mean=np.zeros(a.shape[1]), encoder=c.T, components=c)

    def encode(self, x):
        import torch

        x = self._input(x)
        nearest = torch.cdist(x, self.components).argmin(1)
        return torch.nn.functional.one_hot(nearest, self.components.shape[0]).float()


@hookimpl
def interpreto_register_dictionary_learner(register):
    register(KMeans, name="kmeans", summary="K-means clusters: a row's concept is its nearest centroid.",
             reference="Lloyd, Least squares quantization in PCM, IEEE TIT 1982")

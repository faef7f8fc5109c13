"""Sparse PCA concepts (Zou, Hastie & Tibshirani, 2006): principal directions with few non-zero weights.

Components V (C, H) are L1-penalised; codes are the ridge projection scikit-learn uses:
encode(x) = (x - mu) V^T (V V^T + r I)^{-1}, decode(z) = z V + mu.
"""

from __future__ import annotations

from interpreto_core.plugin import AffineLearner, hookimpl


class SparsePCA(AffineLearner):
    """Sparse PCA (scikit-learn, coordinate descent); ``alpha`` is the L1 weight on components."""

    name = "sparse_pca"

    def __init__(self, *, n_concepts: int = 20, seed: int = 0, alpha: float = 1.0, ridge_alpha: float = 0.01,
                 max_iter: int = 200) -> None:
        super().__init__(n_concepts=n_concepts, seed=seed)
        self.alpha, self.ridge_alpha, self.max_iter = alpha, ridge_alpha, max_iter

    def _fit(self, a, *, progress=None):
        import numpy as np
        from sklearn.decomposition import MiniBatchSparsePCA

        spca = MiniBatchSparsePCA(n_components=self.n_concepts, alpha=self.alpha, ridge_alpha=self.ridge_alpha,
                                  max_iter=self.max_iter, random_state=self.seed).fit(a.numpy())
        v = spca.components_
        encoder = v.T @ np.linalg.inv(v @ v.T + self.ridge_alpha * np.eye(len(v)))
        self._set(mean=spca.mean_, encoder=encoder, components=v)


@hookimpl
def interpreto_register_dictionary_learner(register):
    register(SparsePCA, name="sparse_pca", summary="Sparse PCA: principal directions with L1-sparse loadings.",
             reference="Zou, Hastie & Tibshirani, Sparse principal component analysis, JCGS 2006")

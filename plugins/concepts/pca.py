"""PCA concepts (Pearson, 1901): the top principal directions of the centred activations.

encode(x) = (x - mu) V^T, decode(z) = z V + mu, with V (C, H) orthonormal principal axes.
"""

from __future__ import annotations

from interpreto_core.plugin import AffineLearner, InputError, hookimpl


class PCA(AffineLearner):
    """Principal components (scikit-learn ``PCA``), stored as matrices: exact, differentiable encode."""

    name = "pca"

    def _fit(self, a, *, progress=None):
        from sklearn.decomposition import PCA as SkPCA

        if self.n_concepts > min(a.shape):
            raise InputError(f"PCA can find at most min(rows, hidden) = {min(a.shape)} components")
        pca = SkPCA(n_components=self.n_concepts, random_state=self.seed).fit(a.numpy())
        self._set(mean=pca.mean_, encoder=pca.components_.T, components=pca.components_)


@hookimpl
def interpreto_register_dictionary_learner(register):
    register(PCA, name="pca", summary="Principal component analysis (orthogonal directions of most variance).",
             reference="Pearson, On lines and planes of closest fit, 1901")

"""Truncated SVD concepts: the top right singular vectors of the *uncentred* activations.

encode(x) = x V^T, decode(z) = z V, with A ~ U S V (scikit-learn ``TruncatedSVD``).
"""

from __future__ import annotations

from interpreto_core.plugin import AffineLearner, InputError, hookimpl


class SVD(AffineLearner):
    """Truncated SVD (no centring: the mean direction can be a concept)."""

    name = "svd"

    def _fit(self, a, *, progress=None):
        import numpy as np
        from sklearn.decomposition import TruncatedSVD

        if self.n_concepts >= a.shape[1]:
            raise InputError(f"truncated SVD needs n_concepts < hidden size ({a.shape[1]})")
        if self.n_concepts > a.shape[0]:
            raise InputError(f"truncated SVD can find at most as many components as rows ({a.shape[0]}), "
                             f"asked for n_concepts={self.n_concepts}: give more rows or ask for fewer concepts")
        svd = TruncatedSVD(n_components=self.n_concepts, random_state=self.seed).fit(a.numpy())
        self._set(mean=np.zeros(a.shape[1]), encoder=svd.components_.T, components=svd.components_)


@hookimpl
def interpreto_register_dictionary_learner(register):
    register(SVD, name="svd", summary="Truncated singular value decomposition (uncentred PCA).",
             reference="Halko, Martinsson & Tropp, Finding structure with randomness, SIAM Review 2011")

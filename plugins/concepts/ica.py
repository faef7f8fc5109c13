"""ICA concepts (Hyvärinen & Oja, 2000): statistically independent directions (FastICA).

encode(x) = (x - mu) W^T (unmixing), decode(z) = z M^T + mu (mixing M = W^+).
"""

from __future__ import annotations

from interpreto_core.plugin import AffineLearner, InputError, hookimpl


class ICA(AffineLearner):
    """FastICA (scikit-learn), whitening by unit variance; stored as its unmixing/mixing matrices."""

    name = "ica"

    def __init__(self, *, n_concepts: int = 20, seed: int = 0, max_iter: int = 500) -> None:
        super().__init__(n_concepts=n_concepts, seed=seed)
        self.max_iter = max_iter

    def _fit(self, a, *, progress=None):
        import warnings

        from sklearn.decomposition import FastICA

        if a.shape[0] < 2:
            raise InputError(f"ICA needs at least 2 activation rows, got {a.shape[0]}")

        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*did not converge.*")
            ica = FastICA(n_components=self.n_concepts, random_state=self.seed, max_iter=self.max_iter,
                          whiten="unit-variance").fit(a.numpy())
        self._set(mean=ica.mean_, encoder=ica.components_.T, components=ica.mixing_.T)


@hookimpl
def interpreto_register_dictionary_learner(register):
    register(ICA, name="ica", summary="Independent component analysis (FastICA).",
             reference="Hyvärinen & Oja, Independent component analysis: algorithms and applications, 2000")

"""Sparse dictionary learning (Mairal et al., 2009): min ||X - Z D||^2 / 2 + alpha ||Z||_1, ||D_c|| = 1.

Dictionary by scikit-learn's online ``MiniBatchDictionaryLearning``; codes by FISTA on the same
lasso problem (encode), decode(z) = z D.
"""

from __future__ import annotations

from interpreto_core.plugin import NonNegativeLearner, hookimpl


class DictionaryLearning(NonNegativeLearner):
    """Sparse coding with a learned, unit-norm dictionary; signed codes."""

    name = "dictionary_learning"
    nonnegative_codes = False

    def __init__(self, *, n_concepts: int = 20, seed: int = 0, alpha: float = 1.0, max_iter: int = 10,
                 batch_size: int = 256) -> None:
        super().__init__(n_concepts=n_concepts, seed=seed)
        self.alpha, self.max_iter, self.batch_size = alpha, max_iter, batch_size
        self.alpha_codes = alpha

    def _fit(self, a, *, progress=None):
        import torch
        from sklearn.decomposition import MiniBatchDictionaryLearning

        dl = MiniBatchDictionaryLearning(n_components=self.n_concepts, alpha=self.alpha, max_iter=self.max_iter,
                                         batch_size=self.batch_size, random_state=self.seed).fit(a.numpy())
        self.components = torch.as_tensor(dl.components_, dtype=torch.float32)


@hookimpl
def interpreto_register_dictionary_learner(register):
    register(DictionaryLearning, name="dictionary_learning",
             summary="Sparse dictionary learning (lasso codes, unit-norm atoms).",
             reference="Mairal, Bach, Ponce & Sapiro, Online dictionary learning for sparse coding, ICML 2009")

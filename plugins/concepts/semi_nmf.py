"""Semi-NMF concepts (Ding, Li & Jordan, 2010): min ||A - Z D||_F^2 with Z >= 0, D signed.

Works on signed activations. Fit by overcomplete's multiplicative updates; codes of new rows by
non-negative least squares with D fixed (FISTA); decode(z) = z D.
"""

from __future__ import annotations

from interpreto_core.plugin import NonNegativeLearner, hookimpl


class SemiNMF(NonNegativeLearner):
    """Semi-non-negative factorisation: non-negative codes, signed dictionary."""

    name = "semi_nmf"

    def __init__(self, *, n_concepts: int = 20, seed: int = 0, max_iter: int = 500) -> None:
        super().__init__(n_concepts=n_concepts, seed=seed)
        self.max_iter = max_iter

    def _fit(self, a, *, progress=None):
        import torch
        from overcomplete.optimization import SemiNMF as OcSemiNMF

        _, d = OcSemiNMF(nb_concepts=self.n_concepts, solver="mu").fit(a, max_iter=self.max_iter)
        self.components = torch.as_tensor(d, dtype=torch.float32).detach()


@hookimpl
def interpreto_register_dictionary_learner(register):
    register(SemiNMF, name="semi_nmf", summary="Semi-NMF: non-negative codes, signed dictionary (signed activations).",
             reference="Ding, Li & Jordan, Convex and semi-nonnegative matrix factorizations, TPAMI 2010")

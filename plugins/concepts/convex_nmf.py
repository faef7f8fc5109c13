"""Convex NMF concepts (Ding, Li & Jordan, 2010): min ||A - Z W A||_F^2 with Z >= 0, W >= 0.

Each concept D = W A is a non-negative combination of training rows, so it lies in their cone:
concepts read as mixtures of real examples. Works on signed activations. Fit by overcomplete
(multiplicative updates by default); its updates handle (rows x rows) products, so beyond
``max_rows`` rows the fit runs on a seeded random sample of them. Codes of new rows by
non-negative least squares with D fixed (FISTA); decode(z) = z D.
"""

from __future__ import annotations

from interpreto_core import hookimpl
from interpreto_core.concepts._families import NonNegativeLearner


class ConvexNMF(NonNegativeLearner):
    """Convex NMF: concepts are non-negative combinations of the training activations."""

    name = "convex_nmf"

    def __init__(self, *, n_concepts: int = 20, seed: int = 0, solver: str = "mu", max_iter: int = 500,
                 max_rows: int = 2000) -> None:
        super().__init__(n_concepts=n_concepts, seed=seed)
        self.solver, self.max_iter, self.max_rows = solver, max_iter, max_rows

    def _fit(self, a, *, progress=None):
        import torch
        from overcomplete.optimization import ConvexNMF as OcConvexNMF

        if a.shape[0] > self.max_rows:  # the solver works with (rows x rows) products: fit on a sample
            pick = torch.randperm(a.shape[0], generator=torch.Generator().manual_seed(self.seed))[: self.max_rows]
            a = a[pick]
        _, d = OcConvexNMF(nb_concepts=self.n_concepts, solver=self.solver).fit(a, max_iter=self.max_iter)
        self.components = torch.as_tensor(d, dtype=torch.float32).detach()


@hookimpl
def interpreto_register_dictionary_learner(register):
    register(ConvexNMF, name="convex_nmf", summary="Convex NMF: concepts are non-negative mixtures of training rows.",
             reference="Ding, Li & Jordan, Convex and semi-nonnegative matrix factorizations, TPAMI 2010")

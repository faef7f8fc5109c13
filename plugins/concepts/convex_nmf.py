"""Convex NMF concepts (Ding, Li & Jordan, 2010): min ||A - Z W A||_F^2 with Z >= 0, W >= 0.

Each concept D = W A is a non-negative combination of training rows, so it lies in their cone:
concepts read as mixtures of real examples. Works on signed activations. Fit by the paper's
multiplicative updates on the kernel K = A A^T (computed once, so beyond ``max_rows`` rows the fit
runs on a seeded random sample of rows). overcomplete 0.3.0's ConvexNMF recomputes A A^T and
forms (rows x rows)(rows x rows) products at every step: on 2,000 MiniLM rows it did not finish
one fit in 20 minutes here, hence this implementation. Codes of new rows by non-negative least
squares with D fixed (FISTA); decode(z) = z D.
"""

from __future__ import annotations

from interpreto_core.plugin import NonNegativeLearner, hookimpl


def convex_nmf(a, n_concepts, *, max_iter=300, tol=1e-5, seed=0, eps=1e-9):
    """Ding, Li & Jordan's multiplicative updates for A ~ Z W A (rows as samples).

    With K = A A^T split into K+ = max(K, 0) and K- = max(-K, 0):
    Z <- Z * sqrt((K+ W^T + Z W K- W^T) / (K- W^T + Z W K+ W^T)),
    W^T <- W^T * sqrt((K+ Z + K- W^T Z^T Z) / (K- Z + K+ W^T Z^T Z)).
    K is computed once; every product is (N x N)(N x C) or smaller.
    """
    import torch

    g = torch.Generator().manual_seed(seed)
    n = a.shape[0]
    k = a.float() @ a.float().T
    kp, km = k.clamp_min(0), (-k).clamp_min(0)
    # initialisation of the paper: random cluster indicators + 0.2, W from normalised indicators
    z = torch.nn.functional.one_hot(torch.randint(0, n_concepts, (n,), generator=g), n_concepts).float() + 0.2
    wt = z / z.sum(0, keepdim=True)  # (N, C): W^T
    previous = None
    for step in range(max_iter):
        kpw, kmw = kp @ wt, km @ wt
        wkpw, wkmw = wt.T @ kpw, wt.T @ kmw  # (C, C)
        z = z * torch.sqrt((kpw + z @ wkmw) / (kmw + z @ wkpw + eps))
        ztz = z.T @ z
        wt = wt * torch.sqrt((kp @ z + kmw @ ztz) / (km @ z + kpw @ ztz + eps))
        if step % 10 == 9:  # relative change of ||A - Z W A||^2, every 10 steps
            kw = kp @ wt - km @ wt
            loss = float(torch.trace(k) - 2 * torch.trace(z.T @ kw) + torch.trace(ztz @ (wt.T @ kw)))
            if previous is not None and abs(previous - loss) <= tol * abs(previous):
                break
            previous = loss
    return wt.T @ a.float()  # D = W A, (C, H)


class ConvexNMF(NonNegativeLearner):
    """Convex NMF: concepts are non-negative combinations of the training activations."""

    name = "convex_nmf"

    def __init__(self, *, n_concepts: int = 20, seed: int = 0, max_iter: int = 300, max_rows: int = 2000) -> None:
        super().__init__(n_concepts=n_concepts, seed=seed)
        self.max_iter, self.max_rows = max_iter, max_rows

    def _fit(self, a, *, progress=None):
        import torch

        if a.shape[0] > self.max_rows:  # the updates use a (rows x rows) kernel: fit on a sample
            pick = torch.randperm(a.shape[0], generator=torch.Generator().manual_seed(self.seed))[: self.max_rows]
            a = a[pick]
        self.components = convex_nmf(a, self.n_concepts, max_iter=self.max_iter, seed=self.seed)


@hookimpl
def interpreto_register_dictionary_learner(register):
    register(ConvexNMF, name="convex_nmf", summary="Convex NMF: concepts are non-negative mixtures of training rows.",
             reference="Ding, Li & Jordan, Convex and semi-nonnegative matrix factorizations, TPAMI 2010")

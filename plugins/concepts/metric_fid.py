"""Fréchet distance between the activations and their reconstructions (as in FID, Heusel et al., 2017).

Both sets are summarised by a Gaussian (mean mu, covariance S):
FD = ||mu_X - mu_Xhat||^2 + Tr(S_X + S_Xhat - 2 (S_X^{1/2} S_Xhat S_X^{1/2})^{1/2}). Lower is better.
The matrix square roots are taken by symmetric eigendecomposition (float64, negative eigenvalues
of round-off clipped to 0).
"""

from __future__ import annotations

from interpreto_core.plugin import ConceptMetric, hookimpl


def _sqrtm_psd(m):
    import torch

    w, v = torch.linalg.eigh((m + m.T) / 2)
    return (v * w.clamp_min(0).sqrt()) @ v.T


class ConceptFrechetDistance(ConceptMetric):
    """Fréchet distance between Gaussian fits of X and X_hat."""

    name = "concept_fid"
    higher_is_better = False

    def _score(self, *, x, reconstruction, **_):
        import torch

        mu1, mu2 = x.mean(0), reconstruction.mean(0)
        s1 = torch.cov(x.T).reshape(x.shape[1], x.shape[1])
        s2 = torch.cov(reconstruction.T).reshape(x.shape[1], x.shape[1])
        r1 = _sqrtm_psd(s1)
        cross = torch.linalg.eigvalsh(r1 @ s2 @ r1).clamp_min(0).sqrt().sum()
        return (mu1 - mu2).pow(2).sum() + torch.trace(s1) + torch.trace(s2) - 2 * cross


@hookimpl
def interpreto_register_concept_metric(register):
    register(ConceptFrechetDistance, name="concept_fid",
             summary="Concepts: Fréchet distance between activations and reconstructions (lower is better).",
             reference="Heusel et al., GANs trained by a two time-scale update rule..., NeurIPS 2017")

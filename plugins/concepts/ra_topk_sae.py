"""Relaxed archetypal TopK sparse autoencoder (Fel et al., 2025).

Each concept is a convex combination of ``n_points`` anchor activations plus a small relaxation:
D = W C + Lambda, W >= 0 rows summing to 1, ||Lambda_c|| <= delta; codes as in the TopK SAE.
The anchors C are ``n_points`` training rows drawn at random (seeded).
"""

from __future__ import annotations

from interpreto_core.plugin import InputError, SAELearner, hookimpl


class RelaxedArchetypalTopKSAE(SAELearner):
    """TopK sparse autoencoder with a relaxed archetypal dictionary (overcomplete ``RATopKSAE``)."""

    name = "ra_topk_sae"

    def __init__(self, *, n_concepts: int = 20, seed: int = 0, top_k: int = 5, n_points: int = 512,
                 delta: float = 1.0, epochs: int = 20, batch_size: int = 256, lr: float = 1e-3,
                 center: bool = True) -> None:
        super().__init__(n_concepts=n_concepts, seed=seed, epochs=epochs, batch_size=batch_size, lr=lr, l1=0.0,
                         center=center)
        if not isinstance(top_k, int) or not 1 <= top_k <= n_concepts:
            raise InputError(f"top_k must be an integer in 1..n_concepts ({n_concepts}), got {top_k!r}")
        self.top_k, self.n_points, self.delta = top_k, n_points, delta

    def _build(self, hidden, data):
        import torch
        from overcomplete.sae import RATopKSAE

        if data.shape[0] > self.n_points:  # fit: draw anchors; load: ``data`` is the saved anchors
            pick = torch.randperm(data.shape[0], generator=torch.Generator().manual_seed(self.seed))[: self.n_points]
            data = data[pick]
        return RATopKSAE(hidden, self.n_concepts, points=data.clone(), top_k=self.top_k, delta=self.delta)


@hookimpl
def interpreto_register_dictionary_learner(register):
    register(RelaxedArchetypalTopKSAE, name="ra_topk_sae",
             summary="Relaxed archetypal TopK SAE: concepts stay near the convex hull of real activations.",
             reference="Fel et al., Archetypal SAE: adaptive and stable dictionary learning for concept extraction "
                       "in large vision models, ICML 2025")

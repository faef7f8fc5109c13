"""TopK sparse autoencoder (Gao et al., 2024): keep the k largest pre-activations of each row.

z = TopK_k(ReLU(W_e (x - mu) s + b_e)), x_hat = z D / s + mu; loss mean((x - x_hat)^2).
"""

from __future__ import annotations

from interpreto_core.plugin import InputError, SAELearner, hookimpl


class TopKSAE(SAELearner):
    """Sparse autoencoder with exactly ``top_k`` active concepts per row (overcomplete ``TopKSAE``)."""

    name = "topk_sae"

    def __init__(self, *, n_concepts: int = 20, seed: int = 0, top_k: int = 5, epochs: int = 20,
                 batch_size: int = 256, lr: float = 1e-3, center: bool = True) -> None:
        super().__init__(n_concepts=n_concepts, seed=seed, epochs=epochs, batch_size=batch_size, lr=lr, l1=0.0,
                         center=center)
        if not isinstance(top_k, int) or not 1 <= top_k <= n_concepts:
            raise InputError(f"top_k must be an integer in 1..n_concepts ({n_concepts}), got {top_k!r}")
        self.top_k = top_k

    def _build(self, hidden, data):
        from overcomplete.sae import TopKSAE as OcTopKSAE

        return OcTopKSAE(hidden, self.n_concepts, top_k=self.top_k)


@hookimpl
def interpreto_register_dictionary_learner(register):
    register(TopKSAE, name="topk_sae", summary="TopK sparse autoencoder: k active concepts per row.",
             reference="Gao et al., Scaling and evaluating sparse autoencoders, 2024")

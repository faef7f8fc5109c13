"""Vanilla sparse autoencoder (Bricken et al., 2023; Cunningham et al., 2023).

z = ReLU(W_e (x - mu) s + b_e), x_hat = z D / s + mu; loss mean((x - x_hat)^2) + l1 * mean(|z|).
"""

from __future__ import annotations

from interpreto_core.plugin import SAELearner, hookimpl


class VanillaSAE(SAELearner):
    """ReLU sparse autoencoder with an L1 penalty on codes (overcomplete ``SAE``)."""

    name = "sae"

    def __init__(self, *, n_concepts: int = 20, seed: int = 0, epochs: int = 20, batch_size: int = 256,
                 lr: float = 1e-3, l1: float = 1e-2, center: bool = True) -> None:
        super().__init__(n_concepts=n_concepts, seed=seed, epochs=epochs, batch_size=batch_size, lr=lr, l1=l1,
                         center=center)

    def _build(self, hidden, data):
        from overcomplete.sae import SAE

        return SAE(hidden, self.n_concepts)


@hookimpl
def interpreto_register_dictionary_learner(register):
    register(VanillaSAE, name="sae", summary="Vanilla ReLU sparse autoencoder with an L1 penalty.",
             reference="Cunningham et al., Sparse autoencoders find highly interpretable features in language "
                       "models, ICLR 2024")

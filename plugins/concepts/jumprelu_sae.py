"""JumpReLU sparse autoencoder (Rajamanoharan et al., 2024): a learned threshold per concept.

z_c = a_c * [a_c > theta_c], a = W_e (x - mu) s + b_e; thresholds learned through a kernel
pseudo-gradient; loss mean((x - x_hat)^2) + l1 * mean(|z|).
"""

from __future__ import annotations

from interpreto_core.plugin import SAELearner, hookimpl


class JumpReLUSAE(SAELearner):
    """Sparse autoencoder with JumpReLU activations (overcomplete ``JumpSAE``)."""

    name = "jumprelu_sae"

    def __init__(self, *, n_concepts: int = 20, seed: int = 0, epochs: int = 20, batch_size: int = 256,
                 lr: float = 1e-3, l1: float = 1e-2, bandwidth: float = 1e-3, center: bool = True) -> None:
        super().__init__(n_concepts=n_concepts, seed=seed, epochs=epochs, batch_size=batch_size, lr=lr, l1=l1,
                         center=center)
        self.bandwidth = bandwidth

    def _build(self, hidden, data):
        from overcomplete.sae import JumpSAE

        return JumpSAE(hidden, self.n_concepts, bandwidth=self.bandwidth)


@hookimpl
def interpreto_register_dictionary_learner(register):
    register(JumpReLUSAE, name="jumprelu_sae", summary="JumpReLU sparse autoencoder (learned per-concept thresholds).",
             reference="Rajamanoharan et al., Jumping ahead: improving reconstruction fidelity with JumpReLU "
                       "sparse autoencoders, 2024")

"""Matching-pursuit sparse autoencoder (Costa et al., 2025): the encoder is k steps of matching pursuit.

r_0 = x; for i < k: c = argmax_j <r_i, D_j>, z_c += <r_i, D_c>, r_{i+1} = r_i - <r_i, D_c> D_c.
Only the dictionary D is learned; x_hat = z D.
"""

from __future__ import annotations

from interpreto_core.plugin import InputError, SAELearner, hookimpl


class MPSAE(SAELearner):
    """Sparse autoencoder whose encoder is ``k`` greedy matching-pursuit steps (overcomplete ``MpSAE``)."""

    name = "mp_sae"

    def __init__(self, *, n_concepts: int = 20, seed: int = 0, k: int = 3, epochs: int = 20, batch_size: int = 256,
                 lr: float = 1e-3, center: bool = True) -> None:
        super().__init__(n_concepts=n_concepts, seed=seed, epochs=epochs, batch_size=batch_size, lr=lr, l1=0.0,
                         center=center)
        if not isinstance(k, int) or k < 1:
            raise InputError(f"k (matching-pursuit steps) must be a positive integer, got {k!r}")
        self.k = k

    def _build(self, hidden, data):
        from overcomplete.sae import MpSAE

        return MpSAE(hidden, self.n_concepts, k=self.k)


@hookimpl
def interpreto_register_dictionary_learner(register):
    register(MPSAE, name="mp_sae", summary="Matching-pursuit sparse autoencoder (k greedy pursuit steps).",
             reference="Costa et al., From flat to hierarchical: extracting sparse representations with matching "
                       "pursuit, 2025")

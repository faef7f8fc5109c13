"""BatchTopK sparse autoencoder (Bussmann, Leask & Nanda, 2024): keep the k * B largest codes of a batch.

At training the threshold is the (k B)-th largest code of the batch; at inference, the running
mean of those thresholds: z = ReLU(W_e x + b_e) * [z >= theta].
"""

from __future__ import annotations

from interpreto_core.plugin import InputError, SAELearner, hookimpl


class BatchTopKSAE(SAELearner):
    """Sparse autoencoder with ``top_k`` active concepts per row *on average* over a batch."""

    name = "batchtopk_sae"

    def __init__(self, *, n_concepts: int = 20, seed: int = 0, top_k: int = 5, epochs: int = 20,
                 batch_size: int = 256, lr: float = 1e-3, center: bool = True) -> None:
        super().__init__(n_concepts=n_concepts, seed=seed, epochs=epochs, batch_size=batch_size, lr=lr, l1=0.0,
                         center=center)
        if not isinstance(top_k, int) or not 1 <= top_k <= n_concepts:
            raise InputError(f"top_k must be an integer in 1..n_concepts ({n_concepts}), got {top_k!r}")
        self.top_k = top_k

    def _build(self, hidden, data):
        from overcomplete.sae import BatchTopKSAE as OcBatchTopKSAE

        # overcomplete's top_k counts codes per batch: k per row times the batch size
        return OcBatchTopKSAE(hidden, self.n_concepts, top_k=self.top_k * self.batch_size)

    def extra_config(self):
        return {"running_threshold": float(self.module.running_threshold)}

    def _restore_extra(self, extra):
        import torch

        self.module.running_threshold = torch.tensor(extra["running_threshold"])


@hookimpl
def interpreto_register_dictionary_learner(register):
    register(BatchTopKSAE, name="batchtopk_sae",
             summary="BatchTopK sparse autoencoder: k active codes per row on average.",
             reference="Bussmann, Leask & Nanda, BatchTopK sparse autoencoders, 2024")

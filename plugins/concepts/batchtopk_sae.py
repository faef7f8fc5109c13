"""BatchTopK sparse autoencoder (Bussmann, Leask & Nanda, 2024): keep the k * B largest codes of a batch.

At training the threshold is the (k B)-th largest code of the batch, B being *that* batch's number of
rows (the last, smaller batch of an epoch included); at inference, the running mean of those
thresholds: z = ReLU(W_e x + b_e) * [z >= theta].
"""

from __future__ import annotations

from interpreto_core.plugin import InputError, SAELearner, hookimpl

_MODULE_CLASS = None


def _module_class():
    """overcomplete's BatchTopKSAE with ``k`` codes per row of each batch (built once, on first use).

    overcomplete 0.3's module keeps a fixed ``top_k`` codes per batch: a batch smaller than the one it
    was sized for then asks ``torch.topk`` for more codes than it has ("selected index k out of
    range"), and a short last batch would get more than k codes per row.
    """
    global _MODULE_CLASS
    if _MODULE_CLASS is None:
        import torch
        from overcomplete.sae import BatchTopKSAE as OcBatchTopKSAE

        class PerRowBatchTopKSAE(OcBatchTopKSAE):
            def __init__(self, input_shape, nb_concepts, *, k_per_row):
                super().__init__(input_shape, nb_concepts, top_k=k_per_row)
                self.k_per_row = k_per_row

            def encode(self, x):
                if not self.training:
                    return super().encode(x)
                pre_codes, codes = self.encoder(x)
                flat = codes.reshape(-1)
                kth = torch.topk(flat, min(self.k_per_row * codes.shape[0], flat.numel())).values[-1]
                detached = kth.detach()
                self.running_threshold = detached if self.running_threshold is None else (
                    self.threshold_momentum * self.running_threshold + (1 - self.threshold_momentum) * detached)
                return pre_codes, codes * (codes >= kth).float().detach()

        _MODULE_CLASS = PerRowBatchTopKSAE
    return _MODULE_CLASS


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
        return _module_class()(hidden, self.n_concepts, k_per_row=self.top_k)

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

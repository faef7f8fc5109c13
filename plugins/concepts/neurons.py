"""Neurons as concepts: the identity dictionary, a baseline for every other learner.

encode(x) = x, decode(z) = z, D = I (one concept per hidden unit; ``n_concepts`` is the hidden size).
"""

from __future__ import annotations

from interpreto_core.plugin import AffineLearner, hookimpl


class Neurons(AffineLearner):
    """Each hidden unit is a concept (``n_concepts`` is ignored: it becomes the hidden size)."""

    name = "neurons"

    def __init__(self, *, n_concepts: int = 1, seed: int = 0) -> None:
        super().__init__(n_concepts=n_concepts, seed=seed)

    def _fit(self, a, *, progress=None):
        import torch

        h = a.shape[1]
        self.n_concepts = h
        self._set(mean=torch.zeros(h), encoder=torch.eye(h), components=torch.eye(h))


@hookimpl
def interpreto_register_dictionary_learner(register):
    register(Neurons, name="neurons", summary="Baseline: each hidden unit (neuron) is a concept.")

"""Entropy of the output distribution at the target: H = -sum_v p_v log p_v (the target id is unused).

Attributing the entropy of the next-token distribution asks which inputs make the model sure or
unsure at that step (inseq's ``entropy`` step function).
"""

from __future__ import annotations

from interpreto_core.plugin import Score, hookimpl


class Entropy(Score):
    """``-sum_v softmax(z)_v log softmax(z)_v`` in nats, at the target's position."""

    name = "entropy"

    def score(self, logits, target, foil):
        import torch

        logp = torch.log_softmax(logits.float(), dim=-1)
        return -(logp.exp() * logp).sum(-1)


@hookimpl
def interpreto_register_score(register):
    register(Entropy, name="entropy", summary="Entropy of the output distribution at the target (nats).")

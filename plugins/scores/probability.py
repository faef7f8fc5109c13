"""The target's probability: s = softmax(z)_target."""

from __future__ import annotations

from interpreto_core.plugin import Score, hookimpl


class Probability(Score):
    """``softmax(z)[target]``, in [0, 1]."""

    name = "probability"
    log_domain = False

    def score(self, logits, target, foil):
        import torch

        return torch.softmax(logits.float(), dim=-1).gather(-1, target.unsqueeze(-1)).squeeze(-1)


@hookimpl
def interpreto_register_score(register):
    register(Probability, name="probability", summary="The target's probability (softmax).", aliases=["softmax"])

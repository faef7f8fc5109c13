"""The target's log-probability: s = log softmax(z)_target."""

from __future__ import annotations

from interpreto_core.plugin import Score, hookimpl


class LogProbability(Score):
    """``log softmax(z)[target]``: for a generated token, its log-likelihood given the prefix."""

    name = "log_probability"

    def score(self, logits, target, foil):
        import torch

        return torch.log_softmax(logits.float(), dim=-1).gather(-1, target.unsqueeze(-1)).squeeze(-1)


@hookimpl
def interpreto_register_score(register):
    register(LogProbability, name="log_probability", summary="The target's log-probability (log-softmax).",
             aliases=["log_softmax"])

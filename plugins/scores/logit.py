"""The raw logit of the target: s = z_target (pre-softmax output)."""

from __future__ import annotations

from interpreto_core.plugin import Score, hookimpl


class Logit(Score):
    """``z[target]``: the pre-softmax output. Linear in the last layer; unbounded."""

    name = "logit"

    def score(self, logits, target, foil):
        return logits.float().gather(-1, target.unsqueeze(-1)).squeeze(-1)


@hookimpl
def interpreto_register_score(register):
    register(Logit, name="logit", summary="The target's logit (pre-softmax output).", aliases=["logits"])

"""Contrast: why the target rather than the foil? s = z_target - z_foil.

For classes this is the log-odds of target against foil; for a token at one position the
softmax normaliser cancels, so it equals log p(target) - log p(foil) (inseq's
``contrast_logits_diff``; Yin & Neubig, Interpreting Language Models with Contrastive
Explanations, EMNLP 2022).
"""

from __future__ import annotations

from interpreto_core.plugin import InputError, Score, hookimpl


class Contrast(Score):
    """``z[target] - z[foil]`` (= log p(target) - log p(foil) at one position)."""

    name = "contrast"
    needs_foil = True

    def score(self, logits, target, foil):
        if foil is None:
            raise InputError("the contrast score needs a foil: pass contrast=<class or continuation>")
        z = logits.float()
        return (z.gather(-1, target.unsqueeze(-1)) - z.gather(-1, foil.unsqueeze(-1))).squeeze(-1)


@hookimpl
def interpreto_register_score(register):
    register(Contrast, name="contrast", summary="Target logit minus foil logit (why A rather than B?).",
             reference="Yin & Neubig, Interpreting Language Models with Contrastive Explanations, EMNLP 2022")

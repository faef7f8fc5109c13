"""Probability contrast: s = p(target) - p(foil) (inseq's ``contrast_prob_diff``)."""

from __future__ import annotations

from interpreto_core.plugin import InputError, Score, hookimpl


class ContrastProbability(Score):
    """``softmax(z)[target] - softmax(z)[foil]``, in [-1, 1]."""

    name = "contrast_probability"
    needs_foil = True
    log_domain = False

    def score(self, logits, target, foil):
        import torch

        if foil is None:
            raise InputError("the contrast_probability score needs a foil: pass contrast=<class or continuation>")
        p = torch.softmax(logits.float(), dim=-1)
        return (p.gather(-1, target.unsqueeze(-1)) - p.gather(-1, foil.unsqueeze(-1))).squeeze(-1)

    def combine(self, parts):
        raise InputError("contrast_probability is not defined for targets of several parts (QA spans); use contrast")


@hookimpl
def interpreto_register_score(register):
    register(ContrastProbability, name="contrast_probability",
             summary="Target probability minus foil probability.",
             reference="Yin & Neubig, Interpreting Language Models with Contrastive Explanations, EMNLP 2022")

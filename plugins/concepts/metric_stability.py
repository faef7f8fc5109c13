"""Stability of a dictionary across fits: Hungarian-matched cosine similarity (Fel et al., 2025).

Fit the learner twice (seeds s and s + 1), normalise the rows of both dictionaries D1, D2 and
find the one-to-one matching pi maximising sum_c cos(D1_c, D2_pi(c)) (Hungarian algorithm):

stability = 1 / C * sum_c |cos(D1_c, D2_pi(c))|

(absolute cosines by default: PCA / ICA / SVD directions have no sign). 1 means the same
concepts come back. Higher is better.
"""

from __future__ import annotations

from interpreto_core.plugin import ConceptMetric, InputError, hookimpl


def matched_cosine(d1, d2, *, absolute: bool = True) -> float:
    """Mean cosine of the best one-to-one matching between the rows of ``d1`` and ``d2``."""
    import torch
    from scipy.optimize import linear_sum_assignment

    d1 = torch.as_tensor(d1, dtype=torch.float64)
    d2 = torch.as_tensor(d2, dtype=torch.float64)
    if d1.shape != d2.shape:
        raise InputError(f"dictionaries of different shapes {tuple(d1.shape)} and {tuple(d2.shape)}")
    cos = torch.nn.functional.normalize(d1, dim=1) @ torch.nn.functional.normalize(d2, dim=1).T
    if absolute:
        cos = cos.abs()
    rows, cols = linear_sum_assignment(cos.numpy(), maximize=True)
    return float(cos[rows, cols].mean())


class ConceptStability(ConceptMetric):
    """Hungarian-matched cosine between the dictionaries of two fits (``learner``, ``other``).

    Without ``other``, a clone of ``learner`` with ``seed + 1`` is fitted on ``activations``.
    """

    name = "concept_stability"
    higher_is_better = True
    needs = frozenset({"dictionaries"})

    def __init__(self, *, absolute: bool = True) -> None:
        self.absolute = absolute

    def _score(self, *, x, learner, other, **_):
        if learner is None:
            raise InputError("concept_stability needs learner= (and other=, or activations to fit a second seed)")
        if other is None:
            if x is None:
                raise InputError("concept_stability needs other= (a second fit) or activations to fit one")
            other = learner.clone(seed=learner.seed + 1).fit(x.float(), progress=False)
        return matched_cosine(learner.dictionary.detach(), other.dictionary.detach(), absolute=self.absolute)


@hookimpl
def interpreto_register_concept_metric(register):
    register(ConceptStability, name="concept_stability",
             summary="Concepts: Hungarian-matched cosine between the dictionaries of two seeds.",
             reference="Fel et al., Archetypal SAE, ICML 2025 (stability protocol)")

"""Scores: the number explained for each target, read from the model's outputs.

A task reads, for every row and target, the output distribution that the target lives in
(``logits (..., V)``: classes, vocabulary, labels, span positions) and the target's and foil's
indices in it; a score turns that into one number. Built-in scores are plugins like any other
(``interpreto methods --kind score``).

This module stays light: torch is imported inside methods only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    import torch

__all__ = ["Score", "MODE_ALIASES", "as_score"]

#: the engine's former ``mode=`` values, kept as aliases of score names
MODE_ALIASES = {"logits": "logit", "softmax": "probability", "log_softmax": "log_probability"}


class Score:
    """Base class of scores. Subclasses set ``name`` and implement :meth:`score`.

    ``needs_foil``: the score compares the target with a foil (``contrast=`` is required).
    ``log_domain``: scores of independent parts of one target (a QA span's start and end) add
    up (True: logits, log-probabilities) or multiply (False: probabilities); see :meth:`combine`.
    """

    name: ClassVar[str] = ""
    needs_foil: ClassVar[bool] = False
    log_domain: ClassVar[bool] = True

    def score(self, logits: torch.Tensor, target: torch.Tensor, foil: torch.Tensor | None) -> torch.Tensor:
        """``logits (..., V)``, ``target (...)`` and ``foil (...)`` (long) -> scores ``(...)``."""
        raise NotImplementedError

    def combine(self, parts: list[torch.Tensor]) -> torch.Tensor:
        """One score from the scores of a target's independent parts."""
        out = parts[0]
        for p in parts[1:]:
            out = out + p if self.log_domain else out * p
        return out

    def __call__(self, logits: torch.Tensor, target: torch.Tensor, foil: torch.Tensor | None = None) -> Any:
        return self.score(logits, target, foil)

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class _Wrapped(Score):
    """A registered score object that does not subclass :class:`Score` (it only has ``score()``)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.needs_foil = bool(getattr(inner, "needs_foil", False))  # type: ignore[misc]
        self.log_domain = bool(getattr(inner, "log_domain", True))  # type: ignore[misc]

    def score(self, logits: torch.Tensor, target: torch.Tensor, foil: torch.Tensor | None) -> torch.Tensor:
        return self.inner.score(logits, target, foil)


def as_score(obj: Any, name: str) -> Score:
    """``obj`` as a :class:`Score` (a part that only has ``score()`` is wrapped), named by its
    registry ``name`` (what explanations record)."""
    score = obj if isinstance(obj, Score) else _Wrapped(obj)
    score.name = name  # type: ignore[misc]
    return score

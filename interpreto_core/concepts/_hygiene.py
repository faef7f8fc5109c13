"""The activation hygiene a learner was fitted under, re-applied to raw hidden states.

:func:`~interpreto_core.concepts.collect_activations` leaves out outlier tokens (attention-sink /
massive activations: ``||h_t|| > factor x`` the lower median norm of the text's non-special tokens),
positions asked for (``exclude_positions``), and may standardise every unit (``(x - mean) / std``).
A learner fitted on those rows has never seen a sink row nor an unstandardised one.
:class:`HygieneRule` is what the learner records at fit time (``learner.hygiene``, saved with it),
so that :func:`~interpreto_core.concepts.concept_importance` and
:class:`~interpreto_core.concepts.ConceptModel` feed it what it was fitted on: the same positions
are left out of concept scoring, and the kept hidden states are standardised with the stored
statistics (and the reconstruction given back in the model's units).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import attrs
import numpy as np
import torch

from .._errors import InputError
from ._activations import outlier_positions

__all__ = ["HygieneRule", "resolve_hygiene"]


@attrs.frozen(kw_only=True, eq=False)
class HygieneRule:
    """How the rows a learner was fitted on were cleaned, in a form that applies to new hidden states.

    ``factor``: the outlier rule's factor (None: every token kept); ``exclude_positions``: the
    positions left out of every text (a tuple of ints, a callable ``tokens -> positions``, or None);
    ``exclude_description``: how they were described (kept when the callable cannot be saved);
    ``standardized`` with ``mean`` / ``std`` ``(H,)``: rows were ``(x - mean) / std``;
    ``granularity`` / ``split_point``: of the activations (for the record).
    """

    factor: float | None = None
    exclude_positions: tuple[int, ...] | Callable[[list[str]], Any] | None = None
    exclude_description: str | None = None
    standardized: bool = False
    mean: torch.Tensor | None = None
    std: torch.Tensor | None = None
    granularity: str | None = None
    split_point: str | None = None

    # -- building ---------------------------------------------------------------------------------
    @classmethod
    def of(cls, source: Any) -> HygieneRule | None:
        """The rule of an ``Activations`` / ``ActivationHygiene`` (None when it records none)."""
        if source is None or isinstance(source, HygieneRule):
            return source
        hygiene = getattr(source, "hygiene", source)
        if hygiene is None or not hasattr(hygiene, "rule"):
            return None
        rule = getattr(hygiene, "exclude_rule", None)
        description = getattr(hygiene, "exclude_positions", None)
        return cls(factor=hygiene.factor, exclude_positions=rule, exclude_description=description,
                   standardized=bool(hygiene.standardized),
                   mean=None if hygiene.mean is None else hygiene.mean.detach().float().cpu(),
                   std=None if hygiene.std is None else hygiene.std.detach().float().cpu(),
                   granularity=getattr(source, "granularity", None), split_point=getattr(source, "split_point", None))

    @property
    def active(self) -> bool:
        """Whether it changes anything: an outlier rule, excluded positions or standardisation."""
        return self.factor is not None or self.exclude_description is not None or self.standardized

    def summary(self) -> str:
        """One line, e.g. ``outlier tokens (norm > 10 x its text's median) left out; standardised``."""
        parts = []
        if self.factor is not None:
            parts.append(f"outlier tokens (norm > {self.factor:g} x its text's median) left out")
        if self.exclude_description is not None:
            parts.append(f"positions {self.exclude_description} left out")
        if self.standardized:
            parts.append("units standardised")
        return "; ".join(parts) or "no hygiene (every token kept, raw units)"

    # -- applying ---------------------------------------------------------------------------------
    def excluded(self, norms: np.ndarray, reference: np.ndarray, tokens: list[str],
                 candidates: np.ndarray | None = None) -> set[int]:
        """Positions of one text left out: the asked positions, and the outliers among ``candidates``
        (default ``reference``) judged against the median norm over ``reference``.

        ``norms``: the norm of each of the text's positions at the split point; ``reference``: its
        non-special positions; ``tokens``: its token strings (for a callable ``exclude_positions``).
        Scoring passes every position as a candidate: a special token (a BOS carrying the attention
        sink) is no row of the learner, and an outlier one is left out too.
        """
        from ._activations import _excluded_positions

        out: set[int] = set()
        if self.exclude_description is not None:
            if self.exclude_positions is None:
                raise InputError(
                    f"the learner was fitted on activations that left out positions {self.exclude_description} "
                    "by a rule not kept with it (a callable is saved by its name only): pass hygiene= (the "
                    "Activations it was fitted on, or hygiene=False to score every position)")
            out |= _excluded_positions(self.exclude_positions, _Tokens(tokens))
        out |= {int(p) for p in outlier_positions(norms, reference, self.factor, candidates)}
        return out

    def standardise(self, x: torch.Tensor) -> torch.Tensor:
        """``(x - mean) / std`` when the rows were standardised, else ``x``."""
        if not self.standardized or self.mean is None or self.std is None:
            return x
        return (x - self.mean.to(x.device, x.dtype)) / self.std.to(x.device, x.dtype)

    def unstandardise(self, x: torch.Tensor) -> torch.Tensor:
        """The inverse of :meth:`standardise`: ``x * std + mean``."""
        if not self.standardized or self.mean is None or self.std is None:
            return x
        return x * self.std.to(x.device, x.dtype) + self.mean.to(x.device, x.dtype)

    # -- saving -----------------------------------------------------------------------------------
    def to_config(self) -> dict[str, Any]:
        """JSON-able settings (the statistics go to :meth:`tensors`). A callable ``exclude_positions``
        is saved by its description only (``restorable: false``)."""
        positions = self.exclude_positions
        return {"factor": self.factor,
                "exclude_positions": list(positions) if isinstance(positions, tuple) else None,
                "exclude_description": self.exclude_description,
                "restorable": not callable(positions), "standardized": self.standardized,
                "granularity": self.granularity, "split_point": self.split_point}

    def tensors(self) -> dict[str, torch.Tensor]:
        """The standardisation statistics, ``{"mean": (H,), "std": (H,)}`` (empty when not standardised)."""
        if not self.standardized or self.mean is None or self.std is None:
            return {}
        return {"mean": self.mean.detach().float().cpu().contiguous(),
                "std": self.std.detach().float().cpu().contiguous()}

    @classmethod
    def from_config(cls, config: Any, tensors: dict[str, torch.Tensor], *, hidden: int, where: str) -> HygieneRule:
        """The rule saved by :meth:`to_config` / :meth:`tensors`, checked; ``InputError`` naming ``where``."""
        if not isinstance(config, dict):
            raise InputError(f"{where}: 'hygiene' is {type(config).__name__}, expected an object")
        factor = config.get("factor")
        if factor is not None and (isinstance(factor, bool) or not isinstance(factor, int | float) or not factor > 1):
            raise InputError(f"{where}: hygiene 'factor' must be a number above 1 or null, got {factor!r}")
        positions = config.get("exclude_positions")
        if positions is not None and (not isinstance(positions, list) or not all(
                isinstance(p, int) and not isinstance(p, bool) for p in positions)):
            raise InputError(f"{where}: hygiene 'exclude_positions' must be a list of integers or null")
        description = config.get("exclude_description")
        if description is not None and not isinstance(description, str):
            raise InputError(f"{where}: hygiene 'exclude_description' must be a string or null")
        if positions is not None and description is None:
            raise InputError(f"{where}: hygiene names exclude_positions but no exclude_description")
        standardized = config.get("standardized", False)
        if not isinstance(standardized, bool):
            raise InputError(f"{where}: hygiene 'standardized' must be true or false, got {standardized!r}")
        for key in ("granularity", "split_point"):
            if config.get(key) is not None and not isinstance(config[key], str):
                raise InputError(f"{where}: hygiene {key!r} must be a string or null")
        mean = std = None
        if standardized:
            mean, std = tensors.get("mean"), tensors.get("std")
            if mean is None or std is None:
                raise InputError(f"{where}: hygiene says standardized but the weights hold no hygiene mean / std")
            if tuple(mean.shape) != (hidden,) or tuple(std.shape) != (hidden,):
                raise InputError(f"{where}: hygiene mean / std have shapes {tuple(mean.shape)} / {tuple(std.shape)}, "
                                 f"expected ({hidden},)")
            if not bool((std > 0).all()):
                raise InputError(f"{where}: hygiene std holds values <= 0")
            mean, std = mean.float(), std.float()
        return cls(factor=None if factor is None else float(factor),
                   exclude_positions=None if positions is None else tuple(positions),
                   exclude_description=description, standardized=standardized, mean=mean, std=std,
                   granularity=config.get("granularity"), split_point=config.get("split_point"))


class _Tokens:
    """The part of an encoding ``_excluded_positions`` reads: ``input_ids`` (its length) and ``tokens``."""

    def __init__(self, tokens: list[str]) -> None:
        self.tokens = list(tokens)
        self.input_ids = self.tokens


def resolve_hygiene(hygiene: Any, learner: Any) -> HygieneRule | None:
    """The rule to apply: ``hygiene=None`` the learner's own (``learner.hygiene``; None for a learner
    saved before it was recorded), ``False`` none (raw hidden states at every position), or an
    ``Activations`` / ``ActivationHygiene`` / :class:`HygieneRule` to apply instead."""
    if hygiene is None:
        rule = getattr(learner, "hygiene", None)
        return rule if isinstance(rule, HygieneRule) else HygieneRule.of(rule)
    if hygiene is False:
        return None
    if hygiene is True:
        raise InputError("hygiene=True is ambiguous: pass None (the learner's own), False (none), or the "
                         "Activations the learner was fitted on")
    rule = HygieneRule.of(hygiene)
    if rule is None:
        raise InputError(f"hygiene must be None, False, an Activations, an ActivationHygiene or a HygieneRule, "
                         f"got {type(hygiene).__name__}")
    return rule

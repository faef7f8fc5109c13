"""Constructor parameter checks of the built-in parts: one clear ``InputError`` naming the part and
the parameter, never a NaN that passes a comparison (``nan < 0`` is False) or a raw TypeError later."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from interpreto_core.plugin import InputError

__all__ = ["count", "flag", "number"]


def count(part: str, name: str, value: Any, minimum: int = 1) -> int:
    """``value`` as an ``int`` >= ``minimum`` (numpy integers accepted; bools and floats refused)."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise InputError(f"{part}: {name} must be an integer >= {minimum}, got {value!r} ({type(value).__name__})")
    if value < minimum:
        raise InputError(f"{part}: {name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def flag(part: str, name: str, value: Any) -> bool:
    """``value`` as a ``bool`` (numpy bools accepted; ``"false"`` or 0 are refused, not read as True)."""
    if not isinstance(value, bool | np.bool_):
        raise InputError(f"{part}: {name} must be True or False, got {value!r} ({type(value).__name__})")
    return bool(value)


def number(part: str, name: str, value: Any, *, minimum: float = 0.0, strict: bool = False) -> float:
    """``value`` as a finite ``float`` >= ``minimum`` (> when ``strict``); NaN and inf are refused."""
    bound = f"{'>' if strict else '>='} {minimum:g}"
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise InputError(f"{part}: {name} must be a finite number {bound}, got {value!r} ({type(value).__name__})")
    x = float(value)
    if not math.isfinite(x) or x < minimum or (strict and x == minimum):
        raise InputError(f"{part}: {name} must be a finite number {bound}, got {value!r}")
    return x

"""Exceptions: each says what was wrong and what to do."""

from __future__ import annotations

import difflib
from collections.abc import Iterable

__all__ = [
    "InterpretoError",
    "PluginLoadError",
    "UnknownNameError",
    "AmbiguousNameError",
    "InvalidPartError",
    "UnknownParameterError",
    "InputError",
    "PipelineError",
]


class InterpretoError(Exception):
    """Base class of every error raised by interpreto_core."""


class PluginLoadError(InterpretoError):
    """A plugin could not be loaded (raised only in strict mode)."""


class InvalidPartError(InterpretoError):
    """A plugin registered something that does not honour the contract of its kind."""


class InputError(InterpretoError, ValueError):
    """Bad input from the user: empty text, target out of range, wrong model kind, ..."""


class PipelineError(InterpretoError, ValueError):
    """A pipeline file is invalid: the message names the file, the key and the choices."""


class UnknownParameterError(InterpretoError, TypeError):
    """A part was given parameters it does not take."""


class UnknownNameError(InterpretoError, KeyError):
    """No part of that kind has that name."""

    def __init__(self, kind: str, name: str, available: Iterable[str], hint: str = "") -> None:
        self.kind, self.name = kind, name
        self.available = ordered_suggestions(name, available)
        listing = ", ".join(self.available) if self.available else "none (no plugin provides this kind)"
        msg = f"unknown {kind} {name!r}; available: {listing}"
        if hint:
            msg += f". {hint}"
        super().__init__(msg)

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


class AmbiguousNameError(InterpretoError, KeyError):
    """Several plugins registered the same name for one kind."""

    def __str__(self) -> str:
        return str(self.args[0])


def ordered_suggestions(name: str, available: Iterable[str]) -> list[str]:
    """Available names with the close matches to ``name`` first, then the rest sorted."""
    names = sorted(set(available))
    close = difflib.get_close_matches(name, names, n=5, cutoff=0.5)
    close += [n for n in names if name and (name in n or n in name) and n not in close]
    return close + [n for n in names if n not in close]

"""Whole data sets: read them, explain them to disk resumably, collect activations to shards.

Names load on first access (most need torch), so importing this package stays light.
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY = {
    "Row": "._read",
    "BadRow": "._read",
    "read_rows": "._read",
    "explain_dataset": "._explain",
    "read_results": "._explain",
    "DatasetRun": "._explain",
    "BadRowWarning": "._explain",
    "collect_activation_shards": "._shards",
    "ActivationShards": "._shards",
    "fit_from_shards": "._shards",
    "read_texts": "._shards",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name], __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'interpreto_core.dataset' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)

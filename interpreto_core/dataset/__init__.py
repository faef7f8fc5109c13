"""Whole data sets: read them, explain them to disk resumably, collect activations to shards.

Names load on first access (most need torch), so importing this package stays light.
"""

from __future__ import annotations

from .._lazy import lazy_attributes as _lazy_attributes

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
    "explain_dataset_ray": "._ray",
    "load_model": "._ray",
}

__all__ = sorted(_LAZY)


__getattr__, __dir__ = _lazy_attributes(__name__, _LAZY, __all__)

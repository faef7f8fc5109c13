"""Old home of the Ray data-set runner, now :mod:`interpreto_core.dataset._ray`.

``from interpreto_core.distributed import explain_dataset_ray`` keeps working; new code imports
``explain_dataset_ray`` from :mod:`interpreto_core.dataset`.
"""

from __future__ import annotations

from .dataset._ray import explain_dataset_ray, load_model

__all__ = ["explain_dataset_ray", "load_model"]

"""Old name of :mod:`interpreto_core.zoo` (the real models and data sets), kept for old code.

``import interpreto_core.embedded`` gives the ``zoo`` module itself (an alias in ``sys.modules``), so
every name, private ones included, and every monkeypatch stay shared between the two names.
"""

from __future__ import annotations

import sys

from . import zoo

sys.modules[__name__] = zoo

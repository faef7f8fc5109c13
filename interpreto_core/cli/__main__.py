"""``python -m interpreto_core.cli``: the ``interpreto`` command."""

import sys

from . import main

sys.exit(main())

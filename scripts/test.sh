#!/usr/bin/env bash
# The README's test command: set up .venv if needed, then run the default test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
EXTRAS=test,ray bash scripts/setup.sh
. .venv/bin/activate
# lint and types first (seconds): ruff + mypy, see docs/design.md; LINT=0 skips them
if [ "${LINT:-1}" != 0 ]; then bash scripts/lint.sh; fi
# the Ray end-to-end test (a local 2-CPU Ray instance; ~1 min) runs here too
INTERPRETO_RAY_TESTS=${INTERPRETO_RAY_TESTS:-1} python -m pytest -q "$@"

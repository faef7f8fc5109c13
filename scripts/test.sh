#!/usr/bin/env bash
# The README's test command: set up .venv if needed, then run the default test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
. .venv/bin/activate
python -m pytest -q "$@"

#!/usr/bin/env bash
# The README's first command: set up .venv if needed, then run the demo (writes interpreto-demo/report.html).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
. .venv/bin/activate
interpreto demo "$@"

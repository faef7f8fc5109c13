#!/usr/bin/env bash
# Lint (ruff, the rule set argued in docs/design.md) and types (mypy over interpreto_core) in .venv.
set -euo pipefail
cd "$(dirname "$0")/.."
. .venv/bin/activate
ruff check .
mypy

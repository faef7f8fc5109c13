#!/usr/bin/env bash
# Create .venv and install interpreto-core (editable) with the test tools and the contrib plugins.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
. .venv/bin/activate
python -m pip install -q --upgrade pip
# torch 2.14.1 + torchvision 0.29.1 are pinned in pyproject.toml (never a newer torch from the registry).
# EXTRAS: optional dependency groups (scripts/test.sh adds "ray" so that the Ray path is tested too).
python -m pip install -q -e ".[${EXTRAS:-test}]" ./contrib/interpreto-example ./contrib/interpreto-similarity

#!/usr/bin/env bash
# Create or update .venv with the project and its exact pinned stack (requirements/constraints.txt).
# Safe to re-run: a second run only checks that everything is installed (a few seconds).
set -euo pipefail
cd "$(dirname "$0")/.."
python_bin=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    "$python_bin" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check \
    -c requirements/constraints.txt -e ".[dev]"

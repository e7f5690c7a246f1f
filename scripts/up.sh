#!/usr/bin/env bash
# The main job, from nothing: install Groundswell into .venv, create the store, and run the
# collectors and the dashboard (http://localhost:8501). With no sources configured it loads
# the offline demo conversation and replays it live. Extra arguments go to `groundswell up`.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e .
exec .venv/bin/groundswell up "$@"

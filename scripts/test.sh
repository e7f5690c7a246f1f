#!/usr/bin/env bash
# The whole test suite, from nothing: a virtual environment in .venv with Groundswell and its
# test tools, then pytest (SQLite and PostgreSQL storage tests, local protocol servers, AppTest
# and real-browser dashboard tests). Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
exec .venv/bin/python -m pytest "$@"

#!/usr/bin/env bash
# The whole test suite, from nothing: a virtual environment in .venv with Groundswell and its
# test tools, then pytest (SQLite and PostgreSQL storage tests, local protocol servers, AppTest
# and real-browser dashboard tests). Extra arguments go to pytest, after ours, so they win:
#   ./scripts/test.sh tests/test_write_path.py     one file (still on the workers)
#   ./scripts/test.sh -n 0 -x tests/browser        serially, stopping at the first failure
# The tests run on pytest-xdist workers, one per core by default (GROUNDSWELL_TEST_WORKERS sets
# another number; 0 runs them in this process). --dist loadgroup: tests marked
# @pytest.mark.xdist_group(name) share one worker. docs/development.md says more.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
exec .venv/bin/python -m pytest -n "${GROUNDSWELL_TEST_WORKERS:-auto}" --dist loadgroup "$@"

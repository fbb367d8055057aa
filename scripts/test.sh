#!/usr/bin/env bash
# Install Lokaal Sparen with its test tools into .venv and run the whole test suite.
#
#   ./scripts/test.sh                      # on SQLite (a temporary file)
#   TEST_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/test ./scripts/test.sh
#                                          # on PostgreSQL: a fresh database is made
#                                          # on that server for the run and dropped after
# Extra arguments go to pytest, e.g. ./scripts/test.sh tests/api -x
#
# The browser tests drive Debian's chromium (/usr/bin/chromium) and the proxy
# tests Debian's caddy; both are installed with apt-get when missing (as root,
# or through sudo).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/caddy ]; then
  echo "installing Debian's chromium and caddy for the browser and proxy tests ..."
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium fonts-dejavu-core caddy >/dev/null
fi
# LOYALTY_TESTS_INSTALLED=1 skips the install (.ci/run installs once, then runs
# the SQLite and PostgreSQL suites side by side).
if [ -z "${LOYALTY_TESTS_INSTALLED:-}" ]; then
  if [ ! -x .venv/bin/python ]; then
    python3 -m venv .venv
  fi
  .venv/bin/python -m pip install --quiet --upgrade pip
  .venv/bin/python -m pip install --quiet -e '.[dev]'
  .venv/bin/pybabel compile -d loyalty/translations >/dev/null
fi
exec .venv/bin/python -m pytest "$@"

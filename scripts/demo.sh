#!/usr/bin/env bash
# Install Lokaal Sparen into .venv and run the Sint-Gillis-Waas demo on SQLite
# (instance/loyalty.db) at http://127.0.0.1:5000. Arguments go to `loyalty demo`,
# e.g. ./scripts/demo.sh --port 8000
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e .
.venv/bin/pybabel compile -d loyalty/translations >/dev/null
exec .venv/bin/loyalty demo "$@"

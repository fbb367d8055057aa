#!/usr/bin/env bash
# Collect every translatable text into loyalty/translations/messages.pot and
# merge it into the nl, fr and en catalogues; translators then fill the empty
# msgstr entries. The install scripts compile the catalogues.
#
#   ./scripts/update_translations.sh
set -euo pipefail
cd "$(dirname "$0")/.."
.venv/bin/pybabel extract -F babel.cfg -k _l -k lazy_gettext --no-location --sort-output \
  --project "Lokaal Sparen" -o loyalty/translations/messages.pot \
  consumer_web merchant_portal municipality_dashboard loyalty lokaal_sparen
.venv/bin/pybabel update -i loyalty/translations/messages.pot -d loyalty/translations --no-fuzzy-matching
.venv/bin/pybabel compile -d loyalty/translations --statistics

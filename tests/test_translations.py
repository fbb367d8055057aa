"""Every message of the pages, e-mails and errors is translated to Dutch and French."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[1]
TRANSLATIONS = ROOT / "loyalty" / "translations"


@pytest.fixture(scope="module")
def source_messages(tmp_path_factory: pytest.TempPathFactory) -> set[tuple[str | None, str]]:
    """The messages in the code now (not the committed .pot, which may be stale)."""
    pot = tmp_path_factory.mktemp("pot") / "messages.pot"
    subprocess.run(
        [sys.executable, "-m", "babel.messages.frontend", "extract", "-F", "babel.cfg",
         "-k", "_l", "-k", "lazy_gettext", "-o", str(pot), "--no-location",
         "consumer_web", "merchant_portal", "municipality_dashboard", "loyalty",
         "lokaal_sparen"],
        cwd=ROOT, check=True, capture_output=True,
    )
    with pot.open("rb") as f:
        # A message is its context and its text: "Change" (a button) and "Change"
        # (a percentage, in context) are translated apart.
        return {(m.context, m.id if isinstance(m.id, str) else m.id[0])
                for m in read_po(f) if m.id}


@pytest.mark.parametrize("lang", ["nl", "fr"])
def test_every_message_has_a_translation(
    lang: str, source_messages: set[tuple[str | None, str]]
) -> None:
    with (TRANSLATIONS / lang / "LC_MESSAGES" / "messages.po").open("rb") as f:
        catalog = read_po(f, locale=lang)
    done = set()
    for message in catalog:
        if not message.id or message.fuzzy:
            continue
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        if all(strings):
            done.add((message.context,
                      message.id if isinstance(message.id, str) else message.id[0]))
    missing = sorted(source_messages - done)
    assert not missing, f"{len(missing)} messages without a {lang} translation: {missing[:10]}"

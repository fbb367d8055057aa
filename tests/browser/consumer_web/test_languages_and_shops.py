"""Dutch, French and English, chosen by the browser or the footer; the shop list."""

from __future__ import annotations

from playwright.sync_api import expect
from sqlalchemy.orm import Session

from tests.browser.consumer_web.conftest import NewPhone
from tests.browser.consumer_web.flows import collect
from tests.browser.consumer_web.phone import TRANSLATIONS, Phone, Words
from tests.conftest import LiveServer
from tests.factories import make_scheme, make_shop

# Headings on the pages of this test that must differ from the English text.
HEADINGS = ("Where you save and spend", "Save points in your local shops")
SWITCH = {"nl": "Nederlands", "fr": "Français", "en": "English"}


def _compiled(lang: str) -> None:
    po = TRANSLATIONS / lang / "LC_MESSAGES" / "messages.po"
    mo = po.with_suffix(".mo")
    assert mo.exists() and mo.stat().st_mtime >= po.stat().st_mtime, (
        f"{mo} is missing or older than its .po: "
        "run .venv/bin/pybabel compile -d loyalty/translations"
    )


def test_the_browser_language_chooses_dutch_french_or_english(
    new_phone: NewPhone, live_server: LiveServer
) -> None:
    for lang in ("nl", "fr"):
        _compiled(lang)
        untranslated = [h for h in HEADINGS if Words(lang)(h) == h]
        assert not untranslated, f"no {lang} translation for {untranslated}"

    for lang in ("nl", "fr", "en"):
        phone = new_phone(lang)
        page, w = phone.page, phone.words
        phone.goto("/")
        expect(page.locator("html")).to_have_attribute("lang", lang)
        expect(page.locator("h1")).to_have_text(w("Save points in your local shops"))
        expect(page.get_by_role("link", name=SWITCH[lang])).to_have_attribute(
            "aria-current", "true"
        )
        phone.goto("/shops")
        expect(page.locator("h1")).to_have_text(w("Where you save and spend"))
        if lang != "nl":
            phone.check(f"shops-{lang}")


def test_the_footer_switch_changes_the_language(phone: Phone, live_server: LiveServer) -> None:
    page = phone.page
    phone.goto("/shops")
    expect(page.locator("html")).to_have_attribute("lang", "nl")
    for lang in ("en", "fr", "nl"):
        w = Words(lang)
        page.get_by_role("navigation", name=phone.words("Language")).get_by_role(
            "link", name=SWITCH[lang]
        ).click()
        expect(page.locator("html")).to_have_attribute("lang", lang)
        expect(page.locator("h1")).to_have_text(w("Where you save and spend"))
        assert page.url.startswith(live_server.url + "/shops")
        # The choice is remembered on the next page.
        phone.goto("/")
        expect(page.locator("h1")).to_have_text(w("Save points in your local shops"))
        phone.words = w
        phone.goto("/shops")


def test_shops_lists_the_wallets_shops_with_search_and_sector(
    phone: Phone, session: Session, live_server: LiveServer
) -> None:
    page, w = phone.page, phone.words
    scheme = make_scheme(session)
    bakery = make_shop(session, scheme, name="Bakkerij De Smet", sector="47.24",
                       address="Kerkstraat 1")
    bakery.merchant.opening_hours = "di-za 6:30-18:00, zo 7:00-12:30"
    make_shop(session, scheme, name="Boekhandel Het Anker", sector="47.61", address="Markt 3")
    make_shop(session, name="Winkel in een andere gemeente")
    collect(phone, make_shop(session, scheme, name="Slagerij Van Hecke", sector="47.22"), 1000)

    phone.goto("/shops")
    # In the menu: the footer also links "Terms for shops".
    menu = page.get_by_role("navigation", name=w("Main"))
    expect(menu.get_by_role("link", name=w("Shops"))).to_have_attribute("aria-current", "page")
    names = page.locator("ul.shops h2")
    expect(names).to_have_text(["Bakkerij De Smet", "Boekhandel Het Anker", "Slagerij Van Hecke"])
    found = page.locator("p.hint[role=status]")
    expect(found).to_have_text(w.ngettext("%(num)d shop", "%(num)d shops", 3))
    phone.check("shops-nl")
    # A short sector name, not the official NACE-BEL label; the door's hours as
    # the shop typed them, in the reader's language.
    card = page.locator("li.card", has_text="Bakkerij De Smet")
    expect(card.locator("p.sector")).to_have_text({"nl": "Brood en banket",
                                                   "fr": "Boulangerie et confiserie",
                                                   "en": "Bakery and sweets"}[phone.lang])
    expect(card).to_contain_text({"nl": "di–za 6:30–18:00, zo 7:00–12:30",
                                  "fr": "mar.–sam. 6:30–18:00, dim. 7:00–12:30",
                                  "en": "Tue–Sat 6:30–18:00, Sun 7:00–12:30"}[phone.lang])

    page.get_by_label(w("Search")).fill("anker")
    page.get_by_role("button", name=w("Show")).click()
    expect(names).to_have_text(["Boekhandel Het Anker"])
    expect(found).to_have_text(w.ngettext("%(num)d shop", "%(num)d shops", 1))

    page.get_by_label(w("Search")).fill("")
    page.get_by_label(w("Sector")).select_option("47.24")
    page.get_by_role("button", name=w("Show")).click()
    expect(names).to_have_text(["Bakkerij De Smet"])

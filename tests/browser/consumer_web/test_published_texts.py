"""A published text on a shopper's phone: reached from the footer after collecting,
in the phone's language, a long text with a long address and markup fits the
screen, and axe-core finds nothing serious."""

from __future__ import annotations

import re

from playwright.sync_api import expect
from sqlalchemy.orm import Session

from loyalty.town import published_texts
from tests.browser.consumer_web.flows import collect
from tests.browser.consumer_web.phone import Phone
from tests.factories import make_scheme, make_shop


def test_the_rules_and_a_long_privacy_notice_on_a_phone(phone: Phone, session: Session) -> None:
    scheme = make_scheme(session, validity_months=18)
    slug = scheme.slug
    long_body = "\n\n".join([
        "# Privacy bij <script>alert('x')</script> de gemeente",
        "Contact: https://www.sint-gillis-waas.example/bestuur/privacy/"
        "gegevensbeschermingsfunctionaris-en-verwerkingsregister-van-de-gemeente",
        "- eerste punt\n- tweede punt",
        *("Een alinea die lang genoeg is om de hele breedte te vullen en verder. " * 12
          for _ in range(15)),
    ])
    published_texts.publish(session, scheme, None, "privacy", "nl", long_body, based_on=0)
    session.commit()
    shop = make_shop(session, scheme)
    page, w = phone.page, phone.words

    collect(phone, shop, 1250)  # the phone's wallet: its scheme's texts in the footer
    phone.goto("/")
    page.get_by_role("navigation", name=w("The savings scheme")).get_by_role(
        "link", name=w("Rules")).click()
    expect(page.locator("h1")).to_have_text(w("Rules of the savings scheme"))
    expect(page.locator("main")).to_contain_text("18 maanden geldig")
    phone.check("published-rules-nl")

    phone.goto(f"/privacy/{slug}")
    expect(page.get_by_role("heading", level=2).first).to_have_text(
        "Privacy bij <script>alert('x')</script> de gemeente")
    expect(page.locator(".published-text li")).to_have_count(2)
    phone.check("published-privacy-long-nl")


def test_the_open_data_page_on_a_phone(phone: Phone, session: Session) -> None:
    """The open-data page of a publishing town fits a phone and passes axe, before its
    first month is complete."""
    scheme = make_scheme(session)
    scheme.open_data = True
    session.commit()
    page, w = phone.page, phone.words
    phone.goto(f"/open-data/{scheme.slug}")
    expect(page.locator("h1")).to_have_text(w("Open data of %(municipality)s",
                                              municipality=scheme.name))
    # The hidden part of the name is its own box: Chromium names it "CSV : ...".
    expect(page.get_by_role(
        "link", name=re.compile(rf"^CSV\s*:\s*{re.escape(w('Per sector group'))}$"))
    ).to_be_visible()
    phone.check("open-data-nl")

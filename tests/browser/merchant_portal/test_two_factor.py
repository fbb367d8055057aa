"""Two-factor sign-in in Chromium: a new shop owner scans the QR code on the page,
confirms a code, keeps the recovery codes and reaches the till; next time the code
page asks for a code, which a remembered tablet then skips."""

from __future__ import annotations

import pyotp
from playwright.sync_api import expect
from sqlalchemy.orm import Session

from loyalty.models import Role
from tests.browser.merchant_portal.conftest import NewTablet
from tests.factories import PASSWORD, make_scheme, make_shop, make_user
from tests.qrdecode import decode_svg


def test_a_new_owner_enrols_by_scanning_the_qr_code(
    new_tablet: NewTablet, session: Session
) -> None:
    scheme = make_scheme(session)
    shop = make_shop(session, scheme, name="Fietsen Verstraete")
    email = make_user(session, scheme, Role.MERCHANT_OWNER, shop.merchant, enrolled=False).email
    session.rollback()  # no open read: the live server writes

    tablet = new_tablet("en")
    tablet.sign_in(email)
    assert tablet.page.url.endswith("/account/two-factor")
    picture = tablet.page.locator(".totp-qr svg")
    expect(picture).to_be_visible()
    [uri] = decode_svg(picture.evaluate("svg => svg.outerHTML"))
    phone = pyotp.parse_uri(uri)
    assert isinstance(phone, pyotp.TOTP) and phone.name == email
    expect(tablet.page.locator(".totp-secret")).to_have_text(phone.secret)
    tablet.check("two-factor-enrol")

    tablet.page.get_by_label("The 6-digit code the app shows").fill(phone.now())
    tablet.submit(tablet.page.get_by_role("button", name="Confirm"))
    expect(tablet.page.locator(".recovery-codes li")).to_have_count(10)
    tablet.check("two-factor-recovery-codes")
    tablet.submit(tablet.page.get_by_role("link", name="I have kept them: continue"))
    assert tablet.page.url.endswith("/portal/till")

    # Signed out; signing in again asks for a code. This tablet is remembered.
    tablet.submit(tablet.page.get_by_role("button", name="Sign out"))
    tablet.page.locator("input[name=email]").fill(email)
    tablet.page.locator("input[name=password]").fill(PASSWORD)
    tablet.submit(tablet.page.locator("form button[type=submit]"))
    assert tablet.page.url.endswith("/login/code")
    tablet.check("two-factor-code")
    tablet.page.get_by_label("Code", exact=True).fill(tablet.code_for(email))
    tablet.page.get_by_label("Remember this device for 30 days").check()
    tablet.submit(tablet.page.get_by_role("button", name="Sign in"))
    assert tablet.page.url.endswith("/portal/till")
    tablet.submit(tablet.page.get_by_role("button", name="Sign out"))
    tablet.sign_in(email)
    assert tablet.page.url.endswith("/portal/till")  # no code asked on this tablet

"""Two-factor sign-in of staff: enrolment by QR code, the code step, recovery codes
and remembered browsers (loyalty.access.totp, loyalty.web.signin.views)."""

from __future__ import annotations

import itertools
import re
import threading
import time
from datetime import timedelta
from urllib.parse import urlsplit

import pyotp
import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from loyalty.access import staff, totp
from loyalty.infra.db import utcnow
from loyalty.models import RecoveryCode, Role, StaffSession, StaffUser, TrustedDevice
from tests.conftest import count
from tests.factories import PASSWORD, make_scheme, make_shop, make_user, otp
from tests.forms import csrf
from tests.qrdecode import decode_svg

_addresses = (f"198.51.100.{n}" for n in itertools.count(1))
SVG = re.compile(r"<svg .*?</svg>", re.S)
RECOVERY = re.compile(r"<code>([A-Z2-9]{4}-[A-Z2-9]{4}-[A-Z2-9]{4}-[A-Z2-9]{4})</code>")


def _client(app: Flask) -> FlaskClient:
    client = app.test_client()
    client.set_cookie("lang", "en")
    # Each client guesses from an address of its own: the throttle counts per address too.
    client.environ_base["REMOTE_ADDR"] = next(_addresses)
    return client


def _password(client: FlaskClient, email: str, **extra: str) -> TestResponse:
    page = client.get("/login")
    return client.post(
        "/login",
        data={"csrf_token": csrf(page.get_data(as_text=True)), "email": email,
              "password": PASSWORD, **extra},
    )


def _code(client: FlaskClient, code: str, **extra: str) -> TestResponse:
    page = client.get("/login/code")
    assert page.status_code == 200, page.status_code
    return client.post(
        "/login/code",
        data={"csrf_token": csrf(page.get_data(as_text=True)), "code": code, **extra},
    )


def _path(response: TestResponse) -> str:
    assert response.status_code in (302, 303), response.status_code
    return urlsplit(response.headers["Location"]).path


def _owner(session: Session, **kw: bool) -> StaffUser:
    scheme = make_scheme(session)
    return make_user(session, scheme, Role.MERCHANT_OWNER, make_shop(session, scheme).merchant,
                     **kw)


def _sessions(session: Session, user: StaffUser) -> int:
    session.rollback()
    return count(session, sa.select(StaffSession).where(StaffSession.user_id == user.id))


def test_enrol_by_scanning_the_qr_code_then_sign_in_with_the_code(
    app: Flask, session: Session
) -> None:
    owner = _owner(session, enrolled=False)
    client = _client(app)
    assert _path(_password(client, owner.email)) == "/account/two-factor"
    # Half signed in: nothing else opens, and there is no session record.
    assert _path(client.get("/portal/till")) == "/login"
    assert _path(client.get("/login/code")) == "/account/two-factor"
    assert _sessions(session, owner) == 0

    page = client.get("/account/two-factor")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "Scan this QR code" in html
    [uri] = decode_svg(SVG.search(html).group(0))  # type: ignore[union-attr]
    assert uri.startswith("otpauth://totp/Lokaal%20Sparen:") and "issuer=Lokaal%20Sparen" in uri
    phone = pyotp.parse_uri(uri)
    assert isinstance(phone, pyotp.TOTP) and phone.name == owner.email
    assert f'<code class="totp-secret">{phone.secret}</code>' in html  # the key as text too
    # Reloading the page shows the same key: the phone already scanned it.
    assert phone.secret in client.get("/account/two-factor").get_data(as_text=True)

    wrong = client.post("/account/two-factor",
                        data={"csrf_token": csrf(html), "code": "000000"
                              if phone.now() != "000000" else "111111"})
    assert wrong.status_code == 401 and "wrong or already used" in wrong.get_data(as_text=True)
    assert _sessions(session, owner) == 0

    first_code = phone.now()
    done = client.post("/account/two-factor", data={"csrf_token": csrf(html), "code": first_code})
    assert done.status_code == 200
    codes = RECOVERY.findall(done.get_data(as_text=True))
    assert len(set(codes)) == 10
    assert client.get("/portal/till").status_code == 200  # signed in now
    assert _sessions(session, owner) == 1
    stored = set(session.scalars(
        sa.select(RecoveryCode.code_hash).where(RecoveryCode.user_id == owner.id)))
    assert len(stored) == 10 and not stored & {c.replace("-", "") for c in codes}
    assert session.get_one(StaffUser, owner.id).totp_enrolled_at is not None

    # Next time: the password, then a code. The code used to enrol is spent.
    again = _client(app)
    assert _path(_password(again, owner.email)) == "/login/code"
    assert _path(again.get("/portal/till")) == "/login"
    assert _code(again, first_code).status_code == 401
    step = int(time.time()) // totp.STEP_SECONDS + 1
    assert _path(_code(again, phone.generate_otp(step))) == "/portal/till"
    assert again.get("/portal/till").status_code == 200


def test_admins_and_owners_must_enrol_analysts_and_cashiers_may(
    app: Flask, session: Session
) -> None:
    scheme = make_scheme(session)
    shop = make_shop(session, scheme)
    admin = make_user(session, scheme, Role.MUNICIPALITY_ADMIN, enrolled=False)
    analyst = make_user(session, scheme, Role.MUNICIPALITY_ANALYST)
    cashier = make_user(session, scheme, Role.CASHIER, shop.merchant)
    enrolled_cashier = make_user(session, scheme, Role.CASHIER, shop.merchant, enrolled=True)

    client = _client(app)
    assert _path(_password(client, admin.email)) == "/account/two-factor"
    for page in ("/dashboard/", "/dashboard/staff", "/account/password", "/portal/till"):
        assert _path(client.get(page)) == "/login", page
    assert _sessions(session, admin) == 0

    assert _path(_password(_client(app), analyst.email)) == "/dashboard/"
    assert _path(_password(_client(app), cashier.email)) == "/portal/till"
    # An analyst may enrol from the account page.
    reader = _client(app)
    _password(reader, analyst.email)
    assert "Not set up" in reader.get("/account/password").get_data(as_text=True)
    assert reader.get("/account/two-factor").status_code == 200
    # Once enrolled, the code is asked of a cashier too.
    till = _client(app)
    assert _path(_password(till, enrolled_cashier.email)) == "/login/code"
    assert _path(till.get("/portal/till")) == "/login"
    assert _path(_code(till, otp(app, enrolled_cashier.id))) == "/portal/till"


def test_the_half_sign_in_expires_and_dies_with_a_password_change(
    app: Flask, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    owner = _owner(session)
    client = _client(app)
    assert _path(_password(client, owner.email)) == "/login/code"
    later = time.time() + 601
    monkeypatch.setattr("loyalty.web.signin.views.time.time", lambda: later)
    assert _path(client.get("/login/code")) == "/login"
    monkeypatch.undo()

    assert _path(_password(client, owner.email)) == "/login/code"
    user = session.get_one(StaffUser, owner.id)
    from loyalty.access import staff

    staff.change_password(session, user, "een-ander-wachtwoord", utcnow())
    session.commit()
    assert _path(client.get("/login/code")) == "/login"


def test_wrong_codes_count_in_the_login_throttle(app: Flask, session: Session) -> None:
    owner = _owner(session)
    client = _client(app)
    assert _path(_password(client, owner.email)) == "/login/code"
    right = otp(app, owner.id)
    wrong = f"{(int(right) + 1) % 1_000_000:06d}"
    for _ in range(staff.FREE_FAILURES_PER_ACCOUNT):
        assert _code(client, wrong).status_code == 401
    # The account must wait, for the right code and for a new password step alike.
    assert _code(client, right).status_code == 429
    assert _password(_client(app), owner.email).status_code == 429
    assert _sessions(session, owner) == 0


def test_a_recovery_code_works_once(app: Flask, session: Session) -> None:
    owner = _owner(session, enrolled=False)
    codes = totp.enrol(session, owner, utcnow()).recovery_codes
    session.commit()
    client = _client(app)
    _password(client, owner.email)
    # Typed without dashes and in lower case, as people do.
    assert _path(_code(client, codes[0].replace("-", "").lower())) == "/portal/till"
    page = client.get("/account/two-factor").get_data(as_text=True)
    assert "You have 9 unused recovery codes." in page

    again = _client(app)
    _password(again, owner.email)
    assert _code(again, codes[0]).status_code == 401
    assert _path(_code(again, codes[1])) == "/portal/till"


def _verify_twice_at_once(app: Flask, user_id: int, code: str) -> list[str]:
    """What two sign-ins typing ``code`` at the same moment get: the kind of code
    accepted, or the name of the refusal."""
    factory = app.extensions["loyalty.sessions"]
    start = threading.Barrier(2)
    results: list[str] = []

    def sign_in() -> None:
        # Both start together; on SQLite the second then waits for the write lock.
        start.wait(timeout=10)
        with factory() as s:
            user = s.get_one(StaffUser, user_id)
            try:
                results.append(totp.verify(s, user, code, utcnow()))
                s.commit()
            except Exception as error:  # noqa: BLE001  (the loser's refusal is the point)
                s.rollback()
                results.append(type(error).__name__)

    threads = [threading.Thread(target=sign_in) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return sorted(results)


def test_two_sign_ins_with_one_recovery_code_at_once_let_one_in(
    app: Flask, session: Session
) -> None:
    owner = _owner(session, enrolled=False)
    code = totp.enrol(session, owner, utcnow()).recovery_codes[0]
    session.commit()
    assert _verify_twice_at_once(app, owner.id, code) == ["Unauthorized", "recovery"]
    assert totp.recovery_codes_left(session, session.get_one(StaffUser, owner.id)) == 9


def test_two_sign_ins_with_one_code_at_once_let_one_in(app: Flask, session: Session) -> None:
    owner = _owner(session)
    assert _verify_twice_at_once(app, owner.id, otp(app, owner.id)) == ["Unauthorized", "totp"]


def test_a_remembered_browser_skips_the_code_for_30_days(app: Flask, session: Session) -> None:
    owner, other = _owner(session), _owner(session)
    tablet = _client(app)
    _password(tablet, owner.email)
    done = _code(tablet, otp(app, owner.id), remember_device="y")
    assert _path(done) == "/portal/till"
    cookie = next(c for c in done.headers.getlist("Set-Cookie")
                  if c.startswith("staff_trusted_device="))
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Max-Age=2592000" in cookie
    assert "Secure" not in cookie  # plain http in this test; see the https test below
    token = cookie.split(";")[0].split("=", 1)[1]
    [device] = session.scalars(sa.select(TrustedDevice).where(TrustedDevice.user_id == owner.id))
    assert device.token_hash != token and device.expires_at - device.created_at == timedelta(
        days=30)

    # Signed out, and back in: the password is enough on this browser...
    tablet.delete_cookie("session")
    assert _path(_password(tablet, owner.email)) == "/portal/till"
    # ...not on another one, nor for someone else on this one.
    assert _path(_password(_client(app), owner.email)) == "/login/code"
    tablet.delete_cookie("session")
    assert _path(_password(tablet, other.email)) == "/login/code"

    # After 30 days the code is asked again.
    session.rollback()
    session.execute(sa.update(TrustedDevice).where(TrustedDevice.id == device.id)
                    .values(expires_at=utcnow() - timedelta(seconds=1)))
    session.commit()
    tablet.delete_cookie("session")
    assert _path(_password(tablet, owner.email)) == "/login/code"


def test_a_password_change_forgets_remembered_browsers(app: Flask, session: Session) -> None:
    owner = _owner(session)
    tablet = _client(app)
    _password(tablet, owner.email)
    _code(tablet, otp(app, owner.id), remember_device="y")
    page = tablet.get("/account/password").get_data(as_text=True)
    changed = tablet.post("/account/password", data={
        "csrf_token": csrf(page), "current": PASSWORD,
        "password": "een-nieuw-wachtwoord", "confirm": "een-nieuw-wachtwoord"})
    assert _path(changed) == "/login"
    assert count(session, sa.select(TrustedDevice).where(TrustedDevice.user_id == owner.id)) == 0
    page = tablet.get("/login").get_data(as_text=True)
    again = tablet.post("/login", data={"csrf_token": csrf(page), "email": owner.email,
                                        "password": "een-nieuw-wachtwoord"})
    assert _path(again) == "/login/code"


def test_the_remembered_browser_cookie_is_secure_behind_https(
    app: Flask, session: Session
) -> None:
    owner = _owner(session)
    client = _client(app)
    # Flask-WTF checks the Referer of a form posted over https.
    https = {"base_url": "https://sparen.example.be",
             "headers": {"Referer": "https://sparen.example.be/login"}}
    page = client.get("/login", **https).get_data(as_text=True)
    client.post("/login", data={"csrf_token": csrf(page), "email": owner.email,
                                "password": PASSWORD}, **https)
    page = client.get("/login/code", **https).get_data(as_text=True)
    done = client.post("/login/code", data={"csrf_token": csrf(page), "code": otp(app, owner.id),
                                            "remember_device": "y"}, **https)
    cookie = next(c for c in done.headers.getlist("Set-Cookie")
                  if c.startswith("staff_trusted_device="))
    assert "Secure" in cookie and "HttpOnly" in cookie

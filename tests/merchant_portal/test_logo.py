"""The shop's logo: uploaded by the owner, checked by content, served from our own host."""

from __future__ import annotations

import io
import re

from flask.testing import FlaskClient
from PIL import Image
from sqlalchemy.orm import Session

from loyalty.models import Role
from tests.factories import PASSWORD, make_scheme, make_shop, make_user
from tests.forms import csrf as _csrf
from tests.forms import signed_in


def _sign_in(client: FlaskClient, email: str) -> str:
    """Signed in; the CSRF token of the profile page."""
    signed_in(client, email)
    return _csrf(client.get("/portal/profile").get_data(as_text=True))


def _png(size: int = 64) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (size, size), (11, 93, 59)).save(buffer, format="PNG")
    return buffer.getvalue()


def _upload(client: FlaskClient, token: str, data: bytes, name: str = "logo.png"):  # type: ignore[no-untyped-def]
    return client.post(
        "/portal/profile/logo",
        data={"csrf_token": token, "logo": (io.BytesIO(data), name)},
        content_type="multipart/form-data",
    )


def test_owner_uploads_a_logo_that_shoppers_see(client: FlaskClient, session: Session) -> None:
    scheme = make_scheme(session)
    shop = make_shop(session, scheme, name="Bakkerij De Smet")
    owner = make_user(session, scheme, Role.MERCHANT_OWNER, shop.merchant)
    token = _sign_in(client, owner.email)
    logo = _png()

    assert _upload(client, token, logo).status_code == 303
    page = client.get("/portal/profile").get_data(as_text=True)
    match = re.search(r'src="(/shops/\d+/logo\?v=\d+)"', page)
    assert match, "the profile shows the logo"
    served = client.get(match.group(1))
    assert served.status_code == 200
    assert served.mimetype == "image/png" and served.data == logo

    # The shopper's directory shows it too, from the same host.
    shopper = client.application.test_client()  # the directory is public
    directory = shopper.get("/shops?q=Bakkerij").get_data(as_text=True)
    assert match.group(1).replace("&", "&amp;") in directory

    asked = client.post("/portal/profile/logo/remove", data={"csrf_token": token})
    assert asked.status_code == 200 and "Remove the logo?" in asked.get_data(as_text=True)
    assert client.get(match.group(1)).status_code == 200  # still there
    remove = client.post("/portal/profile/logo/remove",
                         data={"csrf_token": token, "confirmed": "1"})
    assert remove.status_code == 303
    assert client.get(match.group(1)).status_code == 404


def test_only_small_real_images_are_accepted(client: FlaskClient, session: Session) -> None:
    scheme = make_scheme(session)
    shop = make_shop(session, scheme)
    owner = make_user(session, scheme, Role.MERCHANT_OWNER, shop.merchant)
    token = _sign_in(client, owner.email)

    fake = _upload(client, token, b"<svg onload=alert(1)></svg>", "logo.png")
    assert fake.status_code == 422
    assert "must be a PNG, JPEG or WebP image" in fake.get_data(as_text=True)
    big = _upload(client, token, _png(1) + b"\0" * 200_001)
    assert big.status_code == 422
    assert "at most 200 kB" in big.get_data(as_text=True)
    missing = client.post(
        "/portal/profile/logo", data={"csrf_token": token}, content_type="multipart/form-data"
    )
    assert missing.status_code == 422
    no_token = client.post(
        "/portal/profile/logo",
        data={"logo": (io.BytesIO(_png()), "logo.png")},
        content_type="multipart/form-data",
    )
    assert no_token.status_code == 400  # CSRF protection refuses it before the view
    assert f"/shops/{shop.merchant.id}/logo" not in client.get("/portal/profile").get_data(
        as_text=True
    )


def test_a_cashier_cannot_change_the_logo(client: FlaskClient, session: Session) -> None:
    scheme = make_scheme(session)
    shop = make_shop(session, scheme)
    cashier = make_user(session, scheme, Role.CASHIER, shop.merchant)
    client.set_cookie("lang", "en")
    page = client.get("/login")
    client.post(
        "/login",
        data={
            "csrf_token": _csrf(page.get_data(as_text=True)),
            "email": cashier.email,
            "password": PASSWORD,
        },
    )
    token = _csrf(client.get("/portal/till").get_data(as_text=True))
    assert _upload(client, token, _png()).status_code == 403

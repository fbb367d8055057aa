"""Who reaches what: an analyst reads, only an admin administers; a municipality
sees nothing of another's shops, flags or staff (404, as if they did not exist)."""

from __future__ import annotations

from flask import Flask
from sqlalchemy.orm import Session

from loyalty.models import FraudFlag, MerchantStatus, Role, StaffUser
from tests.factories import bearer, make_merchant, make_user, staff_token
from tests.municipality_dashboard.conftest import (
    Municipality,
    audit_rows,
    html,
    make_municipality,
    post,
)
from tests.municipality_dashboard.fraud_data import DAY

ADMIN_PAGES = [
    "/dashboard/shops",
    "/dashboard/settings",
    "/dashboard/staff",
    "/dashboard/audit",
    "/dashboard/fraud",
]
READER_PAGES = ["/dashboard/", "/dashboard/compare"]


def _objects(session: Session, town: Municipality) -> tuple[int, int, int]:
    """A pending shop, an open flag and a third staff member of the town."""
    shop = make_merchant(session, town.scheme, status=MerchantStatus.PENDING)
    flag = FraudFlag(
        scheme_id=town.scheme.id,
        rule="redemption_share",
        subject_type="merchant",
        subject_id=shop.id,
        merchant_id=shop.id,
        day=DAY,
        reason="r",
        evidence={"redeemed_share_pct": 40.0, "earned_share_pct": 5.0, "days": 30},
    )
    session.add(flag)
    session.commit()
    colleague = make_user(session, town.scheme, Role.MUNICIPALITY_ANALYST)
    session.rollback()
    return shop.id, flag.id, colleague.id


def _admin_actions(shop: int, flag: int, user: int) -> list[tuple[str, dict[str, str]]]:
    return [
        (f"/dashboard/shops/{shop}/approve", {}),
        (f"/dashboard/shops/{shop}/refuse", {}),
        (f"/dashboard/shops/{shop}/suspend", {}),
        ("/dashboard/settings", {"point_value_cents": "7"}),
        ("/dashboard/staff/invite", {"email": "new@example.be", "role": "municipality_admin"}),
        (f"/dashboard/staff/{user}/role", {"role": "municipality_admin"}),
        (f"/dashboard/staff/{user}/deactivate", {}),
        (f"/dashboard/fraud/{flag}/dismiss", {"note": "fine"}),
        (f"/dashboard/fraud/{flag}/freeze", {"note": ""}),
        (f"/dashboard/fraud/{flag}/suspend", {"note": ""}),
    ]


def test_an_analyst_reads_but_gets_403_on_every_admin_page_and_action(
    app: Flask, session: Session, town: Municipality
) -> None:
    shop, flag, user = _objects(session, town)
    client = town.analyst_client
    for page in READER_PAGES:
        assert client.get(page).status_code == 200, page
    for page in ADMIN_PAGES:
        assert client.get(page).status_code == 403, page
    for url, data in _admin_actions(shop, flag, user):
        assert post(client, url, **data).status_code == 403, url
    # The menu offers only what the analyst may open.
    menu = html(client.get("/dashboard/"))
    for page in ADMIN_PAGES:
        assert f'href="{page}"' not in menu
    # Nothing happened, so nothing was audited.
    assert audit_rows(session, town.scheme.id) == []

    # The JSON API's admin calls are the admin's too.
    token = staff_token(app.test_client(), town.analyst)
    api = app.test_client()
    added = api.post(
        "/api/v1/merchants",
        headers=bearer(token),
        json={"name": "X", "sector": "47.24", "postcode": "9170", "email": "x@x.be"},
    )
    assert added.status_code == 403
    assert added.json["error"]["code"]  # type: ignore[index]
    assert (
        api.post(f"/api/v1/merchants/{shop}/api-keys", headers=bearer(token), json={}).status_code
        == 403
    )


def test_a_municipality_cannot_reach_another_municipalitys_objects(
    app: Flask, session: Session, town: Municipality
) -> None:
    shop, flag, user = _objects(session, town)
    other = make_municipality(app, session)
    for url, data in _admin_actions(shop, flag, user):
        if url in ("/dashboard/settings", "/dashboard/staff/invite"):
            continue  # these act on the signed-in admin's own scheme
        assert post(other.admin_client, url, **data).status_code == 404, url
    # Its lists show none of them either.
    assert "redemption_share" not in html(other.admin_client.get("/dashboard/fraud?status=all"))
    colleague = session.get_one(StaffUser, user)
    assert colleague.email not in html(other.admin_client.get("/dashboard/staff"))
    session.commit()
    assert audit_rows(session, other.scheme.id) == []
    assert audit_rows(session, town.scheme.id) == []
    # And the API's shop calls answer 404 for another scheme's shop.
    token = staff_token(app.test_client(), other.admin)
    assert (
        app.test_client()
        .post(f"/api/v1/merchants/{shop}/api-keys", headers=bearer(token), json={})
        .status_code
        == 404
    )


def test_the_admin_pages_speak_dutch_and_french(session: Session, town: Municipality) -> None:
    _objects(session, town)
    client = town.admin_client
    words = {"nl": ["Instellingen", "Fraudesignalen", "Logboek", "40.0%"],
             "fr": ["Paramètres", "Signalements de fraude", "Journal d'audit", "40.0%"]}
    for lang, expected in words.items():
        client.set_cookie("lang", lang)
        pages = "".join(html(client.get(page)) for page in ADMIN_PAGES + READER_PAGES)
        for word in expected:
            assert word in pages, (lang, word)

"""The audit log: every admin action with who, what, when and on what, written in
the action's own transaction, and readable and filterable in the dashboard."""

from __future__ import annotations

from datetime import timedelta

from flask import Flask
from sqlalchemy.orm import Session

from loyalty.infra.db import utcnow
from loyalty.models import MerchantStatus, Scheme
from loyalty.oversight import audit
from tests.factories import bearer, make_merchant, staff_token
from tests.municipality_dashboard.conftest import Municipality, audit_rows, html, post


def test_shop_decisions_are_audited_and_the_log_is_filtered(
    app: Flask, session: Session, town: Municipality
) -> None:
    first = make_merchant(session, town.scheme, status=MerchantStatus.PENDING, name="Bakkerij Een")
    second = make_merchant(session, town.scheme, status=MerchantStatus.PENDING, name="Frituur Twee")
    # Ids read now: reading them after the rollback would start a snapshot that
    # hides the requests' writes from the checks below (SQLite).
    first_id, second_id = first.id, second.id
    session.rollback()
    client = town.admin_client
    before = utcnow()
    assert post(client, f"/dashboard/shops/{first_id}/approve").status_code == 303
    # Refusing and suspending ask first: the question changes nothing.
    asked = post(client, f"/dashboard/shops/{first_id}/suspend")
    assert asked.status_code == 200
    assert "Suspend Bakkerij Een?" in html(asked) and "till keys stop working" in html(asked)
    assert audit_rows(session, town.scheme.id, "merchant.suspend") == []
    assert post(client, f"/dashboard/shops/{second_id}/refuse", confirmed="1").status_code == 303
    assert post(client, f"/dashboard/shops/{first_id}/suspend", confirmed="1").status_code == 303
    # An unknown decision changes nothing and leaves no entry.
    assert post(client, f"/dashboard/shops/{first_id}/demolish").status_code == 404

    rows = audit_rows(session, town.scheme.id)
    assert [(r.action, r.target_type, r.target_id, r.details) for r in rows] == [
        ("merchant.approve", "merchant", first_id, {"from": "pending", "to": "approved"}),
        ("merchant.refuse", "merchant", second_id, {"from": "pending", "to": "refused"}),
        # A suspension also ends the shop's open sales, till keys and sessions (none here).
        ("merchant.suspend", "merchant", first_id, {
            "from": "approved", "to": "suspended",
            "claims_cancelled": 0, "till_keys_revoked": 0, "sessions_ended": 0,
        }),
    ]
    assert all(r.actor_id == town.admin.id and r.actor_label == town.admin.email for r in rows)
    assert all(before <= r.at <= utcnow() for r in rows)

    page = html(client.get("/dashboard/audit"))
    table = page[page.index("<tbody>") :]
    assert (
        table.index("Shop suspended") < table.index("Shop refused") < table.index("Shop approved")
    )
    assert "Bakkerij Een" in page and town.admin.email in page
    only = html(client.get("/dashboard/audit?action=merchant.refuse"))
    assert "Frituur Twee" in only and "Bakkerij Een" not in only
    today = utcnow().date()
    past = html(client.get(f"/dashboard/audit?until={today - timedelta(days=1)}"))
    assert "No entries." in past
    now = html(client.get(f"/dashboard/audit?since={today}&actor={town.admin.id}"))
    assert "Frituur Twee" in now
    bad = client.get("/dashboard/audit?since=gisteren")
    assert bad.status_code == 422
    assert "Not a valid date value." in html(bad)


def test_a_shop_added_or_a_till_key_made_through_the_api_by_an_admin_is_audited(
    app: Flask, session: Session, town: Municipality
) -> None:
    token = staff_token(app.test_client(), town.admin)
    api = app.test_client()
    added = api.post(
        "/api/v1/merchants",
        headers=bearer(token),
        json={
            "name": "Zaak Drie",
            "sector": "47.24",
            "postcode": "9170",
            "email": "drie@example.be",
        },
    )
    assert added.status_code == 201
    shop_id = added.json["id"]  # type: ignore[index]
    key = api.post(f"/api/v1/merchants/{shop_id}/api-keys", headers=bearer(token), json={})
    assert key.status_code == 201
    secret = key.json["key"]  # type: ignore[index]
    assert (
        api.delete(
            f"/api/v1/merchants/{shop_id}/api-keys/{key.json['id']}",  # type: ignore[index]
            headers=bearer(token),
        ).status_code
        == 204
    )
    rows = audit_rows(session, town.scheme.id)
    assert [(r.action, r.target_id) for r in rows] == [
        ("merchant.create", shop_id),
        ("till_key.create", shop_id),
        ("till_key.revoke", shop_id),
    ]
    # Never the key itself.
    assert all(secret not in str(r.details) for r in rows)


def test_campaigns_events_settlements_and_bank_transfers_are_audited(
    app: Flask, session: Session, town: Municipality
) -> None:
    from loyalty.money import funding

    shop = make_merchant(session, town.scheme, name="Bakkerij Vier")
    session.rollback()
    token = staff_token(app.test_client(), town.admin)
    api = app.test_client()
    start = utcnow() + timedelta(days=1)
    made = api.post(
        "/api/v1/campaigns",
        headers=bearer(token),
        json={
            "name": "Dubbele punten",
            "starts_at": start.isoformat(),
            "ends_at": (start + timedelta(days=7)).isoformat(),
            "budget_cents": 50_000,
            "multiplier": 2,
        },
    )
    assert made.status_code == 201, made.json
    client = town.admin_client
    today = utcnow().date()
    assert post(
        client, "/dashboard/events", name="Kerstmarkt", starts_on=str(today),
        ends_on=str(today + timedelta(days=2)),
    ).status_code == 303
    communication = funding.structured_communication(shop.id)
    assert post(
        client, "/dashboard/funding", communication=communication, amount="25,00",
        reference="BANK-REF-1",
    ).status_code == 303
    # The same transfer again credits nothing and is not a new action.
    assert post(
        client, "/dashboard/funding", communication=communication, amount="25,00",
        reference="BANK-REF-1",
    ).status_code == 303
    last_month = (today.replace(day=1) - timedelta(days=1)).strftime("%Y-%m")
    settled = api.post(
        "/api/v1/settlements", headers=bearer(token), json={"period": last_month}
    )
    assert settled.status_code == 201, settled.json
    assert api.post(
        "/api/v1/settlements", headers=bearer(token), json={"period": last_month}
    ).status_code == 200

    rows = audit_rows(session, town.scheme.id)
    assert [r.action for r in rows] == [
        "campaign.create", "event.create", "funding.bank_transfer", "settlement.lock",
    ]
    assert all(r.actor_id == town.admin.id for r in rows)
    assert rows[0].details["campaign"] == made.json["id"]  # type: ignore[index]
    assert rows[2].target_id == shop.id and rows[2].details["amount_cents"] == 2500
    assert rows[3].details["period"] == last_month
    page = html(client.get("/dashboard/audit"))
    assert "Campaign created" in page and "Month settled" in page


def test_the_log_reads_details_in_the_readers_words_and_formats(
    session: Session, town: Municipality
) -> None:
    scheme = session.get_one(Scheme, town.scheme.id)
    audit.record(session, None, "settlement.lock", scheme,
                 {"period": "2026-11", "shops": 20, "control_sum_cents": 199960})
    session.commit()
    # Babel's Belgian formats put no-break spaces in amounts: read them as spaces.
    dutch = _spaced(html(town.admin_client.get("/dashboard/audit?lang=nl")))
    assert "controletotaal: € 1.999,60" in dutch and "zaken: 20" in dutch
    assert "control_sum_cents" not in dutch and "199960" not in dutch
    # A scheduled job's entry names its actor in the reader's language.
    assert "de opdrachtregel (een geplande taak)" in dutch and "command line" not in dutch
    french = _spaced(html(town.admin_client.get("/dashboard/audit?lang=fr")))
    assert "total de contrôle : 1 999,60 €" in french and "commerces : 20" in french
    assert "la ligne de commande (une tâche planifiée)" in french


def _spaced(text: str) -> str:
    return text.replace("\u202f", " ").replace("\u00a0", " ")

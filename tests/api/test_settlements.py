"""Settlement through the API: 201 then 200 with the same answer, roles, files."""

from __future__ import annotations

from datetime import UTC, datetime

from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from loyalty.models import Role
from loyalty.money.settlement import bank_accounts, sepa
from tests.factories import bearer, make_scheme, make_user, staff_token
from tests.settlement_data import earn_and_redeem, iban_for, make_shops, prepay

PERIOD = "2025-03"
AT = datetime(2025, 3, 12, 10, tzinfo=UTC)


def test_settle_then_replay_roles_and_files(
    client: FlaskClient, session: Session, verify_ledger  # type: ignore[no-untyped-def]
) -> None:
    scheme = make_scheme(session)
    bank_accounts.set_scheme_bank_account(session, scheme, "BE71096123456769", "")
    issuer, taker, other = make_shops(session, scheme, 3)
    bank_accounts.set_merchant_bank_account(session, taker, iban_for(3), "GEBABEBB", "De Smet bv")
    session.commit()
    earn_and_redeem(session, scheme, issuer, taker, 200, AT)  # 1000 cents
    earn_and_redeem(session, scheme, other, taker, 30, AT)  # 150 cents
    prepay(session, scheme, issuer, 400, AT)
    admin = bearer(staff_token(client, make_user(session, scheme, Role.MUNICIPALITY_ADMIN)))
    analyst = bearer(staff_token(client, make_user(session, scheme, Role.MUNICIPALITY_ANALYST)))
    owner = bearer(
        staff_token(client, make_user(session, scheme, Role.MERCHANT_OWNER, taker))
    )

    assert client.post("/api/v1/settlements", json={"period": PERIOD}, headers=analyst
                       ).status_code == 403
    assert client.post("/api/v1/settlements", json={"period": PERIOD}, headers=owner
                       ).status_code == 403
    bad = client.post("/api/v1/settlements", json={"period": "2025-13"}, headers=admin)
    assert bad.status_code == 422 and bad.json["error"]["code"] == "invalid_input"
    future = client.post("/api/v1/settlements", json={"period": "2999-01"}, headers=admin)
    assert future.status_code == 422 and future.json["error"]["code"] == "period_not_over"
    assert client.get(f"/api/v1/settlements/{PERIOD}", headers=admin).status_code == 404
    skipping = client.post("/api/v1/settlements", json={"period": "2025-04"}, headers=admin)
    assert skipping.status_code == 409
    assert skipping.json["error"]["code"] == "earlier_period_unsettled"
    assert "2025-03" in skipping.json["error"]["message"]

    first = client.post("/api/v1/settlements", json={"period": PERIOD}, headers=admin)
    assert first.status_code == 201, first.json
    body = first.json
    rows = {row["merchant_id"]: row for row in body["shops"]}
    assert rows[taker.id] == {"merchant_id": taker.id, "issued_cents": 0,
                              "redeemed_cents": 1150, "euros_redeemed_cents": 0,
                              "fees_cents": 0, "net_cents": 1150}
    assert rows[issuer.id]["net_cents"] == -1000
    assert rows[other.id]["net_cents"] == -150
    assert body["locked"] is True and body["period"] == PERIOD
    assert body["control_sum_cents"] == 1150
    assert body["sepa_xml_url"] == f"https://sparen.example.be/api/v1/settlements/{PERIOD}/sepa.xml"

    again = client.post("/api/v1/settlements", json={"period": PERIOD}, headers=admin)
    assert again.status_code == 200 and again.json == body
    assert client.get(f"/api/v1/settlements/{PERIOD}", headers=admin).json == body
    assert client.get(f"/api/v1/settlements/{PERIOD}", headers=analyst).status_code == 403

    mine = client.get(f"/api/v1/settlements/{PERIOD}", headers=owner)
    assert mine.status_code == 200
    assert mine.json["shops"] == [rows[taker.id]]
    assert mine.json["sepa_xml_url"] is None and mine.json["control_sum_cents"] is None

    sepa_file = client.get(f"/api/v1/settlements/{PERIOD}/sepa.xml", headers=admin)
    assert sepa_file.status_code == 200 and sepa_file.mimetype == "application/xml"
    sepa.validate_sepa(sepa_file.data)
    assert b"<CtrlSum>11.50</CtrlSum>" in sepa_file.data
    assert client.get(f"/api/v1/settlements/{PERIOD}/sepa.xml", headers=owner).status_code == 403

    own = client.get(f"/api/v1/settlements/{PERIOD}/statements/{taker.id}.csv", headers=owner)
    assert own.status_code == 200 and own.mimetype == "text/csv"
    assert "net,11.50" in own.get_data(as_text=True)
    pdf = client.get(f"/api/v1/settlements/{PERIOD}/statements/{taker.id}.pdf", headers=owner)
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF-")
    other_shop = client.get(
        f"/api/v1/settlements/{PERIOD}/statements/{issuer.id}.csv", headers=owner
    )
    assert other_shop.status_code == 403
    issuer_csv = client.get(
        f"/api/v1/settlements/{PERIOD}/statements/{issuer.id}.csv", headers=admin
    ).get_data(as_text=True)
    assert "prepaid_applied,4.00" in issuer_csv and "to_collect,6.00" in issuer_csv
    verify_ledger()

"""Scheme settings: saved and audited when valid; a friendly error and nothing
written when not."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from sqlalchemy.orm import Session

from loyalty.models import Scheme
from loyalty.oversight import audit
from tests.municipality_dashboard.conftest import Municipality, audit_rows, html, post

VALID = {
    "point_value_cents": "5",
    "earn_rate": "1",
    "earn_rate_max": "10",
    "validity_months": "24",
    "k_anonymity": "10",
    "claim_ttl_minutes": "10",
    "hold_ttl_minutes": "5",
    "correction_days": "14",
    "confirm_above_euros": "500",
    "villages": "Sint-Gillis-Waas\nDe Klinge\nMeerdonk\nSint-Pauwels",
    "inhabitants": "",
    "release_epsilon_per_day": "1.0",
    "release_max_purchases": "3",
    "release_max_euros": "100",
}


def _scheme(session: Session, scheme_id: int) -> Scheme:
    session.expire_all()
    scheme = session.get_one(Scheme, scheme_id)
    session.commit()
    return scheme


def _values(scheme: Scheme) -> dict[str, Any]:
    return {
        "point_value_cents": scheme.point_value_cents,
        "earn_rate": scheme.earn_rate,
        "earn_rate_max": scheme.earn_rate_max,
        "validity_months": scheme.validity_months,
        "k_anonymity": scheme.k_anonymity,
        "claim_ttl_seconds": scheme.claim_ttl_seconds,
        "hold_ttl_seconds": scheme.hold_ttl_seconds,
        "villages": scheme.villages,
        "inhabitants": scheme.inhabitants,
        "compare_opt_in": scheme.compare_opt_in,
        "correction_days": scheme.correction_days,
        "confirm_above_cents": scheme.confirm_above_cents,
        "release_epsilon_per_day": scheme.release_epsilon_per_day,
        "release_epsilon_per_period": scheme.release_epsilon_per_period,
        "release_max_purchases": scheme.release_max_purchases,
        "release_max_cents": scheme.release_max_cents,
        "release_campaign_epsilon": scheme.release_campaign_epsilon,
    }


def test_the_page_shows_the_settings_and_saves_changes_with_an_audit_entry(
    session: Session, town: Municipality
) -> None:
    client = town.admin_client
    page = html(client.get("/dashboard/settings"))
    assert "De Klinge\nMeerdonk" in page
    assert 'name="k_anonymity"' in page and 'value="10"' in page

    done = post(
        client,
        "/dashboard/settings",
        **{
            **VALID,
            "point_value_cents": "4",
            "claim_ttl_minutes": "15",
            "correction_days": "7",
            "confirm_above_euros": "1.000",
            "villages": " Sint-Gillis-Waas \n\nDe Klinge\nMeerdonk\nSint-Pauwels\n",
            "inhabitants": "20.135",
            "compare_opt_in": "y",
            "release_epsilon_per_day": "0.5",
            "release_epsilon_per_period": "2.0",
            "release_max_euros": "150",
        },
    )
    assert done.status_code == 303
    assert "The settings are saved" in html(client.get(done.headers["Location"]))
    scheme = _scheme(session, town.scheme.id)
    assert scheme.point_value_cents == 4
    assert scheme.claim_ttl_seconds == 900
    assert (scheme.correction_days, scheme.confirm_above_cents) == (7, 100_000)
    assert scheme.villages == ["Sint-Gillis-Waas", "De Klinge", "Meerdonk", "Sint-Pauwels"]
    assert scheme.inhabitants == 20135 and scheme.compare_opt_in
    [entry] = audit_rows(session, town.scheme.id, "scheme.settings")
    assert entry.actor_id == town.admin.id
    assert entry.details == {
        "changes": {
            "point_value_cents": [5, 4],
            "claim_ttl_seconds": [600, 900],
            "inhabitants": [None, 20135],
            "compare_opt_in": [False, True],
            "correction_days": [14, 7],
            "confirm_above_cents": [50_000, 100_000],
            "release_epsilon_per_day": [1.0, 0.5],
            "release_epsilon_per_period": [1.0, 2.0],
            "release_max_cents": [10_000, 15_000],
        }
    }
    assert (scheme.release_epsilon_per_day, scheme.release_max_cents) == (0.5, 15_000)
    assert scheme.release_epsilon_per_period == 2.0
    # Saving the same values again changes and audits nothing.
    again = post(
        client,
        "/dashboard/settings",
        **{
            **VALID,
            "point_value_cents": "4",
            "claim_ttl_minutes": "15",
            "correction_days": "7",
            "confirm_above_euros": "1000",
            "inhabitants": "20135",
            "compare_opt_in": "y",
            "release_epsilon_per_day": "0.5",
            "release_epsilon_per_period": "2.0",
            "release_max_euros": "150",
        },
    )
    assert again.status_code == 303
    assert len(audit_rows(session, town.scheme.id)) == 1
    # A form posted without the budget per period (an older page) leaves it as it is.
    older = post(client, "/dashboard/settings", **{
        **VALID, "point_value_cents": "4", "claim_ttl_minutes": "15", "correction_days": "7",
        "confirm_above_euros": "1000", "inhabitants": "20135", "compare_opt_in": "y",
        "release_epsilon_per_day": "0.5", "release_max_euros": "150"})
    assert older.status_code == 303
    assert _scheme(session, town.scheme.id).release_epsilon_per_period == 2.0
    assert len(audit_rows(session, town.scheme.id)) == 1


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"point_value_cents": "0"}, "Between 1 and 100."),
        ({"point_value_cents": "vijf"}, "Type a whole number"),
        ({"earn_rate": ""}, "Fill this in."),
        ({"earn_rate_max": "1"}, "At least the points per full euro of the scheme."),
        ({"earn_rate_max": "101"}, "Between 1 and 100."),
        ({"validity_months": "121"}, "Between 1 and 120."),
        ({"k_anonymity": "3"}, "Between 5 and 1000."),
        ({"claim_ttl_minutes": "-1"}, "Between 1 and 1440."),
        ({"hold_ttl_minutes": "61"}, "Between 1 and 60."),
        ({"villages": "  \n "}, "Name at least one village."),
        ({"villages": "Meerdonk\nmeerdonk"}, "each once"),
        ({"villages": "x" * 101}, "each once and at most 100 characters"),
        ({"inhabitants": "0"}, "Between 1 and 10000000."),
        ({"correction_days": "0"}, "Between 1 and 60."),
        ({"confirm_above_euros": "6000"}, "Between 1 and 5000."),
        ({"compare_opt_in": "y"}, "Fill in the number of inhabitants"),
        ({"release_max_purchases": "0"}, "Between 1 and 20."),
        ({"release_max_euros": "1001"}, "Between 1 and 1000."),
        ({"release_campaign_epsilon": "3.0"}, "Not a valid choice."),
    ],
)
def test_bad_settings_get_a_form_error_and_nothing_is_written(
    session: Session, town: Municipality, changes: dict[str, str], message: str
) -> None:
    before = _values(_scheme(session, town.scheme.id))
    answer = post(
        town.admin_client, "/dashboard/settings", **{**VALID, "earn_rate": "2", **changes}
    )
    assert answer.status_code == 422
    page = html(answer)
    assert message in page, page
    assert 'aria-invalid="true"' in page
    assert "Nothing was saved" in page
    # Not even the valid change that came along (earn_rate 2) was written.
    assert _values(_scheme(session, town.scheme.id)) == before
    assert audit_rows(session, town.scheme.id) == []


def test_the_campaign_release_budget_is_saved_audited_and_kept_when_not_posted(
    session: Session, town: Municipality
) -> None:
    client = town.admin_client
    page = html(client.get("/dashboard/settings"))
    assert 'name="release_campaign_epsilon"' in page
    done = post(client, "/dashboard/settings", **{**VALID, "release_campaign_epsilon": "2.0"})
    assert done.status_code == 303
    assert _scheme(session, town.scheme.id).release_campaign_epsilon == 2.0
    [entry] = audit_rows(session, town.scheme.id, "scheme.settings")
    assert entry.details == {"changes": {"release_campaign_epsilon": [1.0, 2.0]}}
    # A form without the field (as posted before it existed) leaves it as it is.
    kept = post(client, "/dashboard/settings", **VALID)
    assert kept.status_code == 303
    assert _scheme(session, town.scheme.id).release_campaign_epsilon == 2.0
    assert len(audit_rows(session, town.scheme.id)) == 1
    dutch = html(client.get("/dashboard/settings?lang=nl"))
    assert "Eén keer per campagne uitgegeven, voor haar evaluatie" in dutch


def test_the_audit_log_refuses_secrets(app: Flask, session: Session, town: Municipality) -> None:
    with pytest.raises(ValueError, match="secrets"):
        audit.record(session, town.admin, "staff.invite", town.analyst, {"password": "x"})
    with pytest.raises(ValueError, match="secrets"):
        audit.record(session, town.admin, "x", town.analyst, {"changes": {"till_token": "y"}})
    session.rollback()

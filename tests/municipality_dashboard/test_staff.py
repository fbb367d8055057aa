"""The municipality's staff: invited by e-mail, role changed, deactivated (and signed
out everywhere at once); never the last admin; every step in the audit log."""

from __future__ import annotations

import re

from flask import Flask
from sqlalchemy.orm import Session

from loyalty.models import Role, StaffUser
from tests.conftest import Mailbox
from tests.factories import bearer, staff_token
from tests.forms import csrf
from tests.municipality_dashboard.conftest import Municipality, audit_rows, html, post, signed_in


def _user(session: Session, user_id: int) -> StaffUser:
    session.expire_all()
    user = session.get_one(StaffUser, user_id)
    session.commit()
    return user


def test_invite_an_analyst_who_chooses_a_password_and_signs_in(
    app: Flask, session: Session, town: Municipality, mailbox: Mailbox
) -> None:
    client = town.admin_client
    done = post(
        client,
        "/dashboard/staff/invite",
        email="Nieuw@Gemeente.example",
        role="municipality_analyst",
    )
    assert done.status_code == 303
    page = html(client.get(done.headers["Location"]))
    assert "nieuw@gemeente.example" in page and "The invitation is sent" in page
    message = mailbox.wait_for("nieuw@gemeente.example")
    link = re.search(r"https?://\S+/password/reset\?t=\S+", message.get_content())
    assert link, message.get_content()
    [entry] = audit_rows(session, town.scheme.id, "staff.invite")
    assert (entry.actor_id, entry.target_label, entry.details) == (
        town.admin.id,
        "nieuw@gemeente.example",
        {"role": "municipality_analyst"},
    )
    # The invitee chooses a password through the link and reads the reports.
    invitee = app.test_client()
    path = link.group(0).split("sparen.example.be", 1)[-1]
    form = invitee.get(path)
    assert form.status_code == 200
    chosen = invitee.post(
        path,
        data={
            "csrf_token": csrf(html(form)),
            "password": "een-lang-wachtwoord",
            "confirm": "een-lang-wachtwoord",
        },
    )
    assert chosen.status_code == 303, html(chosen)
    reader = signed_in(app, "nieuw@gemeente.example", "een-lang-wachtwoord")
    assert reader.get("/dashboard/").status_code == 200
    assert reader.get("/dashboard/staff").status_code == 403


def test_bad_invitations_are_refused_with_a_reason(session: Session, town: Municipality) -> None:
    client = town.admin_client
    bad = post(client, "/dashboard/staff/invite", email="geen-adres", role="municipality_admin")
    assert bad.status_code == 422
    assert "not a valid e-mail address" in html(bad)
    taken = post(
        client, "/dashboard/staff/invite", email=town.analyst.email, role="municipality_admin"
    )
    assert taken.status_code == 422
    assert "already has an account" in html(taken)
    odd = post(client, "/dashboard/staff/invite", email="a@b.example", role="cashier")
    assert odd.status_code == 422
    assert audit_rows(session, town.scheme.id) == []


def test_change_role_and_deactivate_which_ends_every_session(
    app: Flask, session: Session, town: Municipality
) -> None:
    analyst = town.analyst
    api_token = staff_token(app.test_client(), analyst)
    client = town.admin_client

    assert (
        post(client, f"/dashboard/staff/{analyst.id}/role", role="municipality_admin").status_code
        == 303
    )
    assert _user(session, analyst.id).role == Role.MUNICIPALITY_ADMIN
    # The new role counts on the next request, without signing in again: as an
    # admin, the first thing to do is to set up two-factor sign-in.
    promoted = town.analyst_client.get("/dashboard/staff")
    assert promoted.status_code == 303
    assert promoted.headers["Location"].endswith("/account/two-factor")
    assert (
        post(client, f"/dashboard/staff/{analyst.id}/role", role="municipality_analyst").status_code
        == 303
    )
    assert town.analyst_client.get("/dashboard/staff").status_code == 403

    asked = post(client, f"/dashboard/staff/{analyst.id}/deactivate")
    assert asked.status_code == 200 and f"Deactivate {analyst.email}?" in html(asked)
    assert _user(session, analyst.id).active
    done = post(client, f"/dashboard/staff/{analyst.id}/deactivate", confirmed="1")
    assert done.status_code == 303
    assert not _user(session, analyst.id).active
    # Signed out at once: the web session and the API token both stop working.
    assert town.analyst_client.get("/dashboard/").status_code == 302
    answer = app.test_client().get("/api/v1/reports/spending?by=sector", headers=bearer(api_token))
    assert answer.status_code == 401
    assert [(e.action, e.details) for e in audit_rows(session, town.scheme.id)] == [
        ("staff.role", {"from": "municipality_analyst", "to": "municipality_admin"}),
        ("staff.role", {"from": "municipality_admin", "to": "municipality_analyst"}),
        ("staff.deactivate", {"sessions_ended": 2}),
    ]


def test_no_municipality_without_an_admin(session: Session, town: Municipality) -> None:
    client = town.admin_client
    alone = post(client, f"/dashboard/staff/{town.admin.id}/role", role="municipality_analyst")
    assert alone.status_code == 409
    assert "at least one active admin" in html(alone)
    me = post(client, f"/dashboard/staff/{town.admin.id}/deactivate")
    assert me.status_code == 409
    assert "cannot deactivate yourself" in html(me)
    assert _user(session, town.admin.id).role == Role.MUNICIPALITY_ADMIN
    assert audit_rows(session, town.scheme.id) == []


def test_a_deactivated_colleague_is_let_back_in_by_a_new_invitation(
    session: Session, town: Municipality, mailbox: Mailbox
) -> None:
    client = town.admin_client
    analyst = town.analyst
    assert post(client, f"/dashboard/staff/{analyst.id}/deactivate",
                confirmed="1").status_code == 303
    old_hash = _user(session, analyst.id).password_hash
    again = post(client, "/dashboard/staff/invite", email=analyst.email,
                 role="municipality_admin")
    assert again.status_code == 303
    user = _user(session, analyst.id)
    assert user.active and user.role == Role.MUNICIPALITY_ADMIN
    # The old password no longer opens the account: only the new link does.
    assert user.password_hash != old_hash
    assert "/password/reset?t=" in mailbox.wait_for(analyst.email).get_content()
    assert [e.action for e in audit_rows(session, town.scheme.id)] == [
        "staff.deactivate", "staff.reactivate"
    ]

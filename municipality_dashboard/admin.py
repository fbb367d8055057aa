"""The administration pages: scheme settings, staff and roles, the audit log,
fraud flags, and the comparison of municipalities.

Routes on the dashboard blueprint. Everything but the comparison is for the
role municipality_admin; an analyst gets 403. Every object is looked up within
the signed-in user's scheme: another municipality's is a 404.
"""

from __future__ import annotations

import re
import smtplib
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from flask import abort, current_app, redirect, request, url_for
from flask_babel import format_date, ngettext
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from loyalty.access import staff_admin
from loyalty.analytics import comparison
from loyalty.errors import Conflict, InvalidInput, NotFound
from loyalty.infra import mail
from loyalty.infra.db import utcnow
from loyalty.models import FlagStatus, FraudFlag, Merchant, Role, StaffUser
from loyalty.oversight import audit, fraud
from loyalty.town import scheme_settings
from loyalty.web import confirm, db, i18n, published, replica
from loyalty.web.signin import current_staff, staff_required
from loyalty.web.signin.views import RESET_MAX_AGE, password_link
from municipality_dashboard.common import (
    ADMIN,
    STAFF,
    bp,
    current_scheme,
    render,
    suspension_question,
)
from municipality_dashboard.forms import (
    ActionForm,
    AuditFilterForm,
    FlagNoteForm,
    InviteForm,
    PeriodForm,
    RoleForm,
    SettingsForm,
)

# -- scheme settings -------------------------------------------------------------------

# Which form field shows the domain's objection (loyalty.town.scheme_settings codes).
SETTING_FIELDS = {
    "invalid_point_value_cents": "point_value_cents",
    "invalid_earn_rate": "earn_rate",
    "invalid_earn_rate_max": "earn_rate_max",
    "invalid_validity_months": "validity_months",
    "invalid_k_anonymity": "k_anonymity",
    "invalid_claim_ttl_seconds": "claim_ttl_minutes",
    "invalid_hold_ttl_seconds": "hold_ttl_minutes",
    "invalid_villages": "villages",
    "invalid_inhabitants": "inhabitants",
    "invalid_correction_days": "correction_days",
    "invalid_confirm_above_cents": "confirm_above_euros",
    "invalid_contact_email": "contact_email",
    "invalid_release_epsilon_per_day": "release_epsilon_per_day",
    "invalid_release_epsilon_per_period": "release_epsilon_per_period",
    "invalid_release_max_purchases": "release_max_purchases",
    "invalid_release_campaign_epsilon": "release_campaign_epsilon",
    "invalid_release_max_cents": "release_max_euros",
    "invalid_voucher_amounts": "voucher_amounts",
}


def _setting_error(form: SettingsForm, error: InvalidInput) -> None:
    messages = {
        "invalid_villages": _(
            "Name between 1 and %(max)d villages, each once and at most %(len)d characters.",
            max=scheme_settings.MAX_VILLAGES,
            len=scheme_settings.MAX_VILLAGE_LENGTH,
        ),
        "invalid_inhabitants": _(
            "Fill in the number of inhabitants to take part in the comparison."
        ),
        "invalid_contact_email": _("This is not a valid e-mail address."),
        "invalid_earn_rate_max": _("At least the points per full euro of the scheme."),
        "invalid_voucher_amounts": _(
            "From 1 to %(max)d different amounts in whole euros, from %(low)d to %(high)d.",
            max=scheme_settings.MAX_VOUCHER_AMOUNTS, low=scheme_settings.VOUCHER_EUROS[0],
            high=scheme_settings.VOUCHER_EUROS[1],
        ),
    }
    field = getattr(form, SETTING_FIELDS.get(error.code, "villages"))
    field.errors = [messages.get(error.code, _("This value is not possible."))]


def _epsilon(chosen: str | None) -> float:
    try:
        return float(chosen or "")
    except ValueError:
        return 0.0  # not one of the choices: update() says so by the field


@bp.route("/settings", methods=["GET", "POST"])
@staff_required(*ADMIN)
def settings() -> Any:
    """The scheme's settings: points, expiry, privacy threshold, villages, comparison."""
    scheme = current_scheme()
    form = SettingsForm()
    if not form.is_submitted():
        form = SettingsForm(
            formdata=None,
            data={
                "point_value_cents": scheme.point_value_cents,
                "earn_rate": scheme.earn_rate,
                "earn_rate_max": scheme.earn_rate_max,
                "validity_months": scheme.validity_months,
                "k_anonymity": scheme.k_anonymity,
                "claim_ttl_minutes": scheme.claim_ttl_seconds // 60,
                "hold_ttl_minutes": scheme.hold_ttl_seconds // 60,
                "villages": "\n".join(scheme.villages or []),
                "inhabitants": scheme.inhabitants,
                "compare_opt_in": scheme.compare_opt_in,
                "correction_days": scheme.correction_days,
                "confirm_above_euros": scheme.confirm_above_cents // 100,
                "contact_email": scheme.contact_email or "",
                "release_epsilon_per_day": str(scheme.release_epsilon_per_day),
                "release_epsilon_per_period": str(scheme.release_epsilon_per_period),
                "release_max_purchases": scheme.release_max_purchases,
                "release_max_euros": scheme.release_max_cents // 100,
                "release_campaign_epsilon": str(scheme.release_campaign_epsilon),
                "open_data": scheme.open_data,
                "voucher_amounts": ", ".join(
                    str(a // 100) for a in scheme.voucher_amounts_cents or []
                ),
            },
        )
    elif form.validate_on_submit():
        wanted = scheme_settings.SchemeSettings(
            point_value_cents=form.point_value_cents.data or 0,
            earn_rate=form.earn_rate.data or 0,
            earn_rate_max=form.earn_rate_max.data or 0,
            validity_months=form.validity_months.data or 0,
            k_anonymity=form.k_anonymity.data or 0,
            claim_ttl_seconds=(form.claim_ttl_minutes.data or 0) * 60,
            hold_ttl_seconds=(form.hold_ttl_minutes.data or 0) * 60,
            villages=scheme_settings.parse_villages(form.villages.data or ""),
            inhabitants=form.inhabitants.data,
            compare_opt_in=bool(form.compare_opt_in.data),
            correction_days=form.correction_days.data or 0,
            confirm_above_cents=(form.confirm_above_euros.data or 0) * 100,
            contact_email=(form.contact_email.data or "").strip() or None,
            release_epsilon_per_day=_epsilon(form.release_epsilon_per_day.data),
            # Not posted (an older page): the budget per period stays as it is.
            release_epsilon_per_period=(
                _epsilon(form.release_epsilon_per_period.data)
                if "release_epsilon_per_period" in request.form
                else scheme.release_epsilon_per_period
            ),
            release_max_purchases=form.release_max_purchases.data or 0,
            release_max_cents=(form.release_max_euros.data or 0) * 100,
            release_campaign_epsilon=(
                _epsilon(form.release_campaign_epsilon.data)
                if form.release_campaign_epsilon.data else scheme.release_campaign_epsilon
            ),
            open_data=bool(form.open_data.data),
            # Left empty: the amounts on sale stay as they are.
            voucher_amounts_cents=(
                scheme_settings.parse_voucher_amounts(form.voucher_amounts.data or "")
                if (form.voucher_amounts.data or "").strip()
                else list(scheme.voucher_amounts_cents or [])
            ) or [],
        )
        try:
            scheme_settings.update(db(), scheme, current_staff().user, wanted)
        except InvalidInput as error:
            # Nothing was changed: update() checks everything first.
            _setting_error(form, error)
        else:
            return redirect(url_for("dashboard.settings", done="saved"), 303)
    return render(
        "settings.html",
        422 if form.is_submitted() else 200,
        scheme=scheme,
        form=form,
        done=request.args.get("done"),
    )


# -- staff and roles ---------------------------------------------------------------------


def _staff_page(status: int = 200, *, invite: InviteForm | None = None, error: str = "") -> Any:
    scheme = current_scheme()
    return render(
        "staff.html",
        status,
        users=staff_admin.municipality_staff(db(), scheme.id),
        owners=staff_admin.shop_owners(db(), scheme.id),
        me=current_staff().user.id,
        invite=invite or InviteForm(formdata=None),
        role_form=RoleForm(formdata=None),
        error=error,
        done=request.args.get("done"),
    )


@bp.get("/staff")
@staff_required(*ADMIN)
def staff() -> Any:
    """The municipality's admins and analysts."""
    return _staff_page()


def _send_invitation(user: StaffUser) -> None:
    hours = max(1, RESET_MAX_AGE // 3600)
    name = current_scheme().name
    mail.send(
        current_app.config,
        user.email,
        # The scheme's name is chosen in its settings: quoted in the body only.
        _("Invitation to a dashboard of Lokaal Sparen"),
        _(
            "Hello,\n\nYou are invited to the dashboard of “%(municipality)s” on "
            "Lokaal Sparen.",
            municipality=name,
        )
        + "\n\n"
        + ngettext(
            "Open this link within %(num)d hour to choose your password:",
            "Open this link within %(num)d hours to choose your password:",
            hours,
        )
        + f"\n\n{password_link(user)}\n\nLokaal Sparen",
    )


@bp.post("/staff/invite")
@staff_required(*ADMIN)
def staff_invite() -> Any:
    """A new admin or analyst: an account without a usable password, and an e-mail."""
    form = InviteForm()
    if not form.validate_on_submit():
        return _staff_page(422, invite=form)
    try:
        user = staff_admin.invite(
            db(), current_scheme(), current_staff().user,
            form.email.data or "", form.role.data or "",
        )
    except Conflict:
        form.email.errors = [
            _("This e-mail address already has an account. Choose another address.")
        ]
        return _staff_page(422, invite=form)
    except InvalidInput:
        form.email.errors = [_("This is not a valid e-mail address.")]
        return _staff_page(422, invite=form)
    try:
        # Sent before the request commits: if the mail server refuses, the
        # error status rolls the account (and its audit entry) back.
        _send_invitation(user)
    except (OSError, smtplib.SMTPException):
        current_app.logger.exception("invitation e-mail to municipality staff failed")
        form.email.errors = [_("The e-mail could not be sent. Try again in a few minutes.")]
        return _staff_page(503, invite=form)
    return redirect(url_for("dashboard.staff", done="invited"), 303)


def _member(user_id: int) -> StaffUser:
    try:
        return staff_admin.get_member(db(), current_scheme().id, user_id)
    except NotFound:
        abort(404)


def _last_admin_message(error: Conflict) -> str:
    if error.code == "self":
        return _("You cannot deactivate yourself.")
    return _("The municipality needs at least one active admin.")


@bp.post("/staff/<int:user_id>/role")
@staff_required(*ADMIN)
def staff_role(user_id: int) -> Any:
    form = RoleForm()
    if not form.validate_on_submit():
        abort(400)
    user = _member(user_id)
    try:
        staff_admin.change_role(db(), current_staff().user, user, form.role.data or "")
    except Conflict as error:
        return _staff_page(409, error=_last_admin_message(error))
    return redirect(url_for("dashboard.staff", done="role"), 303)


@bp.post("/staff/<int:user_id>/deactivate")
@staff_required(*ADMIN)
def staff_deactivate(user_id: int) -> Any:
    if not ActionForm().validate_on_submit():
        abort(400)
    user = _member(user_id)
    if user.id != current_staff().user.id and not confirm.confirmed():
        return confirm.ask(render, confirm.Question(
            _("Deactivate %(email)s?", email=user.email),
            _("They are signed out everywhere at once and can no longer sign in. An admin can "
              "let them back in later with a new invitation."),
            _("Yes, deactivate"), url_for("dashboard.staff")))
    try:
        staff_admin.deactivate(db(), current_staff().user, user, utcnow())
    except Conflict as error:
        return _staff_page(409, error=_last_admin_message(error))
    return redirect(url_for("dashboard.staff", done="deactivated"), 303)


@bp.get("/staff/<int:user_id>/two-factor")
@staff_required(*ADMIN)
def staff_two_factor(user_id: int) -> Any:
    """Ask for confirmation before resetting someone's two-factor sign-in."""
    try:
        user = staff_admin.two_factor_member(db(), current_scheme().id, user_id)
    except NotFound:
        abort(404)
    return render("two_factor_reset.html", user=user, form=ActionForm(),
                   me=current_staff().user.id)


@bp.post("/staff/<int:user_id>/two-factor")
@staff_required(*ADMIN)
def staff_two_factor_reset(user_id: int) -> Any:
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        user = staff_admin.two_factor_member(db(), current_scheme().id, user_id)
        staff_admin.reset_two_factor(db(), current_staff().user, user, utcnow())
    except NotFound:
        abort(404)
    except Conflict:
        return _staff_page(409, error=_("Ask another admin to reset your own two-factor sign-in."))
    return redirect(url_for("dashboard.staff", done="two_factor"), 303)


# -- the audit log -----------------------------------------------------------------------


ACTION_LABELS = {
    "merchant.approve": _l("Shop approved"),
    "merchant.refuse": _l("Shop refused"),
    "merchant.suspend": _l("Shop suspended"),
    "merchant.create": _l("Shop added"),
    "merchant.town_service": _l("Municipal service changed"),
    "scheme.settings": _l("Settings changed"),
    "staff.invite": _l("Staff member invited"),
    "staff.reactivate": _l("Staff member let back in"),
    "staff.role": _l("Role changed"),
    "staff.deactivate": _l("Staff member deactivated"),
    "staff.totp_reset": _l("Two-factor sign-in reset"),
    "fraud.dismiss": _l("Fraud flag dismissed"),
    "fraud.close": _l("Fraud flag closed"),
    "wallet.freeze": _l("Wallet frozen"),
    "wallet.unfreeze": _l("Wallet unfrozen"),
    "till_key.create": _l("Till key made"),
    "till_key.revoke": _l("Till key revoked"),
    "stamp_card.create": _l("Stamp card made"),
    "campaign.create": _l("Campaign created"),
    "grant.create": _l("Grant created"),
    "event.create": _l("Event marked on the calendar"),
    "message.create": _l("Message to the shoppers posted"),
    "settlement.lock": _l("Month settled"),
    "funding.bank_transfer": _l("Bank transfer recorded"),
    "merchant.bank_account": _l("Shop's bank account changed"),
    "merchant.earn_rate": _l("Shop's points per euro changed"),
    "sale.correct": _l("Sale corrected by the shop"),
    "published_text.change": _l("Published text changed"),
    "published_text.default": _l("Published text back to the default"),
    "cluster.create": _l("Shopping cluster added"),
    "cluster.delete": _l("Shopping cluster removed"),
    "merchant.place": _l("Shop's village and cluster set"),
    "footfall.counter": _l("Footfall counter assigned"),
    "footfall.import": _l("Footfall counts uploaded"),
}


# The words of an audit entry's details (loyalty.oversight.audit records keys).
DETAIL_LABELS = {
    "amount_cents": _l("amount"),
    "bank_reference": _l("bank reference"),
    "budget_cents": _l("budget"),
    "campaign": _l("campaign"),
    "changes": _l("changes"),
    "characters": _l("characters"),
    "claims_cancelled": _l("open sales cancelled"),
    "cluster": _l("shopping cluster"),
    "counter": _l("counter"),
    "counters": _l("counters"),
    "counts": _l("hourly counts"),
    "control_sum_cents": _l("control sum"),
    "event": _l("event"),
    "grant": _l("grant"),
    "flag": _l("flag"),
    "from": _l("from"),
    "language": _l("language"),
    "name": _l("name"),
    "new_iban": _l("new IBAN"),
    "note": _l("note"),
    "old_iban": _l("old IBAN"),
    "period": _l("period"),
    "points_not_recovered": _l("points already spent (the shop's loss)"),
    "points_taken_back": _l("points taken back"),
    "reason": _l("reason"),
    "role": _l("role"),
    "sale": _l("sale"),
    "rule": _l("rule"),
    "sector": _l("sector"),
    "sessions_ended": _l("sessions ended"),
    "shops": _l("shops"),
    "text": _l("text"),
    "till_keys_revoked": _l("till keys revoked"),
    "to": _l("to"),
    "version": _l("version"),
    "village": _l("village"),
}


def _detail_value(key: str, value: Any) -> str:
    if key in ("sale", "flag") and isinstance(value, int):
        return f"#{value}"  # an id, not a quantity: no thousands separator
    if key == "period" and isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}", value):
        return i18n.month(value)
    if key == "text" and value in published.TITLES:
        return published.title(value)
    if key == "language" and value in published.LANGUAGE_LABELS:
        return published.language_label(value)
    if key.endswith("_cents") and isinstance(value, int):
        return i18n.euro(value)
    if isinstance(value, bool):
        return str(_("yes") if value else _("no"))
    if isinstance(value, int):
        return i18n.number(value)
    if isinstance(value, dict):
        # Settings changes: {name: [old, new]}.
        parts = []
        for name, change in value.items():
            pair = isinstance(change, list | tuple) and len(change) == 2
            old, new = change if pair else ("", change)
            parts.append(f"{name.replace('_', ' ')}: {_detail_value(name, old)} → "
                         f"{_detail_value(name, new)}")
        return ", ".join(parts)
    return str(value)


def audit_details(details: dict[str, Any] | None) -> list[tuple[str, str]]:
    """An entry's details as (label, text) in the reader's language and formats."""
    return [
        (str(DETAIL_LABELS.get(key, key.replace("_", " "))), _detail_value(key, value))
        for key, value in (details or {}).items()
    ]


def action_label(action: str) -> str:
    label = ACTION_LABELS.get(action)
    return str(label) if label else action


@bp.get("/audit")
@staff_required(*ADMIN)
def audit_log() -> Any:
    """Every admin action, newest first, filtered by action, person and period."""
    scheme = current_scheme()
    session = db()
    form = AuditFilterForm(request.args)
    form.action.choices = [("", _("All actions"))] + [
        (a, action_label(a)) for a in audit.actions_used(session, scheme.id)
    ]
    people = staff_admin.municipality_staff(session, scheme.id)
    form.actor.choices = [("", _("Everyone"))] + [(str(u.id), u.email) for u in people]
    valid = form.validate()
    where = audit.AuditFilter()
    if valid:
        actor = form.actor.data or ""
        where = audit.AuditFilter(
            action=form.action.data or None,
            actor_id=int(actor) if actor.isdigit() else None,
            since=form.since.data,
            until=form.until.data,
        )
    return render(
        "audit.html",
        200 if valid else 422,
        form=form,
        entries=audit.entries(session, scheme.id, where),
        limit=audit.PAGE_SIZE,
        action_label=action_label,
        audit_details=audit_details,
    )


# -- fraud flags -------------------------------------------------------------------------


def flag_reason(flag: FraudFlag, shop: str) -> str:
    """The flag's reason in the reader's language, from its rule and counts."""
    e = flag.evidence
    if flag.rule == fraud.Rule.WALLET_CLAIMS_AT_SHOP:
        return _(
            "Wallet #%(wallet)d collected points %(claims)d times in one day at %(shop)s "
            "(more than %(limit)d).",
            wallet=flag.subject_id,
            claims=e["claims"],
            shop=shop,
            limit=e["limit"],
        )
    if flag.rule == fraud.Rule.FEW_WALLETS:
        return _(
            "%(pct)s%% of the points given by %(shop)s in %(days)d days went to "
            "%(top)d of its %(wallets)d wallets.",
            pct=e["top_share_pct"],
            shop=shop,
            days=e["days"],
            top=e["top_wallets"],
            wallets=e["wallets"],
        )
    if flag.rule == fraud.Rule.REDEEM_AFTER_EARN:
        return _(
            "Wallet #%(wallet)d spent points %(count)d times at %(shop)s within %(minutes)d "
            "minutes after collecting points there.",
            wallet=flag.subject_id,
            count=e["redemptions"],
            shop=shop,
            minutes=e["minutes"],
        )
    if flag.rule == fraud.Rule.TILL_VELOCITY:
        return _(
            "A till of %(shop)s made %(claims)d sales with points in one day; "
            "usually %(usual)s a day.",
            shop=shop,
            claims=e["claims"],
            usual=e["usual_per_day"],
        )
    if flag.rule == fraud.Rule.REDEMPTION_SHARE:
        return _(
            "%(shop)s took %(spent)s%% of the points spent in %(days)d days, "
            "but gave %(earned)s%% of the points earned.",
            shop=shop,
            spent=e["redeemed_share_pct"],
            days=e["days"],
            earned=e["earned_share_pct"],
        )
    if flag.rule == fraud.Rule.SPEND_CODE_GUESSING:
        return _(
            "A till of %(shop)s looked up %(misses)d spend codes that do not exist "
            "within %(minutes)d minutes: it may be guessing codes.",
            shop=shop,
            misses=e["misses"],
            minutes=e["minutes"],
        )
    return flag.reason


RULE_LABELS = {
    fraud.Rule.WALLET_CLAIMS_AT_SHOP: _l("Collects very often at one shop"),
    fraud.Rule.FEW_WALLETS: _l("Shop's points go to very few wallets"),
    fraud.Rule.REDEEM_AFTER_EARN: _l("Spends right after collecting"),
    fraud.Rule.TILL_VELOCITY: _l("Till far busier than usual"),
    fraud.Rule.REDEMPTION_SHARE: _l("Takes far more points than it gives"),
    fraud.Rule.SPEND_CODE_GUESSING: _l("Guesses spend codes"),
}


# What each count of a flag's evidence is (loyalty.oversight.fraud writes these keys).
EVIDENCE_LABELS = {
    "claims": _l("Sales with points"),
    "points": _l("Points"),
    "limit": _l("Limit"),
    "wallets": _l("Wallets"),
    "top_wallets": _l("Top wallets"),
    "top_share_pct": _l("Share of the top wallets (%)"),
    "days": _l("Days"),
    "redemptions": _l("Spends"),
    "points_redeemed": _l("Points spent"),
    "points_earned": _l("Points earned"),
    "minutes": _l("Minutes"),
    "usual_per_day": _l("Usual per day"),
    "history_days": _l("Days of history"),
    "factor": _l("Factor"),
    "redeemed_share_pct": _l("Share of the points spent (%)"),
    "earned_share_pct": _l("Share of the points earned (%)"),
    "misses": _l("Unknown spend codes"),
}


def _flags_page(
    status: int = 200, *, errors: dict[int, str] | None = None, forms: dict[int, Any] | None = None
) -> Any:
    scheme = current_scheme()
    session = db()
    shown = request.args.get("status", FlagStatus.OPEN)
    if shown not in ("open", "dismissed", "acted", "all"):
        shown = "open"
    found = fraud.flags(session, scheme.id, None if shown == "all" else shown)
    frozen = fraud.frozen_wallets(
        session, [f.subject_id for f in found if f.resolution == "wallet_frozen"]
    )
    names = dict(
        session.execute(
            sa.select(Merchant.id, Merchant.name).where(Merchant.scheme_id == scheme.id)
        ).all()
    )
    return render(
        "fraud.html",
        status,
        flags=found,
        frozen=frozen,
        shown=shown,
        names=names,
        reason=lambda f: flag_reason(f, names.get(f.merchant_id, "?")),
        rule_label=lambda rule: str(RULE_LABELS.get(rule, rule)),
        day=lambda d: format_date(d, "long"),
        evidence_label=lambda key: str(EVIDENCE_LABELS.get(key, key)),
        errors=errors or {},
        forms=forms or {},
        blank=FlagNoteForm(formdata=None),
        done=request.args.get("done"),
    )


@bp.get("/fraud")
@staff_required(*ADMIN)
def fraud_flags() -> Any:
    """Open fraud flags (or dismissed, acted on, all), with what can be done."""
    return _flags_page()


def _fraud_question(action: str, flag: FraudFlag) -> confirm.Question:
    back = url_for("dashboard.fraud_flags")
    if action == "freeze":
        return confirm.Question(
            _("Freeze wallet #%(id)d?", id=flag.subject_id),
            _("The wallet can no longer collect or spend points until an admin unfreezes it. "
              "Its points stay."),
            _("Yes, freeze"), back)
    return suspension_question(db().get_one(Merchant, flag.merchant_id).name, back)


@bp.post("/fraud/<int:flag_id>/<action>")
@staff_required(*ADMIN)
def fraud_act(flag_id: int, action: str) -> Any:
    """Dismiss a flag with a note, freeze its wallet or suspend its shop."""
    if action not in ("dismiss", "freeze", "suspend", "unfreeze"):
        abort(404)
    form = FlagNoteForm()
    try:
        flag = fraud.get_flag(db(), current_scheme().id, flag_id)
    except NotFound:
        abort(404)
    if not form.validate_on_submit():
        if form.csrf_token.errors:
            abort(400)
        return _flags_page(422, errors={flag.id: " ".join(form.note.errors)}, forms={flag.id: form})
    actor, now, note = current_staff().user, utcnow(), form.note.data or ""
    if action in ("freeze", "suspend") and flag.status == FlagStatus.OPEN \
            and not confirm.confirmed():
        return confirm.ask(render, _fraud_question(action, flag))
    try:
        if action == "dismiss":
            fraud.dismiss(db(), flag, actor, note, now)
        elif action == "freeze":
            fraud.freeze_wallet(db(), flag, actor, note, now)
        elif action == "unfreeze":
            fraud.unfreeze_wallet(db(), flag, actor, note, now)
        else:
            fraud.suspend_shop(db(), flag, actor, note, now)
    except InvalidInput as error:
        db().rollback()  # the page below shows the flags as they are
        message = (
            _("Write a note that says why the flag is dismissed.")
            if error.code == "note_required"
            else _("The note is too long.")
        )
        return _flags_page(422, errors={flag.id: message}, forms={flag.id: form})
    except Conflict as error:
        db().rollback()
        message = {
            "not_a_wallet": _("This flag is not about a wallet."),
            "wallet_deleted": _("The owner deleted this wallet; there is nothing to freeze."),
            "not_frozen": _("This wallet is not frozen."),
        }.get(error.code, _("Someone already dealt with this flag."))
        return _flags_page(409, errors={flag.id: message}, forms={flag.id: form})
    return redirect(url_for("dashboard.fraud_flags", done=action), 303)


# -- comparison of municipalities --------------------------------------------------------

COMPARISON_DAYS = 365


@bp.get("/compare")
@staff_required(*STAFF)
def compare() -> Any:
    """Figures per inhabitant of the municipalities that share them, side by side."""
    scheme = current_scheme()
    today = utcnow().astimezone(ZoneInfo(scheme.timezone)).date()
    form = PeriodForm(request.args)
    valid = form.validate()
    last = (valid and form.until.data) or today - timedelta(days=1)
    first = (valid and form.since.data) or last - timedelta(days=COMPARISON_DAYS - 1)
    if first > last:
        form.until.errors = [_("The end comes before the start.")]
        valid = False
        last = today - timedelta(days=1)
        first = last - timedelta(days=COMPARISON_DAYS - 1)
    # Sharing is mutual: a municipality that keeps its figures to itself sees no one else's.
    figures: list[Any] = []
    lag = until = None
    if scheme.compare_opt_in:
        # A report of every town: a read replica may answer it (loyalty.web.replica).
        read = replica.read(lambda reads: comparison.compare(reads, first, last, today))
        figures, until, lag = read.value.figures, read.value.released_until, read.lag_notice
    return render(
        "compare.html",
        200 if valid else 422,
        scheme=scheme,
        form=form,
        figures=figures,
        first=first,
        last=last,
        released_until=until,
        day=lambda d: format_date(d, "long"),
        is_admin=current_staff().role == Role.MUNICIPALITY_ADMIN,
        replica_lag=lag,
    )

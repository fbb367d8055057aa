"""The shop owner's pages: stamp cards, team and tills, shop profile.

Routes on the portal blueprint, for the role merchant_owner only.
"""

from __future__ import annotations

import smtplib
from typing import Any

from flask import abort, current_app, redirect, request, url_for
from flask_babel import get_locale, ngettext
from flask_babel import gettext as _

from loyalty.access import staff
from loyalty.earning import stamps
from loyalty.errors import Conflict, Forbidden, InvalidInput, NotFound
from loyalty.infra import mail
from loyalty.infra.db import utcnow
from loyalty.models import Merchant, Role, StaffUser
from loyalty.money.settlement import bank_accounts
from loyalty.shops import team
from loyalty.town import sectors
from loyalty.web import confirm, db, public_url
from loyalty.web.signin import current_staff, staff_required
from loyalty.web.signin.views import RESET_MAX_AGE, password_link
from merchant_portal.common import NOT_APPROVED, OWNER, bp, current_merchant, render
from merchant_portal.forms import ActionForm
from merchant_portal.owner_forms import (
    InviteForm,
    LogoForm,
    ProfileForm,
    RemoveLogoForm,
    StampCardForm,
    TillKeyForm,
)

# -- stamp cards -------------------------------------------------------------------


@bp.route("/stamp-cards", methods=["GET", "POST"])
@staff_required(*OWNER)
def stamp_cards() -> Any:
    """The shop's stamp cards, and a form to define a new one."""
    merchant = current_merchant()
    form = StampCardForm()
    if form.validate_on_submit():
        try:
            stamps.create_card(
                db(),
                merchant,
                name=form.name.data or "",
                stamps_needed=form.stamps_needed.data or 0,
                reward=form.reward.data or "",
                voucher_valid_days=form.voucher_valid_days.data,
            )
        except InvalidInput:
            # The form checks the same limits first: this is the domain's last word.
            form.name.errors = [_("Check the name, the number of stamps and the reward.")]
        else:
            return redirect(url_for("portal.stamp_cards", done="created"), 303)
    return render(
        "owner_stamp_cards.html",
        422 if form.is_submitted() else 200,
        form=form,
        cards=team.cards_of_shop(db(), merchant.id),
        done=request.args.get("done"),
    )


@bp.post("/stamp-cards/<int:card_id>/deactivate")
@staff_required(*OWNER)
def stamp_cards_deactivate(card_id: int) -> Any:
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        card = team.card_of(db(), current_merchant(), card_id)
    except NotFound:
        abort(404)
    if not confirm.confirmed():
        return confirm.ask(render, confirm.Question(
            _("Deactivate the stamp card “%(card)s”?", card=card.name),
            _("Shoppers can no longer collect stamps on it. Stamps they already have and "
              "rewards they already earned stay valid."),
            _("Yes, deactivate"), url_for("portal.stamp_cards")))
    try:
        team.deactivate_card(db(), current_merchant(), card_id)
    except NotFound:
        abort(404)
    return redirect(url_for("portal.stamp_cards", done="deactivated"), 303)


# -- team and tills ----------------------------------------------------------------


def _team_page(
    status: int = 200,
    *,
    invite: InviteForm | None = None,
    key_form: TillKeyForm | None = None,
    new_key: str | None = None,
) -> Any:
    merchant = current_merchant()
    session = db()
    return render(
        "owner_team.html",
        status,
        merchant=merchant,
        me=current_staff().user.id,
        users=team.staff_of_shop(session, merchant.id),
        keys=team.till_keys_of_shop(session, merchant.id),
        invite=invite or InviteForm(formdata=None),
        key_form=key_form or TillKeyForm(formdata=None),
        new_key=new_key,
        done=request.args.get("done"),
    )


# Endpoint "team"; the function has another name so as not to hide loyalty.shops.team.
@bp.get("/team", endpoint="team")
@staff_required(*OWNER)
def team_page() -> Any:
    """The shop's staff and till keys."""
    return _team_page()




def _send_invitation(merchant: Merchant, user: StaffUser) -> None:
    hours = max(1, RESET_MAX_AGE // 3600)
    mail.send(
        current_app.config,
        user.email,
        # The shop's name is its own choice: quoted in the body, never the
        # subject or the first words (a name can pose as anyone).
        _("Invitation to a shop's till on Lokaal Sparen"),
        _(
            "Hello,\n\nYou are invited to give and take points on Lokaal Sparen at the till "
            "of the shop “%(shop)s”.",
            shop=merchant.name,
        )
        + "\n\n"
        + ngettext(
            "Open this link within %(num)d hour to choose your password:",
            "Open this link within %(num)d hours to choose your password:",
            hours,
        )
        + f"\n\n{password_link(user)}\n\n"
        + _(
            "Then sign in at %(login)s with this e-mail address. Has the link expired? "
            "Choose “Forgot your password?” on that page.\n\nLokaal Sparen",
            login=public_url(url_for("signin.login")),
        ),
    )


@bp.post("/team/invite")
@staff_required(*OWNER)
def team_invite() -> Any:
    """A new cashier: an account without a usable password, and an e-mail to choose one."""
    form = InviteForm()
    if not form.validate_on_submit():
        return _team_page(422, invite=form)
    merchant = current_merchant()
    try:
        user = team.invite_cashier(db(), merchant, form.email.data or "")
    except Forbidden:
        form.email.errors = [str(NOT_APPROVED)]
        return _team_page(403, invite=form)
    except Conflict:
        form.email.errors = [
            _("This e-mail address already has an account. Choose another address.")
        ]
        return _team_page(422, invite=form)
    except InvalidInput:
        form.email.errors = [_("This is not a valid e-mail address.")]
        return _team_page(422, invite=form)
    try:
        # Sent before the request commits: if the mail server refuses, the
        # error status rolls the new account back and the owner can retry.
        _send_invitation(merchant, user)
    except (OSError, smtplib.SMTPException):
        current_app.logger.exception("invitation e-mail to a cashier failed")
        form.email.errors = [_("The e-mail could not be sent. Try again in a few minutes.")]
        return _team_page(503, invite=form)
    return redirect(url_for("portal.team", done="invited"), 303)


@bp.post("/team/users/<int:user_id>/deactivate")
@staff_required(*OWNER)
def team_deactivate(user_id: int) -> Any:
    """Shut a cashier out; their open sessions end at once."""
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        cashier = team.cashier_of(db(), current_merchant(), user_id)
    except NotFound:
        abort(404)
    except Forbidden:  # an owner's account: not through this button
        abort(403)
    if not confirm.confirmed():
        return confirm.ask(render, confirm.Question(
            _("Deactivate %(email)s?", email=cashier.email),
            _("They are signed out on every device at once and can no longer sign in."),
            _("Yes, deactivate"), url_for("portal.team")))
    try:
        team.deactivate_cashier(db(), current_merchant(), user_id, utcnow())
    except NotFound:
        abort(404)
    except Forbidden:  # an owner's account: not through this button
        abort(403)
    return redirect(url_for("portal.team", done="deactivated"), 303)


@bp.post("/team/keys")
@staff_required(*OWNER)
def team_keys() -> Any:
    """A new till key, shown on this one answer only: it is stored hashed."""
    form = TillKeyForm()
    if not form.validate_on_submit():
        return _team_page(422, key_form=form)
    label = (form.label.data or "").strip() or None
    try:
        new = staff.create_till_key(db(), current_merchant(), utcnow(), label=label)
    except Forbidden:
        form.label.errors = [str(NOT_APPROVED)]
        return _team_page(403, key_form=form)
    return _team_page(201, new_key=new.secret)


@bp.post("/team/keys/<int:key_id>/revoke")
@staff_required(*OWNER)
def team_keys_revoke(key_id: int) -> Any:
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        key = staff.till_key_of(db(), current_merchant(), key_id)
    except NotFound:
        abort(404)
    if not confirm.confirmed():
        return confirm.ask(render, confirm.Question(
            _("Revoke the till key “%(key)s”?", key=key.label or key.prefix),
            _("The till or cash register that uses it can no longer give points or take "
              "spend codes until it gets a new key."),
            _("Yes, revoke"), url_for("portal.team")))
    try:
        staff.revoke_till_key(db(), current_merchant(), key_id, utcnow())
    except NotFound:
        abort(404)
    return redirect(url_for("portal.team", done="revoked"), 303)


# -- shop profile ------------------------------------------------------------------


def _sector_choices(merchant: Merchant) -> list[tuple[str, str]]:
    """The sectors of the scheme's shops and the shop's own, code first: labels are long."""
    lang = str(get_locale() or "nl")
    codes = set(team.sectors_in_scheme(db(), merchant.scheme_id)) | {merchant.sector}
    return [(code, f"{code} · {sectors.label(code, lang)}") for code in sorted(codes)]


def _profile_error(form: ProfileForm, error: InvalidInput) -> None:
    """Put the domain's objection next to the field it is about."""
    where = {
        "invalid_postcode": (
            form.postcode,
            _("Type a Belgian postcode of four digits, such as 9170."),
        ),
        "unknown_sector": (form.sector, _("Choose a sector from the list.")),
        "invalid_email": (form.email, _("This is not a valid e-mail address.")),
        "address_too_long": (form.address, _("The address is too long.")),
        "opening_hours_too_long": (form.opening_hours, _("The opening hours are too long.")),
        "invalid_iban": (
            form.iban,
            _("This is not a valid IBAN. Check it on your bank card or statement."),
        ),
        "invalid_bic": (form.bic, _("This is not a valid BIC, such as GEBABEBB.")),
        "bic_needed": (form.bic, _("Type the BIC of your bank, such as GEBABEBB.")),
        "invalid_holder": (form.account_holder, _("Type the name of the account holder.")),
        "wrong_password": (
            form.password,
            _("Type your password correctly to change the bank account."),
        ),
    }
    field, message = where.get(error.code, (form.address, _("This is not possible.")))
    field.errors = [message]


def _save_bank_account(merchant: Merchant, form: ProfileForm) -> bank_accounts.BankChange | None:
    """Set the payout account, or remove it when every bank field is empty."""
    return bank_accounts.change_merchant_bank_account(
        db(),
        merchant,
        current_staff().user,
        form.password.data or "",
        (form.iban.data or "").strip(),
        (form.bic.data or "").strip(),
        (form.account_holder.data or "").strip(),
        utcnow(),
    )


def _tell_owners(merchant: Merchant, shop_email: str, change: bank_accounts.BankChange) -> None:
    """E-mail the shop's owners and its address (as it was before this change) about a
    new bank account: a stolen session must not move the payouts unnoticed."""
    owners = {
        user.email for user in team.staff_of_shop(db(), merchant.id)
        if user.role == Role.MERCHANT_OWNER and user.active
    }
    for address in sorted(owners | {shop_email}):
        mail.send(
            current_app.config,
            address,
            _("The bank account of your shop on Lokaal Sparen was changed"),
            _(
                "Hello,\n\nThe bank account for the payouts of the shop “%(shop)s” on "
                "Lokaal Sparen was changed by %(who)s.\n\nOld account: %(old)s\n"
                "New account: %(new)s\n\nDid you not do this? Change your password and "
                "tell the municipality at once.\n\nLokaal Sparen",
                shop=merchant.name,
                who=current_staff().user.email,
                old=change.old_iban,
                new=change.new_iban,
            ),
        )


@bp.route("/profile", methods=["GET", "POST"])
@staff_required(*OWNER)
def profile(logo_form: Any = None, http_status: int | None = None) -> Any:
    """What shoppers and the municipality see of the shop: address, hours, sector, e-mail."""
    merchant = current_merchant()
    # When the logo form failed, the profile form shows the shop as it is.
    form = ProfileForm(obj=merchant) if logo_form is None else ProfileForm(None, obj=merchant)
    form.sector.choices = _sector_choices(merchant)
    if logo_form is None and form.validate_on_submit():
        shop_email = merchant.email
        try:
            team.update_profile(
                db(),
                merchant,
                address=form.address.data,
                postcode=form.postcode.data or "",
                opening_hours=form.opening_hours.data,
                sector=form.sector.data or "",
                email=form.email.data or "",
            )
            change = _save_bank_account(merchant, form)
            if change is not None:
                # Sent before the request commits: if the mail server refuses,
                # the error status rolls the change back.
                _tell_owners(merchant, shop_email, change)
        except InvalidInput as error:
            # The error status rolls back whatever was already changed.
            _profile_error(form, error)
        except (OSError, smtplib.SMTPException):
            current_app.logger.exception("bank account notice to a shop failed")
            form.iban.errors = [_("The e-mail could not be sent. Try again in a few minutes.")]
            http_status = 503
        else:
            return redirect(url_for("portal.profile", done="saved"), 303)
    if http_status is None:
        http_status = 422 if form.is_submitted() else 200
    return render(
        "owner_profile.html",
        http_status,
        form=form,
        logo_form=logo_form or LogoForm(None),
        merchant=merchant,
        done=request.args.get("done"),
    )


@bp.post("/profile/logo")
@staff_required(*OWNER)
def profile_logo() -> Any:
    """Upload the shop's logo (a separate form: a file upload needs multipart)."""
    form = LogoForm()
    merchant = current_merchant()
    if form.validate_on_submit():
        upload = form.logo.data
        try:
            team.set_logo(db(), merchant, upload.read(team.MAX_LOGO_BYTES + 1), utcnow())
        except InvalidInput as error:
            form.logo.errors = [_logo_error(error.code)]
        else:
            return redirect(url_for("portal.profile", done="logo"), 303)
    return profile(logo_form=form, http_status=422)


@bp.post("/profile/logo/remove")
@staff_required(*OWNER)
def profile_logo_remove() -> Any:
    if not RemoveLogoForm().validate_on_submit():
        abort(400)
    if not confirm.confirmed():
        return confirm.ask(render, confirm.Question(
            _("Remove the logo?"),
            _("The shop directory then shows your shop without a logo. You can upload one "
              "again at any time."),
            _("Yes, remove"), url_for("portal.profile")))
    team.remove_logo(db(), current_merchant())
    return redirect(url_for("portal.profile", done="logo"), 303)


def _logo_error(code: str) -> str:
    return {
        "logo_too_large": _("The logo may be at most 200 kB."),
        "logo_type": _("The logo must be a PNG, JPEG or WebP image."),
    }.get(code, _("Choose an image file."))

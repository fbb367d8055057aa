"""Gift vouchers (cadeaubonnen): buying one by Stripe Checkout, redeeming a code,
the printable voucher with its QR, and companies' orders paid by bank transfer."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import sqlalchemy as sa
import stripe
from flask import Response, current_app, redirect, request, url_for
from flask_babel import gettext
from flask_babel import gettext as _

from consumer_web import cookie
from consumer_web.common import bp, current_language, page, problem, town_wallet
from consumer_web.forms import BuyVoucherForm, CompanyOrderForm, RedeemVoucherForm
from loyalty.errors import InvalidInput, LoyaltyError
from loyalty.infra import qr
from loyalty.infra.db import utcnow
from loyalty.models import GiftVoucherOrder, Scheme
from loyalty.money import euros, voucher_invoice, vouchers
from loyalty.money.settlement.payouts import stripe_settings
from loyalty.web import attachment, db, i18n, public_url, voucher_mail
from loyalty.web.i18n import euro

STRIPE_CHECKOUT = "https://checkout.stripe.com"


def _scheme() -> Scheme | None:
    """The town of the page: named by ``?town=``, else the phone's wallet's, else
    the only one."""
    session = db()
    town = request.args.get("town", "")
    if town.isdigit():
        return session.get(Scheme, int(town))
    wallet = cookie.current_wallet()
    if wallet is not None:
        return session.get_one(Scheme, wallet.scheme_id)
    found = session.scalars(sa.select(Scheme).limit(2)).all()
    return found[0] if len(found) == 1 else None


def _no_town() -> Response:
    return problem(_("Which town?"),
                   _("Open this page from the link on your town's website."), 404)


def _amount_choices(scheme: Scheme) -> list[tuple[str, str]]:
    return [(str(a), euro(a)) for a in vouchers.allowed_amounts(scheme)]


def _with_checkout_form_action(response: Response) -> Response:
    """The buy form's answer redirects to Stripe's page: the browser checks that
    redirect against form-action."""
    settings = stripe_settings(current_app.config)
    if settings is None:
        return response
    origin = STRIPE_CHECKOUT
    if settings.api_base:  # a test stub serves the page itself
        parts = urlsplit(settings.api_base)
        origin = f"{parts.scheme}://{parts.netloc}"
    response.headers["Content-Security-Policy"] = (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "object-src 'none'; base-uri 'self'; frame-ancestors 'none'; "
        f"form-action 'self' {origin}"
    )
    return response


def _buy_page(scheme: Scheme, form: BuyVoucherForm, status: int = 200,
              error: str | None = None) -> Response:
    return _with_checkout_form_action(page(
        "voucher_buy.html", status, scheme=scheme, form=form, error=error,
        stripe_enabled=stripe_settings(current_app.config) is not None,
        has_wallet=cookie.wallet_for_scheme(scheme.id) is not None,
    ))


@bp.get("/vouchers/buy")
def voucher_buy_page() -> Response:
    scheme = _scheme()
    if scheme is None:
        return _no_town()
    form = BuyVoucherForm(formdata=None)
    form.amount.choices = _amount_choices(scheme)
    return _buy_page(scheme, form)


@bp.post("/vouchers/buy")
def voucher_buy() -> Response:
    """Send the browser to Stripe Checkout; only Stripe's webhook credits anything."""
    scheme = _scheme()
    if scheme is None:
        return _no_town()
    form = BuyVoucherForm()
    form.amount.choices = _amount_choices(scheme)
    if not form.validate_on_submit():
        return _buy_page(scheme, form, 422)
    settings = stripe_settings(current_app.config)
    if settings is None:
        return _buy_page(scheme, form, 404, _("Paying online is not available in this town."))
    wallet = cookie.wallet_for_scheme(scheme.id)
    email = (form.email.data or "").strip()
    if form.recipient.data == "me" and wallet is None:
        form.recipient.errors = [_("You have no wallet in this town on this phone yet. "
                                   "Choose a gift, or collect points first.")]
        return _buy_page(scheme, form, 422)
    if form.recipient.data == "email" and not email:
        form.email.errors = [_("Fill in the recipient's e-mail address.")]
        return _buy_page(scheme, form, 422)
    amount = int(form.amount.data or 0)
    try:
        checkout = vouchers.create_checkout(
            settings, scheme, amount,
            purpose=vouchers.TOP_UP if form.recipient.data == "me" else vouchers.GIFT,
            wallet_id=wallet.id if form.recipient.data == "me" and wallet else None,
            recipient_email=email if form.recipient.data == "email" else None,
            # Stripe fills in {CHECKOUT_SESSION_ID}; url_for would escape the braces.
            success_url=public_url(url_for("consumer.voucher_paid"))
            + "?session_id={CHECKOUT_SESSION_ID}",
            cancel_url=public_url(url_for("consumer.voucher_buy_page", town=scheme.id)),
            locale=current_language(),
            product_name=_("Gift voucher of %(scheme)s", scheme=scheme.name),
        )
    except InvalidInput:
        form.amount.errors = [_("Choose an amount.")]
        return _buy_page(scheme, form, 422)
    except stripe.StripeError:
        current_app.logger.exception("creating a Stripe Checkout Session failed")
        return _buy_page(scheme, form, 503,
                         _("The payment service could not be reached. Nothing was charged; "
                           "try again later."))
    return redirect(checkout.url, 303)  # type: ignore[return-value]


@bp.get("/vouchers/paid")
def voucher_paid() -> Response:
    """Where Stripe sends the buyer back. The webhook may not have arrived yet."""
    session_id = request.args.get("session_id", "")
    session = db()
    credit = vouchers.top_up_of_session(session, session_id) if session_id else None
    voucher = vouchers.voucher_of_session(session, session_id) if session_id else None
    balance = None
    if credit is not None:
        wallet = cookie.wallet_for_scheme(credit.scheme_id)
        if wallet is not None and wallet.id == credit.wallet_id:
            balance = euros.balance(session, wallet)
    return page("voucher_paid.html", 200 if credit or voucher else 202, credit=credit,
                voucher=voucher, balance=balance)


@bp.get("/vouchers/card/<code>")
def voucher_card(code: str) -> Response:
    """The printable voucher: its QR opens the redeem page with the code filled in."""
    try:
        voucher = vouchers.find_voucher(db(), None, code)
    except LoyaltyError:
        return problem(_("Voucher not found"), _("We do not know this code. Check it."), 404)
    svg = qr.qr_svg(voucher_mail.redeem_link(voucher.code), title=_("Voucher QR code"))
    response = page("voucher_card.html", voucher=voucher, qr_svg=svg,
                    code=vouchers.display_code(voucher.code),
                    scheme=db().get_one(Scheme, voucher.scheme_id))
    response.headers["Cache-Control"] = "no-store"
    return response


def _redeem_page(form: RedeemVoucherForm, status: int = 200) -> Response:
    return page("voucher_redeem.html", status, form=form)


@bp.get("/vouchers/redeem")
def voucher_redeem_page() -> Response:
    """Typed, or opened by scanning the voucher's QR (the code comes in the link).
    A GET never redeems: link previews redeem nothing."""
    form = RedeemVoucherForm(formdata=None, data={"code": request.args.get("code", "")})
    return _redeem_page(form)


@bp.post("/vouchers/redeem")
def voucher_redeem() -> Response:
    form = RedeemVoucherForm()
    if not form.validate_on_submit():
        return _redeem_page(form, 422)
    session = db()
    try:
        voucher = vouchers.find_voucher(session, None, form.code.data or "")
    except LoyaltyError:
        form.code.errors = [_("We do not know this code. Check it and try again.")]
        return _redeem_page(form, 404)
    wallet, new_wallet = town_wallet(session, voucher.scheme_id)
    try:
        done = vouchers.redeem(session, voucher.code, wallet, utcnow())
    except LoyaltyError as error:
        messages = {
            "already_redeemed": _("This code was already used."),
            "voucher_expired": _("This voucher has expired."),
        }
        form.code.errors = [messages.get(
            error.code, _("Your wallet is frozen. Please contact the municipality."))]
        return _redeem_page(form, error.status)
    response = page("voucher_redeemed.html", done=done,
                    recovery_code=new_wallet.recovery_code if new_wallet else None)
    if new_wallet is not None:
        cookie.remember(response, wallet.scheme_id, new_wallet.token)
    return response


# -- company orders --------------------------------------------------------------------


def _order(token: str) -> GiftVoucherOrder | None:
    order_id = voucher_mail.order_of_token(token)
    return db().get(GiftVoucherOrder, order_id) if order_id is not None else None


def _company_page(scheme: Scheme, form: CompanyOrderForm, status: int = 200) -> Response:
    return page("voucher_company.html", status, scheme=scheme, form=form)


@bp.get("/vouchers/company")
def voucher_company_page() -> Response:
    scheme = _scheme()
    if scheme is None:
        return _no_town()
    form = CompanyOrderForm(formdata=None)
    form.amount.choices = _amount_choices(scheme)
    return _company_page(scheme, form)


@bp.post("/vouchers/company")
def voucher_company_order() -> Response:
    scheme = _scheme()
    if scheme is None:
        return _no_town()
    form = CompanyOrderForm()
    form.amount.choices = _amount_choices(scheme)
    if not form.validate_on_submit():
        return _company_page(scheme, form, 422)
    try:
        order = vouchers.create_order(
            db(), scheme, company_name=form.company_name.data or "",
            vat_number=form.vat_number.data or "", email=form.email.data or "",
            quantity=form.quantity.data or 0, amount_cents=int(form.amount.data or 0),
            now=utcnow(),
        )
    except InvalidInput as error:
        field: Any = {"invalid_vat_number": form.vat_number, "invalid_email": form.email,
                      "invalid_company_name": form.company_name,
                      "invalid_quantity": form.quantity}.get(error.code, form.amount)
        field.errors = [_("This value is not possible.") if field is not form.vat_number
                        else _("Fill in the VAT number, e.g. BE0123456789.")]
        return _company_page(scheme, form, 422)
    db().flush()  # the order's id, for its signed link
    return redirect(url_for("consumer.voucher_order", token=voucher_mail.order_token(order)),  # type: ignore[return-value]
                    303)


def _bank(scheme: Scheme) -> dict[str, Any]:
    iban = scheme.iban
    return {"iban": " ".join(iban[i : i + 4] for i in range(0, len(iban), 4)) if iban else None,
            "bic": scheme.bic, "name": scheme.name}


@bp.get("/vouchers/orders/<token>")
def voucher_order(token: str) -> Response:
    """The order's invoice, with the structured communication to pay with."""
    order = _order(token)
    if order is None:
        return problem(_("Order not found"), _("We do not know this link. Check it."), 404)
    return page("voucher_invoice.html", order=order,
                scheme=db().get_one(Scheme, order.scheme_id),
                communication=vouchers.communication(order),
                bank=_bank(db().get_one(Scheme, order.scheme_id)), token=token)


@bp.get("/vouchers/orders/<token>/invoice.pdf")
def voucher_order_pdf(token: str) -> Response:
    order = _order(token)
    if order is None:
        return problem(_("Order not found"), _("We do not know this link. Check it."), 404)
    pdf = voucher_invoice.invoice_pdf(order, db().get_one(Scheme, order.scheme_id), gettext,
                                      i18n.babel_locale())
    return attachment(pdf, "application/pdf", f"invoice-{order.reference}.pdf")


@bp.get("/vouchers/orders/<token>/codes.csv")
def voucher_order_codes(token: str) -> Response:
    """The company's codes, once its transfer is recorded."""
    order = _order(token)
    if order is None or order.paid_at is None:
        return problem(_("Not paid yet"),
                       _("The codes are ready once the municipality has received the "
                         "transfer."), 404)
    body = vouchers.codes_csv(db(), order, public_url(url_for("consumer.voucher_redeem_page")))
    return attachment(body, "text/csv", f"vouchers-{order.id}.csv")


"""The owner's prepaid balance: what the shop paid in advance, and topping it up.

With Stripe configured (STRIPE_SECRET_KEY) the owner pays by Stripe Checkout,
card or Bancontact: we create a Checkout Session and send the browser to
Stripe's page. The balance grows only when Stripe's signed webhook says the
money came in (loyalty.api.stripe_webhook), never on the return page. The
bank transfer instructions are shown always; without Stripe they are the only
way (the demo default).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

import sqlalchemy as sa
import stripe
from flask import current_app, redirect, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _

from loyalty.errors import InvalidInput
from loyalty.models import FundingMethod, Merchant, Prepayment
from loyalty.money import funding
from loyalty.web import db, public_url
from loyalty.web.signin import staff_required
from merchant_portal.common import OWNER, bp, current_merchant, render
from merchant_portal.owner_forms import TopUpForm

STRIPE_CHECKOUT = "https://checkout.stripe.com"


def _stripe() -> funding.StripeSettings | None:
    key = current_app.config.get("STRIPE_SECRET_KEY")
    if not key:
        return None
    return funding.StripeSettings(key, current_app.config.get("STRIPE_API_BASE"))


def _checkout_origin(settings: funding.StripeSettings) -> str:
    # Stripe's page is on checkout.stripe.com; a test stub serves it itself.
    if settings.api_base:
        parts = urlsplit(settings.api_base)
        return f"{parts.scheme}://{parts.netloc}"
    return STRIPE_CHECKOUT


def _bank_details(merchant: Merchant) -> dict[str, Any]:
    # The municipality's account of the scheme (`loyalty scheme-bank`): the one
    # that settlement payouts leave from receives the prepayments too.
    scheme = merchant.scheme
    iban = scheme.iban
    return {
        "iban": " ".join(iban[i : i + 4] for i in range(0, len(iban), 4)) if iban else None,
        "bic": scheme.bic,
        "name": scheme.name,
        "communication": funding.structured_communication(merchant.id),
    }


def _page(status: int = 200, form: TopUpForm | None = None, error: str | None = None) -> Any:
    merchant = current_merchant()
    session = db()
    settings = _stripe()
    response = render(
        "owner_funding.html",
        status,
        merchant=merchant,
        balance=funding.prepaid_balance(session, merchant),
        history=funding.prepayments_of(session, merchant.id),
        stripe_enabled=settings is not None,
        form=form or TopUpForm(formdata=None),
        error=error,
        bank=_bank_details(merchant),
        methods={
            FundingMethod.STRIPE: _("Card or Bancontact"),
            FundingMethod.BANK: _("Bank transfer"),
        },
    )
    if settings is not None:
        # The top-up form's answer redirects to Stripe's page: the browser
        # checks that redirect against form-action.
        response.headers["Content-Security-Policy"] = (
            "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
            "object-src 'none'; base-uri 'self'; frame-ancestors 'none'; "
            f"form-action 'self' {_checkout_origin(settings)}"
        )
    return response


# Endpoint "funding" (the menu's); the function has another name so as not to
# hide loyalty.money.funding.
@bp.get("/funding", endpoint="funding")
@staff_required(*OWNER)
def funding_page() -> Any:
    """The prepaid balance, its history, and how to top it up."""
    return _page()


@bp.post("/funding/top-up")
@staff_required(*OWNER)
def funding_top_up() -> Any:
    """Create a Stripe Checkout Session for the amount and send the browser to it."""
    settings = _stripe()
    if settings is None:
        return _page(404, error=_("Paying by card is not available. Use a bank transfer."))
    form = TopUpForm()
    if not form.validate_on_submit():
        return _page(422, form=form)
    merchant = current_merchant()
    cents = int((form.amount.data or Decimal(0)) * 100)
    try:
        checkout = funding.create_checkout(
            settings,
            merchant.scheme,
            merchant,
            cents,
            # Stripe fills in {CHECKOUT_SESSION_ID}; url_for would escape the braces.
            success_url=public_url(url_for("portal.funding_paid"))
            + "?session_id={CHECKOUT_SESSION_ID}",
            cancel_url=public_url(url_for("portal.funding_cancelled")),
            locale=str(get_locale()),
            product_name=_("Prepaid balance of %(shop)s at %(scheme)s",
                           shop=merchant.name, scheme=merchant.scheme.name),
        )
    except InvalidInput:
        form.amount.errors = [_("Type an amount from € 10 to € 10,000.")]
        return _page(422, form=form)
    except stripe.StripeError:
        current_app.logger.exception("creating a Stripe Checkout Session failed")
        return _page(
            503,
            form=form,
            error=_("Stripe could not be reached. Nothing was charged; try again later."),
        )
    return redirect(checkout.url, 303)


@bp.get("/funding/paid")
@staff_required(*OWNER)
def funding_paid() -> Any:
    """Stripe's return page after paying: credited already, or on its way."""
    merchant = current_merchant()
    session_id = (request.args.get("session_id") or "")[: funding.MAX_REFERENCE]
    payment = db().scalar(
        sa.select(Prepayment).where(
            Prepayment.merchant_id == merchant.id,
            Prepayment.method == FundingMethod.STRIPE,
            Prepayment.reference == session_id,
        )
    ) if session_id else None
    return render(
        "owner_funding_return.html",
        payment=payment,
        paid=True,
        balance=funding.prepaid_balance(db(), merchant),
    )


@bp.get("/funding/cancelled")
@staff_required(*OWNER)
def funding_cancelled() -> Any:
    return render(
        "owner_funding_return.html",
        payment=None,
        paid=False,
        balance=funding.prepaid_balance(db(), current_merchant()),
    )

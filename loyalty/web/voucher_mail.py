"""The e-mails of bought town money: a gift voucher to its recipient, a company's codes."""

from __future__ import annotations

import logging
import smtplib

from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _
from itsdangerous import BadSignature, URLSafeSerializer

from loyalty.infra import mail
from loyalty.models import GiftVoucher, GiftVoucherOrder, Scheme
from loyalty.money import vouchers
from loyalty.web import db, public_url
from loyalty.web.i18n import euro, long_date

log = logging.getLogger(__name__)


def redeem_link(code: str) -> str:
    return public_url(f"/vouchers/redeem?code={code}")


def _orders() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt="voucher-order")


def order_token(order: GiftVoucherOrder) -> str:
    """The signed part of an order's links (its invoice, its codes): the company
    keeps them, no account needed."""
    return str(_orders().dumps(order.id))


def order_of_token(token: str) -> int | None:
    try:
        order_id = _orders().loads(token)
    except BadSignature:
        return None
    return order_id if isinstance(order_id, int) else None


def order_csv_link(order: GiftVoucherOrder) -> str:
    return public_url(f"/vouchers/orders/{order_token(order)}/codes.csv")


def send_gift(voucher: GiftVoucher, language: str = "nl") -> None:
    """The code, its redeem link and its printable page with the QR, to the recipient.

    A failed delivery is logged, not raised: the voucher is paid and stays
    valid, and its printable page shows the code to the buyer too.
    """
    scheme = db().get_one(Scheme, voucher.scheme_id)
    to = voucher.recipient_email or ""
    with force_locale(language):
        subject = _("A gift voucher of %(amount)s for %(scheme)s",
                    amount=euro(voucher.amount_cents), scheme=scheme.name)
        body = "\n\n".join([
            _("Someone gave you a gift voucher of %(amount)s to spend in the shops of "
              "%(scheme)s.", amount=euro(voucher.amount_cents), scheme=scheme.name),
            _("Your code: %(code)s", code=vouchers.display_code(voucher.code)),
            _("Add it to your wallet on your phone: %(link)s", link=redeem_link(voucher.code)),
            _("Or print it with its QR code: %(link)s",
              link=public_url(f"/vouchers/card/{voucher.code}")),
            _("Valid until %(date)s.", date=long_date(voucher.expires_at)),
        ])
    try:
        mail.send(current_app.config, to, subject, body)
    except (OSError, smtplib.SMTPException):
        log.exception("the gift voucher #%d could not be mailed", voucher.id)


def send_order_codes(order: GiftVoucherOrder, language: str = "nl") -> None:
    """The company's link to the CSV of its codes, once its transfer is recorded."""
    scheme = db().get_one(Scheme, order.scheme_id)
    with force_locale(language):
        subject = _("Your %(count)d gift vouchers of %(scheme)s",
                    count=order.quantity, scheme=scheme.name)
        body = "\n\n".join([
            _("We received your payment of %(amount)s. Your vouchers are ready.",
              amount=euro(order.total_cents)),
            _("Download the codes (a CSV file, one code a line, with the link of its QR "
              "code): %(link)s", link=order_csv_link(order)),
        ])
    try:
        mail.send(current_app.config, order.email, subject, body)
    except (OSError, smtplib.SMTPException):
        log.exception("the codes of order #%d could not be mailed", order.id)

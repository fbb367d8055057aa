"""The dashboard's overview, and the shops with their applications to decide on."""

from __future__ import annotations

import logging
import smtplib
from typing import Any

import sqlalchemy as sa
from dateutil.relativedelta import relativedelta
from flask import abort, current_app, redirect, request, url_for
from flask_babel import force_locale, format_date, get_locale, gettext
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from markupsafe import Markup
from sqlalchemy.orm import Session

from loyalty.analytics import catalog, cells, period_release, periods, privacy, report_kit, rollups
from loyalty.earning import campaigns
from loyalty.infra import mail
from loyalty.models import (
    AccountKind,
    FlagStatus,
    FraudFlag,
    Merchant,
    MerchantStatus,
    Scheme,
)
from loyalty.money import accounts, ledger
from loyalty.shops import onboarding
from loyalty.town import sectors
from loyalty.web import charts, confirm, db, i18n, public_url, replica
from loyalty.web.signin import current_staff, staff_required
from municipality_dashboard.common import (
    ADMIN,
    STAFF,
    bp,
    current_scheme,
    render,
    suspension_question,
)
from municipality_dashboard.forms import ActionForm

log = logging.getLogger(__name__)


@bp.get("/")
@staff_required(*STAFF)
def home() -> Any:
    """The town at a glance: last month's spending, points outstanding, what needs doing."""
    scheme = current_scheme()
    session = db()
    counts = dict(
        session.execute(
            sa.select(Merchant.status, sa.func.count())
            .where(Merchant.scheme_id == scheme.id)
            .group_by(Merchant.status)
        ).all()
    )
    period = periods.parse(None, None, report_kit.today_local(scheme))
    lang = str(get_locale() or "nl")
    # Through the report catalogue, so the privacy rules apply here too; from a
    # replica when there is one. What needs doing (applications, flags) is read on
    # the primary, so an admin sees at once what they just did.
    read = replica.read(
        lambda reads: (catalog.build(reads, scheme, "sectors", period, lang),
                       _trend(reads, scheme, period), _shoppers(reads, scheme, period)),
        refresh=lambda primary: rollups.refresh_if_pending(primary, scheme),
    )
    spending, trend, shoppers = read.value
    liability = accounts.scheme_account(session, scheme.id, AccountKind.POINTS_LIABILITY)
    running = [
        figures
        for figures in campaigns.list_campaigns(session, scheme.id)
        if figures.status == campaigns.Status.ACTIVE
    ]
    open_flags = session.scalar(
        sa.select(sa.func.count())
        .select_from(FraudFlag)
        .where(FraudFlag.scheme_id == scheme.id, FraudFlag.status == FlagStatus.OPEN)
    )
    return render(
        "home.html",
        scheme=scheme,
        counts=counts,
        period=period,
        month=format_date(period.start, "MMMM y"),
        total=spending.public_total(),
        k=spending.k,
        shoppers=shoppers,
        liability_cents=ledger.balance(session, liability.id),
        running=running,
        open_flags=open_flags or 0,
        trend=trend,
        replica_lag=read.lag_notice,
    )


TREND_MONTHS = 12


def _shoppers(session: Session, scheme: Scheme,
              month: periods.Period) -> period_release.Figure | None:
    """Distinct shoppers of last month, as released once the month closed (with noise
    and its margin; analytics.period_release); None while it is not released, or
    when the noisy count is below k."""
    found = (period_release.released(session, scheme.id, month) or {}).get(
        "shoppers", {}).get("all")
    if found is None or found.shoppers < (scheme.k_anonymity or privacy.DEFAULT_K):
        return None
    return found


def _trend(session: Session, scheme: Scheme, last: periods.Period) -> Markup | None:
    """Spending per month over the last year up to ``last``, as a line (hidden months
    break it): sums of released cells with the privacy rules applied."""
    start = last.start - relativedelta(months=TREND_MONTHS - 1)
    rows = privacy.suppress(
        cells.released_cells(session, scheme, "month", periods.Period(start, last.end)),
        scheme.k_anonymity or privacy.DEFAULT_K)
    if not rows:
        return None
    items = [(i18n.short_month(cell.key), max(cell.amount_cents, 0)
              if cell.amount_cents is not None else None) for cell in rows]
    svg = charts.line(
        "chart-trend", gettext("Spending per month"),
        gettext("Spending with points per month, from %(start)s to %(end)s.",
                start=i18n.month(rows[0].key), end=i18n.month(rows[-1].key)),
        items, lambda value: i18n.euro(int(value)), gettext("hidden for privacy"),
    )
    # charts.py escapes every text it writes.
    return Markup(svg)  # noqa: S704  # nosec B704


@bp.get("/shops")
@staff_required(*ADMIN)
def shops() -> Any:
    scheme = current_scheme()
    lang = str(get_locale())
    merchants = db().scalars(
        sa.select(Merchant).where(Merchant.scheme_id == scheme.id).order_by(Merchant.name)
    ).all()
    return render(
        "shops.html",
        pending=onboarding.pending(db(), scheme.id),
        merchants=[m for m in merchants if m.status != MerchantStatus.PENDING],
        sector_label=lambda code: sectors.short_label(code, lang),
        form=ActionForm(),
        done=request.args.get("done"),
    )


def _shop_question(decision: str, shop: str) -> confirm.Question:
    back = url_for("dashboard.shops")
    if decision == "refuse":
        return confirm.Question(
            _("Refuse %(shop)s?", shop=shop),
            _("The application is refused: the shop cannot give points and is told by "
              "e-mail. It may apply again later."),
            _("Yes, refuse"), back)
    return suspension_question(shop, back)


@bp.post("/shops/<int:merchant_id>/<decision>")
@staff_required(*ADMIN)
def decide(merchant_id: int, decision: str) -> Any:
    if not ActionForm().validate_on_submit():
        abort(400)
    statuses = {
        "approve": MerchantStatus.APPROVED,
        "refuse": MerchantStatus.REFUSED,
        "suspend": MerchantStatus.SUSPENDED,
    }
    merchant = db().get(Merchant, merchant_id)
    # Another municipality's shop does not exist, as far as this one can tell.
    if decision not in statuses or merchant is None or merchant.scheme_id != current_scheme().id:
        abort(404)
    if decision != "approve" and not confirm.confirmed():
        return confirm.ask(render, _shop_question(decision, merchant.name))
    onboarding.decide(db(), merchant, statuses[decision], current_staff().user)
    done = None
    if decision in ("approve", "refuse"):
        done = "told" if _tell_the_shop(merchant, decision) else "not_told"
    return redirect(url_for("dashboard.shops", done=done), 303)


@bp.post("/shops/<int:merchant_id>/town-service")
@staff_required(*ADMIN)
def town_service(merchant_id: int) -> Any:
    """Mark a shop as a service of the municipality (never paid out), or undo it."""
    if not ActionForm().validate_on_submit():
        abort(400)
    merchant = db().get(Merchant, merchant_id)
    if merchant is None or merchant.scheme_id != current_scheme().id:
        abort(404)
    onboarding.set_town_service(db(), merchant, request.form.get("town_service") == "1",
                                current_staff().user)
    return redirect(url_for("dashboard.shops"), 303)


# The shop's own language is not known yet: the message says it in all three.
DECISION_MAILS = {
    "approve": (
        _l("Your shop is approved on Lokaal Sparen"),
        _l("Hello,\n\n%(municipality)s approved “%(shop)s” on Lokaal Sparen: from now on "
           "your shop gives points at its till and takes them as payment. Sign in with the "
           "e-mail address and password of your application:\n\n%(link)s\n\nThe till is "
           "the first page you see."),
    ),
    "refuse": (
        _l("Your application on Lokaal Sparen"),
        _l("Hello,\n\n%(municipality)s did not approve “%(shop)s” on Lokaal Sparen. Do you "
           "have questions, or is something to be corrected? Contact the municipality; you "
           "may apply again later."),
    ),
}


def _tell_the_shop(merchant: Merchant, decision: str) -> bool:
    """E-mail the shop its municipality's decision, in Dutch, French and English.
    False (and logged) when the mail server refused: the decision stands."""
    subject, body = DECISION_MAILS[decision]
    scheme = current_scheme()
    link = public_url(url_for("signin.login"))
    texts, subjects = [], []
    for lang in ("nl", "fr", "en"):
        with force_locale(lang):
            subjects.append(str(subject))
            texts.append(str(body) % {"municipality": scheme.name, "shop": merchant.name,
                                      "link": link})
    try:
        mail.send(current_app.config, merchant.email, " / ".join(dict.fromkeys(subjects)),
                  "\n\n".join(texts) + "\n\nLokaal Sparen\n")
    except (OSError, smtplib.SMTPException):
        log.warning("the decision e-mail to shop %s was not sent", merchant.id, exc_info=True)
        return False
    return True

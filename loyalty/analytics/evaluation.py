"""Did a campaign or an event bring more spending? Aggregates of purchase events only.

Campaigns: a difference-in-differences estimate. For each shop with sales in
both periods, d = ln(average daily spending during the campaign) - ln(average
daily spending in the weeks before). The effect is the mean d of the shops the
campaign covered minus the mean d of the other shops (each shop weighted by
its number of sales, see did_estimate): what changed in
participating shops beyond what changed everywhere (season, weather, paydays).
Collapsing each shop's days to one before and one during figure is OLS with
shop and period fixed effects on the collapsed panel; it keeps the standard
error honest under day-to-day correlation within a shop (Bertrand, Duflo and
Mullainathan 2004). The 95% interval uses the shops as clusters: Welch's
standard error of the two group means and a Student t with Welch-Satterthwaite
degrees of freedom. Pure Python: a few dozen shops need no numerical library.

Events: the whole town's spending on the event's days against the same
weekdays of the six weeks before (each earlier week is one draw of "a normal
week"; the interval is a prediction interval from their spread) and against
the same weekdays a year earlier (364 days back).

Privacy: figures are per group of shops, through analytics.privacy; a group of
fewer than 3 shops is not evaluated at all, since it would describe one shop.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from statistics import NormalDist, fmean, variance
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from babel.numbers import format_decimal
from sqlalchemy.orm import Session

from loyalty.analytics.privacy import MIN_SHOPS, Cell, suppress
from loyalty.earning import campaigns as campaign_rules
from loyalty.models import CalendarEvent, Campaign, Merchant, PurchaseEvent, Scheme

LEVEL = 0.95
MIN_BEFORE_DAYS = 28
BASELINE_WEEKS = 6
LAST_YEAR_DAYS = 364  # the same weekday a year earlier
CAMPAIGN_METHOD = (
    "difference-in-differences of log average daily spending per shop, before vs during, "
    "shops weighted by their number of sales; 95% interval from shop-clustered (Welch) "
    "standard errors"
)
EVENT_METHOD = (
    "log spending of the event days vs the same weekdays of the 6 weeks before; "
    "95% prediction interval from the spread of those weeks"
)
PERIODS = ("before", "during", "after")
GROUPS = ("participating", "other")


class NotEvaluable(Exception):
    """Too few shops, days or sales to say anything without revealing a shop."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Estimate:
    effect_pct: float
    ci_low_pct: float
    ci_high_pct: float
    method: str

    @property
    def clear(self) -> bool:
        """True when the interval does not contain zero."""
        return self.ci_low_pct > 0 or self.ci_high_pct < 0


@dataclass(frozen=True)
class Row:
    """One bar of the chart and one line of the table: a group of shops in a period."""

    group: str
    period: str
    start: date
    end: date
    cell: Cell  # amount, shoppers and shops of the group in the period, privacy applied
    daily_per_shop_cents: int | None  # average daily spending of one shop of the group


@dataclass(frozen=True)
class CampaignEvaluation:
    campaign: Campaign
    periods: dict[str, tuple[date, date]]
    rows: list[Row]
    estimate: Estimate
    participating_shops: int
    other_shops: int


# -- statistics ---------------------------------------------------------------


def _betacf(a: float, b: float, x: float) -> float:
    """Continued fraction of the incomplete beta function (Numerical Recipes, betacf)."""
    tiny = 1e-300
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 300):
        m2 = 2 * m
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        h *= d * c
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < 1e-12:
            break
    return h


def _incomplete_beta(a: float, b: float, x: float) -> float:
    if x <= 0:
        return 0.0
    if x >= 1:
        return 1.0
    front = math.exp(
        math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x)
        + b * math.log1p(-x)
    )
    if x < (a + 1) / (a + b + 2):
        return front * _betacf(a, b, x) / a
    return 1.0 - front * _betacf(b, a, 1 - x) / b


def t_cdf(t: float, df: float) -> float:
    """Student's t distribution function."""
    tail = 0.5 * _incomplete_beta(df / 2, 0.5, df / (df + t * t))
    return 1 - tail if t > 0 else tail


def t_quantile(p: float, df: float) -> float:
    """The p-quantile of Student's t (bisection on t_cdf; p > 0.5)."""
    if df > 1e6:
        return NormalDist().inv_cdf(p)
    lo, hi = 0.0, 1.0
    while t_cdf(hi, df) < p:
        hi *= 2
    for _ in range(100):
        mid = (lo + hi) / 2
        if t_cdf(mid, df) < p:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


def _pct(log_ratio: float) -> float:
    return round(100 * math.expm1(log_ratio), 1)


def _weighted(values: list[tuple[float, float]]) -> tuple[float, float]:
    """Weighted mean of (value, weight) pairs and the cluster-robust variance of that mean."""
    total = sum(w for _v, w in values)
    mean = sum(v * w for v, w in values) / total
    n = len(values)
    var = n / (n - 1) * sum((w * (v - mean)) ** 2 for v, w in values) / total**2
    return mean, var


def did_estimate(
    treated: list[tuple[float, float]], control: list[tuple[float, float]]
) -> Estimate:
    """Difference of the mean log changes of two groups of shops, with a Welch t interval.

    Each shop's change comes with a weight, the inverse of its Poisson sampling
    variance: a shop selling a bike a day says less than the baker. The variance
    of each group's mean is the cluster-robust (sandwich) one, so a wrong weight
    costs precision, not validity.
    """
    if len(treated) < MIN_SHOPS or len(control) < MIN_SHOPS:
        raise NotEvaluable("too_few_shops")
    mean_t, a = _weighted(treated)
    mean_c, b = _weighted(control)
    beta = mean_t - mean_c
    se = math.sqrt(a + b)
    if se == 0:
        return Estimate(_pct(beta), _pct(beta), _pct(beta), CAMPAIGN_METHOD)
    df = (a + b) ** 2 / (a * a / (len(treated) - 1) + b * b / (len(control) - 1))
    half = t_quantile(0.5 + LEVEL / 2, df) * se
    return Estimate(_pct(beta), _pct(beta - half), _pct(beta + half), CAMPAIGN_METHOD)


# -- campaigns ----------------------------------------------------------------


def local_dates(campaign: Campaign, tz: str) -> tuple[date, date]:
    """The first and last local day of a campaign (its end is exclusive)."""
    zone = ZoneInfo(tz)
    first = campaign.starts_at.astimezone(zone).date()
    last = (campaign.ends_at - timedelta(microseconds=1)).astimezone(zone).date()
    return first, last


def campaign_periods(
    campaign: Campaign, tz: str, today: date
) -> dict[str, tuple[date, date]]:
    """Before (at least 4 whole weeks), during, and after (as long as the campaign, to
    yesterday at most)."""
    first, last = local_dates(campaign, tz)
    length = (last - first).days + 1
    before_days = max(MIN_BEFORE_DAYS, -(-length // 7) * 7)
    periods = {
        "before": (first - timedelta(days=before_days), first - timedelta(days=1)),
        "during": (first, last),
    }
    after_end = min(last + timedelta(days=length), today - timedelta(days=1))
    if after_end > last:
        periods["after"] = (last + timedelta(days=1), after_end)
    return periods


def _days(period: tuple[date, date]) -> int:
    return (period[1] - period[0]).days + 1


def evaluate_campaign(
    session: Session, campaign: Campaign, now: datetime
) -> CampaignEvaluation:
    """The evaluation of an ended campaign. Raises NotEvaluable."""
    if now < campaign.ends_at:
        raise NotEvaluable("not_ended")
    scheme = session.get_one(Scheme, campaign.scheme_id)
    today = now.astimezone(ZoneInfo(scheme.timezone)).date()
    periods = campaign_periods(campaign, scheme.timezone, today)
    merchants = session.scalars(
        sa.select(Merchant).where(Merchant.scheme_id == scheme.id)
    ).all()
    treated_ids = {m.id for m in merchants if campaign_rules.covers(campaign, m)}

    period_of = sa.case(
        *[
            (PurchaseEvent.local_date.between(start, end), name)
            for name, (start, end) in periods.items()
        ],
        else_=None,
    )
    window = (min(p[0] for p in periods.values()), max(p[1] for p in periods.values()))
    in_scheme = [
        PurchaseEvent.scheme_id == scheme.id,
        PurchaseEvent.local_date.between(*window),
    ]
    # Tag each event once in a subquery: PostgreSQL accepts a GROUP BY on a
    # CASE only if it is the very same expression, bind parameters included.
    is_treated = PurchaseEvent.merchant_id.in_(treated_ids) if treated_ids else sa.false()
    tagged = (
        sa.select(
            period_of.label("period"),
            sa.case((is_treated, 1), else_=0).label("treated"),
            PurchaseEvent.merchant_id,
            PurchaseEvent.amount_cents,
            PurchaseEvent.shopper_key,
        )
        .where(*in_scheme)
        .subquery()
    )
    per_shop: dict[tuple[str, int], int] = {}
    sales: dict[tuple[str, int], int] = {}
    for period, mid, n, amount in session.execute(
        sa.select(tagged.c.period, tagged.c.merchant_id, sa.func.count(),
                  sa.func.sum(tagged.c.amount_cents))
        .group_by(tagged.c.period, tagged.c.merchant_id)
    ):
        if period is not None:
            per_shop[(str(period), int(mid))] = int(amount)
            sales[(str(period), int(mid))] = int(n)
    shoppers = {
        (str(period), bool(t)): int(n)
        for period, t, n in session.execute(
            sa.select(tagged.c.period, tagged.c.treated,
                      sa.func.count(sa.distinct(tagged.c.shopper_key)))
            .group_by(tagged.c.period, tagged.c.treated)
        )
        if period is not None
    }

    changes: dict[bool, list[tuple[float, float]]] = {True: [], False: []}
    shop_ids = {mid for (_p, mid) in per_shop}
    for mid in sorted(shop_ids):
        before = per_shop.get(("before", mid), 0)
        during = per_shop.get(("during", mid), 0)
        if before > 0 and during > 0:
            change = math.log(during / _days(periods["during"])) - math.log(
                before / _days(periods["before"])
            )
            weight = 1 / (1 / sales[("before", mid)] + 1 / sales[("during", mid)])
            changes[mid in treated_ids].append((change, weight))
    estimate = did_estimate(changes[True], changes[False])

    cells: list[Cell] = []
    meta: list[tuple[str, str]] = []
    for period in periods:
        for group in GROUPS:
            mine = [
                amount for (p, mid), amount in per_shop.items()
                if p == period and (mid in treated_ids) == (group == "participating")
            ]
            cells.append(Cell(
                key=f"{group}:{period}", label=None, purchases=None,
                amount_cents=sum(mine),
                shoppers=shoppers.get((period, group == "participating"), 0),
                shops=len(mine), top_shop_amount_cents=max(mine, default=0),
            ))
            meta.append((group, period))
    shown = suppress(cells, scheme.k_anonymity)
    rows = []
    for (group, period), cell in zip(meta, shown, strict=True):
        daily = None
        if cell.amount_cents is not None and cell.shops:
            daily = round(cell.amount_cents / cell.shops / _days(periods[period]))
        rows.append(Row(group, period, *periods[period], cell, daily))
    return CampaignEvaluation(
        campaign, periods, rows, estimate, len(changes[True]), len(changes[False])
    )


# -- events -------------------------------------------------------------------


@dataclass(frozen=True)
class EventDay:
    day: date
    cell: Cell  # the town's spending that day, privacy applied
    baseline_cents: int | None  # mean of the same weekday in the weeks before
    last_year_cents: int | None  # the same weekday a year earlier


@dataclass(frozen=True)
class EventEvaluation:
    event: CalendarEvent
    days: list[EventDay]
    estimate: Estimate
    baseline_weeks: int
    last_year_pct: float | None


MAX_EVENT_DAYS = 31


def evaluate_event(session: Session, event: CalendarEvent, now: datetime) -> EventEvaluation:
    """The town's spending during an event against normal weeks. Raises NotEvaluable."""
    scheme = session.get_one(Scheme, event.scheme_id)
    today = now.astimezone(ZoneInfo(scheme.timezone)).date()
    if event.ends_on >= today:
        raise NotEvaluable("not_ended")
    days = [event.starts_on + timedelta(days=i) for i in range(_days((event.starts_on,
                                                                       event.ends_on)))]
    shifts = [7 * w for w in range(1, BASELINE_WEEKS + 1)]
    wanted = set(days)
    for shift in [*shifts, LAST_YEAR_DAYS]:
        wanted |= {d - timedelta(days=shift) for d in days}
    per_shop_day: dict[date, dict[int, int]] = defaultdict(dict)
    for day, mid, amount in session.execute(
        sa.select(PurchaseEvent.local_date, PurchaseEvent.merchant_id,
                  sa.func.sum(PurchaseEvent.amount_cents))
        .where(PurchaseEvent.scheme_id == scheme.id, PurchaseEvent.local_date.in_(wanted))
        .group_by(PurchaseEvent.local_date, PurchaseEvent.merchant_id)
    ):
        per_shop_day[day][int(mid)] = int(amount)
    shoppers = dict(
        session.execute(
            sa.select(
                PurchaseEvent.local_date, sa.func.count(sa.distinct(PurchaseEvent.shopper_key))
            )
            .where(PurchaseEvent.scheme_id == scheme.id, PurchaseEvent.local_date.in_(days))
            .group_by(PurchaseEvent.local_date)
        ).all()
    )

    def total(day: date) -> int:
        return sum(per_shop_day.get(day, {}).values())

    event_total = sum(total(d) for d in days)
    blocks = [sum(total(d - timedelta(days=s)) for d in days) for s in shifts]
    blocks = [b for b in blocks if b > 0]  # weeks before the scheme had sales say nothing
    if event_total <= 0 or len(blocks) < 3:
        raise NotEvaluable("too_little_history")
    logs = [math.log(b) for b in blocks]
    beta = math.log(event_total) - fmean(logs)
    # The event week is one new draw next to the baseline weeks: a prediction interval.
    half = t_quantile(0.5 + LEVEL / 2, len(logs) - 1) * math.sqrt(
        variance(logs) * (1 + 1 / len(logs))
    )
    estimate = Estimate(_pct(beta), _pct(beta - half), _pct(beta + half), EVENT_METHOD)
    last_year = sum(total(d - timedelta(days=LAST_YEAR_DAYS)) for d in days)
    last_year_pct = _pct(math.log(event_total / last_year)) if last_year > 0 else None

    cells = [
        Cell(
            key=d.isoformat(), label=None, purchases=None, amount_cents=total(d),
            shoppers=int(shoppers.get(d, 0)), shops=len(per_shop_day.get(d, {})),
            top_shop_amount_cents=max(per_shop_day.get(d, {}).values(), default=0),
        )
        for d in days
    ]
    shown = suppress(cells, scheme.k_anonymity)
    out = []
    for d, cell in zip(days, shown, strict=True):
        base = [total(d - timedelta(days=s)) for s in shifts]
        base = [b for b in base if b > 0]
        ly = total(d - timedelta(days=LAST_YEAR_DAYS))
        hidden = cell.suppressed
        out.append(EventDay(
            d, cell,
            None if hidden or not base else round(fmean(base)),
            None if hidden or not ly else ly,
        ))
    return EventEvaluation(event, out, estimate, len(blocks), last_year_pct)


# -- plain language -----------------------------------------------------------

_LOCALES = {"nl": "nl_BE", "fr": "fr_BE", "en": "en_IE"}
_TEXT = {
    "nl": {
        "more": "Ongeveer {e}% meer bestedingen in deelnemende zaken dan verwacht op basis "
                "van de andere zaken, tussen {lo}% en {hi}% (95%-betrouwbaarheidsinterval).",
        "less": "Ongeveer {e}% minder bestedingen in deelnemende zaken dan verwacht op basis "
                "van de andere zaken, tussen {lo}% en {hi}% minder "
                "(95%-betrouwbaarheidsinterval).",
        "none": "Geen duidelijk effect: de bestedingen in deelnemende zaken veranderden "
                "tussen {slo}% en {shi}% ten opzichte van de andere zaken "
                "(95%-betrouwbaarheidsinterval).",
        "event_more": "Tijdens {name} ongeveer {e}% meer bestedingen dan op dezelfde weekdagen "
                      "van de weken ervoor, tussen {lo}% en {hi}%.",
        "event_less": "Tijdens {name} ongeveer {e}% minder bestedingen dan op dezelfde "
                      "weekdagen van de weken ervoor, tussen {lo}% en {hi}% minder.",
        "event_none": "Tijdens {name} geen duidelijk verschil met dezelfde weekdagen van de "
                      "weken ervoor (tussen {slo}% en {shi}%).",
        "last_year": " Ten opzichte van dezelfde weekdagen vorig jaar: {sly}%.",
    },
    "fr": {
        "more": "Environ {e} % de dépenses en plus dans les commerces participants par rapport "
                "aux autres commerces, entre {lo} % et {hi} % (intervalle de confiance à 95 %).",
        "less": "Environ {e} % de dépenses en moins dans les commerces participants par rapport "
                "aux autres commerces, entre {lo} % et {hi} % en moins "
                "(intervalle de confiance à 95 %).",
        "none": "Pas d'effet net : les dépenses dans les commerces participants ont varié "
                "entre {slo} % et {shi} % par rapport aux autres commerces "
                "(intervalle de confiance à 95 %).",
        "event_more": "Pendant {name}, environ {e} % de dépenses en plus que les mêmes jours "
                      "des semaines précédentes, entre {lo} % et {hi} %.",
        "event_less": "Pendant {name}, environ {e} % de dépenses en moins que les mêmes jours "
                      "des semaines précédentes, entre {lo} % et {hi} % en moins.",
        "event_none": "Pendant {name}, pas de différence nette avec les mêmes jours des "
                      "semaines précédentes (entre {slo} % et {shi} %).",
        "last_year": " Par rapport aux mêmes jours l'an dernier : {sly} %.",
    },
    "en": {
        "more": "About {e}% more spending in participating shops than the other shops "
                "suggest, between {lo}% and {hi}% (95% confidence interval).",
        "less": "About {e}% less spending in participating shops than the other shops "
                "suggest, between {lo}% and {hi}% less (95% confidence interval).",
        "none": "No clear effect: spending in participating shops changed by between {slo}% "
                "and {shi}% relative to the other shops (95% confidence interval).",
        "event_more": "During {name}, about {e}% more spending than on the same weekdays of "
                      "the weeks before, between {lo}% and {hi}%.",
        "event_less": "During {name}, about {e}% less spending than on the same weekdays of "
                      "the weeks before, between {lo}% and {hi}% less.",
        "event_none": "During {name}, no clear difference from the same weekdays of the weeks "
                      "before (between {slo}% and {shi}%).",
        "last_year": " Compared with the same weekdays last year: {sly}%.",
    },
}


def _num(value: float, lang: str, signed: bool = False) -> str:
    text = format_decimal(round(value), locale=_LOCALES[lang])
    return f"+{text}" if signed and value > 0 else text


def summary(
    estimate: Estimate,
    lang: str,
    *,
    event_name: str | None = None,
    last_year_pct: float | None = None,
) -> str:
    """The estimate in one plain sentence in nl, fr or en (Dutch for anything else)."""
    lang = lang if lang in _TEXT else "nl"
    text = _TEXT[lang]
    prefix = "event_" if event_name is not None else ""
    if estimate.ci_low_pct > 0:
        kind, sign = "more", 1
    elif estimate.ci_high_pct < 0:
        kind, sign = "less", -1
    else:
        kind, sign = "none", 1
    # In "less" sentences the bounds read as positive amounts of less, smallest first.
    lo, hi = sorted((sign * estimate.ci_low_pct, sign * estimate.ci_high_pct))
    sentence = text[prefix + kind].format(
        name=event_name,
        e=_num(sign * estimate.effect_pct, lang),
        lo=_num(lo, lang),
        hi=_num(hi, lang),
        slo=_num(estimate.ci_low_pct, lang, signed=True),
        shi=_num(estimate.ci_high_pct, lang, signed=True),
    )
    if last_year_pct is not None:
        sentence += text["last_year"].format(sly=_num(last_year_pct, lang, signed=True))
    return sentence

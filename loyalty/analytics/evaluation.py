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

A campaign with its own release (loyalty.analytics.campaign_release: each
group's purchases and amount per day of its windows, released once) is
estimated from that release: the difference in differences of the groups' log
number of purchases a day (ratio_did), whose noise is small beside the
effect. Without one, from the released daily sector cells (released_did), whose
noise hides an effect of a few tens of percent.
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

from loyalty.analytics import release
from loyalty.analytics.privacy import MIN_SHOPS, Cell, suppress
from loyalty.earning import campaigns as campaign_rules
from loyalty.models import (
    CalendarEvent,
    Campaign,
    CampaignRelease,
    CampaignReleasedDay,
    Merchant,
    PurchaseEvent,
    ReleasedCell,
    Scheme,
)

LEVEL = 0.95
MIN_BEFORE_DAYS = 28
BASELINE_WEEKS = 6
LAST_YEAR_DAYS = 364  # the same weekday a year earlier
CAMPAIGN_METHOD = (
    "difference-in-differences of log average daily spending of the participating and the "
    "other shops, before vs during, from the released daily figures per sector (with their "
    "noise); 95% interval from the spread of the days (Welch)"
)
CAMPAIGN_RELEASE_METHOD = (
    "difference-in-differences of the log number of purchases a day of the participating "
    "and the other shops, before vs during, from the campaign's own release (each group's "
    "day, with noise, released once); 95% interval from the spread of the days relative to "
    "the other group (Welch), never narrower than the known noise alone"
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
    measure: str = "spending"  # or "purchases" (the number of purchases)

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
    # The 95% margin of that average (the released sum's noise, shared out the same way).
    daily_per_shop_margin_cents: int | None = None


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


def _released_days(session: Session, scheme_id: int, table: str, first: date,
                   last: date) -> dict[date, dict[str, tuple[int, int, float, float]]]:
    """Released cells of a table by day and key: purchases, amount and the variances
    of their noise (2 b^2 for Laplace noise of scale b)."""
    out: dict[date, dict[str, tuple[int, int, float, float]]] = defaultdict(dict)
    for day, key, purchases, amount, scale_p, scale_a in session.execute(
        sa.select(ReleasedCell.day, ReleasedCell.key, ReleasedCell.purchases,
                  ReleasedCell.amount_cents, ReleasedCell.purchases_scale,
                  ReleasedCell.amount_scale)
        .where(ReleasedCell.scheme_id == scheme_id, ReleasedCell.table == table,
               ReleasedCell.day.between(first, last))
    ):
        out[day][key] = (int(purchases), int(amount), 2 * scale_p**2, 2 * scale_a**2)
    return out


def _series_log_change(during: list[float], before: list[float]) -> tuple[float, float, float]:
    """ln(mean during / mean before) of two series of daily totals, its variance (delta
    method, from each series' own spread: noise and day-to-day variation alike) and
    the two variance terms' sum of squares over their degrees of freedom (for
    Welch-Satterthwaite)."""
    mean_d, mean_b = fmean(during), fmean(before)
    if mean_d <= 0 or mean_b <= 0:
        raise NotEvaluable("too_noisy")
    terms = [variance(during) / (len(during) * mean_d**2),
             variance(before) / (len(before) * mean_b**2)]
    squares = (terms[0] ** 2 / (len(during) - 1) + terms[1] ** 2 / (len(before) - 1))
    return math.log(mean_d / mean_b), sum(terms), squares


def released_did(treated: dict[str, list[float]], control: dict[str, list[float]]) -> Estimate:
    """Difference in differences of the log mean daily spending of two groups, from
    their daily released totals in the periods "before" and "during"; a Welch t
    interval from the spread of the days (which holds the released noise)."""
    change_t, var_t, sq_t = _series_log_change(treated["during"], treated["before"])
    change_c, var_c, sq_c = _series_log_change(control["during"], control["before"])
    beta = change_t - change_c
    se = math.sqrt(var_t + var_c)
    df = (var_t + var_c) ** 2 / (sq_t + sq_c) if sq_t + sq_c > 0 else 1e9
    half = t_quantile(0.5 + LEVEL / 2, df) * se
    return Estimate(_pct(beta), _pct(beta - half), _pct(beta + half), CAMPAIGN_METHOD)


def _window_ratio(treated: list[float], control: list[float],
                  noise_var: float) -> tuple[float, float, float]:
    """ln(sum treated / sum control) over a window's days, its variance and its degrees
    of freedom. The variance is the ratio estimator's (delta method) from the days'
    spread relative to the other group, u_d = T_d / sum T - C_d / sum C, so what
    moves both groups alike (weekday, weather) cancels; never below the variance
    the known noise alone (``noise_var`` a group's day) gives."""
    sum_t, sum_c = sum(treated), sum(control)
    if sum_t <= 0 or sum_c <= 0:
        raise NotEvaluable("too_noisy")
    n = len(treated)
    spread = n / (n - 1) * sum((t / sum_t - c / sum_c) ** 2
                               for t, c in zip(treated, control, strict=True))
    noise_only = n * noise_var * (1 / sum_t**2 + 1 / sum_c**2)
    return math.log(sum_t / sum_c), max(spread, noise_only), n - 1


def ratio_did(treated: dict[str, list[float]], control: dict[str, list[float]],
              noise_var: float) -> Estimate:
    """Difference in differences of the log number of purchases a day of two groups,
    from their daily released figures "before" and "during"; Welch t interval."""
    log_b, var_b, df_b = _window_ratio(treated["before"], control["before"], noise_var)
    log_d, var_d, df_d = _window_ratio(treated["during"], control["during"], noise_var)
    beta = log_d - log_b
    se = math.sqrt(var_b + var_d)
    df = (var_b + var_d) ** 2 / (var_b**2 / df_b + var_d**2 / df_d)
    half = t_quantile(0.5 + LEVEL / 2, df) * se
    return Estimate(_pct(beta), _pct(beta - half), _pct(beta + half), CAMPAIGN_RELEASE_METHOD,
                    "purchases")


def campaign_release_estimate(session: Session, campaign: Campaign) -> Estimate | None:
    """The estimate from the campaign's own release; None when it has none."""
    made = session.get(CampaignRelease, campaign.id)
    if made is None:
        return None
    series: dict[str, dict[str, list[float]]] = {group: {"before": [], "during": []}
                                                 for group in GROUPS}
    for group, day, purchases in session.execute(
        sa.select(CampaignReleasedDay.group, CampaignReleasedDay.day,
                  CampaignReleasedDay.purchases)
        .where(CampaignReleasedDay.campaign_id == campaign.id)
        .order_by(CampaignReleasedDay.group, CampaignReleasedDay.day)
    ):
        window = "during" if day >= made.during_first else "before"
        series[group][window].append(float(purchases))
    # Laplace noise of scale b has variance 2 b^2.
    return ratio_did(series["participating"], series["other"], 2 * made.purchases_scale**2)


def evaluate_campaign(
    session: Session, campaign: Campaign, now: datetime
) -> CampaignEvaluation:
    """The evaluation of an ended campaign, from released figures only (so that it
    reveals nothing the released statistics do not): the estimate from the
    campaign's own release when it has one, else from the released sector cells;
    the rows from the released sector cells. Raises NotEvaluable."""
    if now < campaign.ends_at:
        raise NotEvaluable("not_ended")
    scheme = session.get_one(Scheme, campaign.scheme_id)
    today = now.astimezone(ZoneInfo(scheme.timezone)).date()
    periods = campaign_periods(campaign, scheme.timezone, today)
    merchants = session.scalars(
        sa.select(Merchant).where(Merchant.scheme_id == scheme.id)
    ).all()
    # A sector's released cell is one group's when all its shops are (mixed sectors
    # would blur the two groups and are left out).
    by_sector: dict[str, set[bool]] = defaultdict(set)
    for merchant in merchants:
        by_sector[merchant.sector].add(campaign_rules.covers(campaign, merchant))
    group_of = {sector: ("participating" if covered == {True} else "other")
                for sector, covered in by_sector.items() if len(covered) == 1}
    shops = {group: [m.id for m in merchants if group_of.get(m.sector) == group]
             for group in GROUPS}
    if len(shops["participating"]) < MIN_SHOPS or len(shops["other"]) < MIN_SHOPS:
        raise NotEvaluable("too_few_shops")
    window = (min(p[0] for p in periods.values()), max(p[1] for p in periods.values()))
    last_released = release.last_released_day(session, scheme.id)
    if last_released is None or last_released < periods["during"][1]:
        raise NotEvaluable("not_ended")  # its last days are released the night after
    # Days not released yet (the end of "after") are left out of that period.
    periods = {name: (start, min(end, last_released)) for name, (start, end) in periods.items()
               if start <= last_released}
    cells_by_day = _released_days(session, scheme.id, "sector", *window)

    daily: dict[str, dict[str, list[float]]] = {group: {} for group in GROUPS}
    sums: dict[tuple[str, str], list[float]] = {}
    for name, (start, end) in periods.items():
        for group in GROUPS:
            series, total = [], [0.0, 0.0, 0.0, 0.0]
            for n in range(_days((start, end))):
                day_cells = cells_by_day.get(start + timedelta(days=n), {})
                mine = [c for key, c in day_cells.items() if group_of.get(key) == group]
                series.append(float(sum(c[1] for c in mine)))
                for i in range(4):
                    total[i] += sum(c[i] for c in mine)
            daily[group][name] = series
            sums[(group, name)] = total
    estimate = (campaign_release_estimate(session, campaign)
                or released_did(daily["participating"], daily["other"]))

    # Dominance (one shop over half of a group's amount) from the exact sales: it
    # decides only whether a bar is shown; the bar's figure is the released sum.
    exact: dict[tuple[str, str], dict[int, int]] = defaultdict(dict)
    for group in GROUPS:
        for name, (start, end) in periods.items():
            exact[(group, name)] = {
                int(mid): int(amount) for mid, amount in session.execute(
                    sa.select(PurchaseEvent.merchant_id, sa.func.sum(PurchaseEvent.amount_cents))
                    .where(PurchaseEvent.scheme_id == scheme.id,
                           PurchaseEvent.merchant_id.in_(shops[group]),
                           PurchaseEvent.local_date.between(start, end))
                    .group_by(PurchaseEvent.merchant_id))
            }
    cells: list[Cell] = []
    meta: list[tuple[str, str]] = []
    for period in periods:
        for group in GROUPS:
            purchases, amount, var_p, var_a = sums[(group, period)]
            per_shop = exact[(group, period)]
            whole = sum(per_shop.values())
            n = _days(periods[period]) * sum(1 for g in group_of.values() if g == group)
            cells.append(Cell(
                key=f"{group}:{period}", label=None, purchases=int(purchases),
                amount_cents=int(amount), shoppers=None, shops=len(shops[group]),
                top_shop_amount_cents=max(per_shop.values(), default=0), released=True,
                purchases_margin=release.margin(var_p, n, math.sqrt(var_p / max(n, 1) / 2)),
                amount_margin_cents=release.margin(var_a, n, math.sqrt(var_a / max(n, 1) / 2)),
                top_share=max(per_shop.values(), default=0) / whole if whole > 0 else 0.0,
            ))
            meta.append((group, period))
    shown = suppress(cells, scheme.k_anonymity)
    rows = []
    for (group, period), cell in zip(meta, shown, strict=True):
        daily_cents = daily_margin = None
        if cell.amount_cents is not None and cell.shops:
            shop_days = cell.shops * _days(periods[period])
            daily_cents = max(0, round(cell.amount_cents / shop_days))
            if cell.amount_margin_cents is not None:
                daily_margin = math.ceil(cell.amount_margin_cents / shop_days)
        rows.append(Row(group, period, *periods[period], cell, daily_cents, daily_margin))
    return CampaignEvaluation(
        campaign, periods, rows, estimate, len(shops["participating"]), len(shops["other"])
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
    last_released = release.last_released_day(session, scheme.id)
    if last_released is None:
        raise NotEvaluable("too_little_history")
    if last_released < event.ends_on:
        raise NotEvaluable("not_ended")  # its last day is released the night after
    # The town's day totals are its released "all" cells; the exact sales per shop
    # decide only whether a day passes the three-shop and dominance rules.
    released = {day: cells["all"] for day, cells in _released_days(
        session, scheme.id, "all", min(wanted), max(wanted)).items() if day in wanted}
    if any(d not in released for d in days):
        raise NotEvaluable("too_little_history")
    per_shop_day: dict[date, dict[int, int]] = defaultdict(dict)
    for day, mid, amount in session.execute(
        sa.select(PurchaseEvent.local_date, PurchaseEvent.merchant_id,
                  sa.func.sum(PurchaseEvent.amount_cents))
        .where(PurchaseEvent.scheme_id == scheme.id, PurchaseEvent.local_date.in_(days))
        .group_by(PurchaseEvent.local_date, PurchaseEvent.merchant_id)
    ):
        per_shop_day[day][int(mid)] = int(amount)

    def total(day: date) -> int:
        found = released.get(day)
        return found[1] if found else 0

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

    def share(day: date) -> float:
        amounts = per_shop_day.get(day, {}).values()
        return max(amounts, default=0) / sum(amounts) if sum(amounts) > 0 else 0.0

    cells = [
        Cell(
            key=d.isoformat(), label=None, purchases=released[d][0], amount_cents=total(d),
            shoppers=None, shops=len(per_shop_day.get(d, {})),
            top_shop_amount_cents=max(per_shop_day.get(d, {}).values(), default=0),
            released=True, purchases_margin=release.margin(0.0, 1, math.sqrt(released[d][2] / 2)),
            amount_margin_cents=release.margin(0.0, 1, math.sqrt(released[d][3] / 2)),
            top_share=share(d),
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
        "purchases_more": "Ongeveer {e}% meer aankopen in deelnemende zaken dan verwacht op "
                          "basis van de andere zaken, tussen {lo}% en {hi}% "
                          "(95%-betrouwbaarheidsinterval).",
        "purchases_less": "Ongeveer {e}% minder aankopen in deelnemende zaken dan verwacht op "
                          "basis van de andere zaken, tussen {lo}% en {hi}% minder "
                          "(95%-betrouwbaarheidsinterval).",
        "purchases_none": "Geen duidelijk effect: het aantal aankopen in deelnemende zaken "
                          "veranderde tussen {slo}% en {shi}% ten opzichte van de andere "
                          "zaken (95%-betrouwbaarheidsinterval).",
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
        "purchases_more": "Environ {e} % d'achats en plus dans les commerces participants par "
                          "rapport aux autres commerces, entre {lo} % et {hi} % "
                          "(intervalle de confiance à 95 %).",
        "purchases_less": "Environ {e} % d'achats en moins dans les commerces participants par "
                          "rapport aux autres commerces, entre {lo} % et {hi} % en moins "
                          "(intervalle de confiance à 95 %).",
        "purchases_none": "Pas d'effet net : le nombre d'achats dans les commerces participants "
                          "a varié entre {slo} % et {shi} % par rapport aux autres commerces "
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
        "purchases_more": "About {e}% more purchases in participating shops than the other "
                          "shops suggest, between {lo}% and {hi}% (95% confidence interval).",
        "purchases_less": "About {e}% fewer purchases in participating shops than the other "
                          "shops suggest, between {lo}% and {hi}% fewer (95% confidence "
                          "interval).",
        "purchases_none": "No clear effect: the number of purchases in participating shops "
                          "changed by between {slo}% and {shi}% relative to the other shops "
                          "(95% confidence interval).",
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
    prefix = ("event_" if event_name is not None
              else "purchases_" if estimate.measure == "purchases" else "")
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

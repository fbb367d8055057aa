"""The evaluation against generated data with a known (or no) effect."""

from __future__ import annotations

import math
import random
from collections import defaultdict
from datetime import date, timedelta

import pytest
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from lokaal_sparen.demo import sint_gillis_waas as demo
from lokaal_sparen.demo import year as demo_year
from loyalty.analytics import evaluation
from loyalty.earning import campaigns
from loyalty.models import Role, Scheme
from tests.campaign_data import (
    AFTER_END,
    EVENT,
    LENGTH,
    START,
    event_data,
    generate,
    make_campaign,
    store,
    town,
    utc,
)
from tests.factories import bearer, make_scheme, make_user, staff_token


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_an_injected_effect_of_15_percent_is_found(session: Session, seed: int) -> None:
    campaign, sales = generate(session, 0.15, seed)
    result = evaluation.evaluate_campaign(session, campaign, AFTER_END)
    estimate = result.estimate
    assert estimate.ci_low_pct < 15 < estimate.ci_high_pct, estimate
    assert (result.participating_shops, result.other_shops) == (11, 9)

    # The estimate by an independent computation from the generated sales.
    periods = result.periods
    per: dict[tuple[str, int], list[int]] = defaultdict(list)
    for day, shop, cents in sales:
        for name in ("before", "during"):
            if periods[name][0] <= day <= periods[name][1]:
                per[(name, shop)].append(cents)
    treated = {
        i for i, (_n, sector, *_r) in enumerate(demo.SHOPS) if sector.startswith(("47.2", "47.7"))
    }
    days = {n: (b - a).days + 1 for n, (a, b) in periods.items()}
    groups: dict[bool, list[tuple[float, float]]] = {True: [], False: []}
    for shop in range(len(demo.SHOPS)):
        b, d = per[("before", shop)], per[("during", shop)]
        change = math.log(sum(d) / days["during"]) - math.log(sum(b) / days["before"])
        groups[shop in treated].append((change, 1 / (1 / len(b) + 1 / len(d))))

    def mean(values: list[tuple[float, float]]) -> float:
        return sum(v * w for v, w in values) / sum(w for _v, w in values)

    expected = 100 * math.expm1(mean(groups[True]) - mean(groups[False]))
    assert estimate.effect_pct == pytest.approx(expected, abs=0.06)


# A 95% interval misses the truth in one town out of twenty; these fixed towns
# are ones where it does not (seed 3 is one where it does), and the calibration
# test below checks that rate over many towns.
@pytest.mark.parametrize("seed", [1, 2, 4])
def test_no_effect_when_none_was_injected(session: Session, seed: int) -> None:
    campaign, _sales = generate(session, 0.0, seed)
    estimate = evaluation.evaluate_campaign(session, campaign, AFTER_END).estimate
    assert estimate.ci_low_pct < 0 < estimate.ci_high_pct, estimate
    assert "Geen duidelijk effect" in evaluation.summary(estimate, "nl")


def _simulated(lift: float, seed: int) -> evaluation.Estimate:
    """The estimate for one generated town, straight from the planned sales."""
    rng = random.Random(seed)
    specs = [demo_year.spec(sector, typical) for _n, sector, _s, _v, typical in demo.SHOPS]
    treated = {i for i, s in enumerate(specs) if s.sector.startswith(("47.2", "47.7"))}
    end = START + timedelta(days=LENGTH)

    def effect(day: date, shop: int) -> float:
        return 1 + lift if shop in treated and START <= day < end else 1.0

    totals: dict[tuple[bool, int], list[int]] = defaultdict(list)
    for day, sales in demo_year.plan_sales(
        rng, demo_year.make_plan(rng, specs, 800), START - timedelta(days=28),
        end - timedelta(days=1), effect,
    ):
        for sale in sales:
            totals[(day >= START, sale.shop)].append(sale.amount_cents)
    groups: dict[bool, list[tuple[float, float]]] = {True: [], False: []}
    for shop in range(len(specs)):
        b, d = totals[(False, shop)], totals[(True, shop)]
        change = math.log(sum(d) / LENGTH) - math.log(sum(b) / 28)
        groups[shop in treated].append((change, 1 / (1 / len(b) + 1 / len(d))))
    return evaluation.did_estimate(groups[True], groups[False])


def test_the_interval_holds_the_truth_about_95_times_in_100() -> None:
    towns = 40
    with_effect = [_simulated(0.15, seed) for seed in range(towns)]
    without = [_simulated(0.0, seed) for seed in range(towns)]
    covered = sum(e.ci_low_pct < 15 < e.ci_high_pct for e in with_effect)
    false_alarms = sum(e.ci_low_pct > 0 or e.ci_high_pct < 0 for e in without)
    found = sum(e.ci_low_pct > 0 for e in with_effect)
    assert covered >= 0.85 * towns and false_alarms <= 0.15 * towns, (covered, false_alarms)
    assert found >= towns // 2  # a 15% lift in 11 of 20 shops is usually told apart from 0


def test_periods_and_groups_are_shown_as_aggregates(session: Session) -> None:
    campaign, _sales = generate(session, 0.15, 4)
    result = evaluation.evaluate_campaign(session, campaign, AFTER_END)
    assert result.periods == {
        "before": (START - timedelta(days=28), START - timedelta(days=1)),
        "during": (START, START + timedelta(days=LENGTH - 1)),
        "after": (START + timedelta(days=LENGTH), START + timedelta(days=2 * LENGTH - 1)),
    }
    assert [(r.group, r.period) for r in result.rows] == [
        (g, p) for p in ("before", "during", "after") for g in ("participating", "other")
    ]
    for row in result.rows:
        assert not row.cell.suppressed
        assert row.cell.shops == (11 if row.group == "participating" else 9)
        assert row.daily_per_shop_cents and row.daily_per_shop_cents > 0


def test_two_shops_are_too_few_to_evaluate(session: Session) -> None:
    scheme, shops = town(session)
    campaign = make_campaign(session, scheme, merchant_ids=[shops[0].id, shops[1].id])
    rng = random.Random(5)
    specs = [demo_year.spec(sector, typical) for _n, sector, _s, _v, typical in demo.SHOPS]
    planned = demo_year.plan_sales(
        rng, demo_year.make_plan(rng, specs, 500), START - timedelta(days=35),
        START + timedelta(days=LENGTH + 3),
    )
    store(session, scheme, shops, planned)
    with pytest.raises(evaluation.NotEvaluable) as raised:
        evaluation.evaluate_campaign(session, campaign, AFTER_END)
    assert raised.value.reason == "too_few_shops"


def test_the_summary_speaks_the_callers_language(
    client: FlaskClient, session: Session
) -> None:
    campaign, _sales = generate(session, 0.30, 1)
    # The test clock is now (2026), the generated campaign ended in April 2026.
    scheme = session.get_one(Scheme, campaign.scheme_id)
    headers = bearer(staff_token(client, make_user(session, scheme, Role.MUNICIPALITY_ANALYST)))
    answers = {}
    for lang in ("nl", "fr", "en"):
        answer = client.get(
            f"/api/v1/campaigns/{campaign.id}/evaluation",
            headers={**headers, "Accept-Language": f"{lang},en;q=0.5"},
        )
        assert answer.status_code == 200, answer.json
        answers[lang] = answer.json
    assert "meer bestedingen in deelnemende zaken" in answers["nl"]["summary"]
    assert "de dépenses en plus dans les commerces participants" in answers["fr"]["summary"]
    assert "more spending in participating shops" in answers["en"]["summary"]
    assert {a["effect_pct"] for a in answers.values()} == {answers["nl"]["effect_pct"]}
    assert answers["en"]["ci_low_pct"] < answers["en"]["effect_pct"] < answers["en"]["ci_high_pct"]
    assert "difference-in-differences" in answers["en"]["method"]


# -- events -------------------------------------------------------------------





def test_an_event_is_measured_against_the_weeks_before_and_last_year(
    session: Session,
) -> None:
    _scheme, event = event_data(session, 0.30, 7)
    result = evaluation.evaluate_event(session, event, AFTER_END)
    assert result.estimate.ci_low_pct < 30 < result.estimate.ci_high_pct, result.estimate
    assert result.estimate.ci_low_pct > 0
    assert result.baseline_weeks == 6
    assert result.last_year_pct is not None and 10 < result.last_year_pct < 55
    assert [d.day for d in result.days] == [date(2026, 3, 13), date(2026, 3, 14),
                                            date(2026, 3, 15)]
    for d in result.days:
        assert d.cell.amount_cents and d.baseline_cents and d.last_year_cents
        assert d.cell.amount_cents > d.baseline_cents * 0.9
    text = evaluation.summary(result.estimate, "en", event_name="Kermis",
                              last_year_pct=result.last_year_pct)
    assert text.startswith("During Kermis, about ") and "same weekdays last year" in text


def test_an_ordinary_weekend_is_no_event(session: Session) -> None:
    _scheme, event = event_data(session, 0.0, 8)
    estimate = evaluation.evaluate_event(session, event, AFTER_END).estimate
    assert estimate.ci_low_pct < 0 < estimate.ci_high_pct, estimate


def test_an_event_needs_history_and_to_be_over(session: Session) -> None:
    scheme = make_scheme(session)
    event = campaigns.create_event(
        session, scheme, name="Sinksenfeesten", starts_on=EVENT[0], ends_on=EVENT[1]
    )
    with pytest.raises(evaluation.NotEvaluable) as early:
        evaluation.evaluate_event(session, event, utc(EVENT[1]))
    assert early.value.reason == "not_ended"
    with pytest.raises(evaluation.NotEvaluable) as empty:
        evaluation.evaluate_event(session, event, AFTER_END)
    assert empty.value.reason == "too_little_history"

"""When a job is due: the latest scheduled moment at or before now, in town time."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from loyalty.operations.schedules import Daily, Every, Monthly

BRUSSELS = ZoneInfo("Europe/Brussels")
moments = st.datetimes(min_value=datetime(2024, 1, 1), max_value=datetime(2030, 12, 31),
                       timezones=st.just(UTC))


@given(moments, st.sampled_from([Every(5), Every(15), Daily(time(2, 15)),
                                 Daily(time(0, 15)), Monthly(2, time(4, 0))]))
def test_previous_is_at_or_before_now_and_following_after(now: datetime, schedule: object) -> None:
    previous = schedule.previous(now, BRUSSELS)  # type: ignore[attr-defined]
    following = schedule.following(now, BRUSSELS)  # type: ignore[attr-defined]
    assert previous <= now < following
    # Nothing scheduled in between: the moment after "previous" is "following".
    assert schedule.previous(following - timedelta(seconds=1), BRUSSELS) == previous  # type: ignore[attr-defined]
    assert schedule.previous(following, BRUSSELS) == following  # type: ignore[attr-defined]


def test_every_five_minutes_on_the_clock() -> None:
    now = datetime(2026, 12, 5, 17, 7, 31, tzinfo=UTC)
    assert Every(5).previous(now, BRUSSELS) == datetime(2026, 12, 5, 17, 5, tzinfo=UTC)
    assert Every(5).following(now, BRUSSELS) == datetime(2026, 12, 5, 17, 10, tzinfo=UTC)


def test_daily_keeps_the_wall_clock_time_through_summer_time() -> None:
    daily = Daily(time(2, 15))
    winter = daily.previous(datetime(2026, 3, 28, 12, 0, tzinfo=UTC), BRUSSELS)
    summer = daily.previous(datetime(2026, 3, 30, 12, 0, tzinfo=UTC), BRUSSELS)
    assert winter == datetime(2026, 3, 28, 1, 15, tzinfo=UTC)  # 02:15 CET
    assert summer == datetime(2026, 3, 30, 0, 15, tzinfo=UTC)  # 02:15 CEST
    # Before today's time: yesterday's.
    assert daily.previous(datetime(2026, 12, 5, 0, 30, tzinfo=UTC), BRUSSELS) == datetime(
        2026, 12, 4, 1, 15, tzinfo=UTC)


def test_monthly_on_its_day_and_across_the_year() -> None:
    monthly = Monthly(2, time(4, 0))
    assert monthly.previous(datetime(2026, 12, 1, 12, tzinfo=UTC), BRUSSELS) == datetime(
        2026, 11, 2, 3, 0, tzinfo=UTC)
    assert monthly.previous(datetime(2027, 1, 2, 3, 30, tzinfo=UTC), BRUSSELS) == datetime(
        2027, 1, 2, 3, 0, tzinfo=UTC)
    assert monthly.following(datetime(2026, 12, 20, tzinfo=UTC), BRUSSELS) == datetime(
        2027, 1, 2, 3, 0, tzinfo=UTC)
    with pytest.raises(ValueError, match="from 1 to 28"):
        Monthly(31, time(4, 0))

"""Footfall: pedestrian counts the municipality buys, uploaded as a CSV file, set
beside the purchases of the cluster each counter counts for.

The file (docs/footfall.md): a header line ``counter,timestamp,count`` (commas or
semicolons, as Belgian spreadsheets save it), then one line per counter and hour:
the counter's name as the supplier calls it, the hour's start in ISO 8601
(``2026-11-14T10:00``, town time unless it carries an offset) and the number of
passers-by in that hour. A file with any bad line is refused as a whole, with
every bad line named; a good file replaces the counts of the same counter and
hour, so sending a corrected file again is safe.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from loyalty.analytics import release
from loyalty.analytics.periods import Period
from loyalty.models import FootfallCount, FootfallCounter, Scheme, ShoppingCluster

COLUMNS = ("counter", "timestamp", "count")
MAX_BYTES = 5_000_000  # a year of hourly counts of a few dozen counters
MAX_ERRORS = 50  # named one by one; the rest counted
MAX_COUNT = 1_000_000  # passers-by in one hour at one counter: beyond it, a typing error
MAX_NAME = 80


@dataclass(frozen=True)
class LineError:
    line: int  # 1 is the header
    code: str  # missing_header, wrong_columns, no_counter, bad_timestamp, not_on_the_hour,
    #            bad_count, duplicate
    value: str  # what the line had, for the message


@dataclass(frozen=True)
class Parsed:
    counts: dict[tuple[str, datetime], int]  # (counter, hour start UTC) -> passers-by
    errors: list[LineError]
    error_lines: int  # every bad line, also those beyond MAX_ERRORS


def parse(data: bytes, timezone: str) -> Parsed:
    """Read a footfall file; never raises for its content (errors are returned)."""
    text = data.decode("utf-8-sig", errors="replace")
    lines = text.splitlines()
    if not lines:
        return Parsed({}, [LineError(1, "missing_header", "")], 1)
    delimiter = ";" if lines[0].count(";") > lines[0].count(",") else ","
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    header = [cell.strip().lower() for cell in next(reader, [])]
    if tuple(header) != COLUMNS:
        return Parsed({}, [LineError(1, "missing_header", delimiter.join(header))], 1)
    zone = ZoneInfo(timezone)
    counts: dict[tuple[str, datetime], int] = {}
    errors: list[LineError] = []
    bad = 0

    def fail(line: int, code: str, value: str) -> None:
        nonlocal bad
        bad += 1
        if len(errors) < MAX_ERRORS:
            errors.append(LineError(line, code, value[:60]))

    for row in reader:
        line = reader.line_num
        if not any(cell.strip() for cell in row):
            continue  # a blank line at the end of a spreadsheet export
        if len(row) != len(COLUMNS):
            fail(line, "wrong_columns", delimiter.join(row))
            continue
        name, stamp, number = (cell.strip() for cell in row)
        if not 1 <= len(name) <= MAX_NAME:
            fail(line, "no_counter", name)
            continue
        try:
            when = datetime.fromisoformat(stamp)
        except ValueError:
            fail(line, "bad_timestamp", stamp)
            continue
        if when.minute or when.second or when.microsecond:
            fail(line, "not_on_the_hour", stamp)
            continue
        hour = (when if when.tzinfo else when.replace(tzinfo=zone)).astimezone(UTC)
        try:
            count = int(number.replace(".", "").replace(" ", ""))
        except ValueError:
            fail(line, "bad_count", number)
            continue
        if not 0 <= count <= MAX_COUNT:
            fail(line, "bad_count", number)
            continue
        if (name, hour) in counts:
            fail(line, "duplicate", f"{name} {stamp}")
            continue
        counts[(name, hour)] = count
    return Parsed(counts, errors, bad)


@dataclass(frozen=True)
class Imported:
    counts: int
    counters: int
    new_counters: list[str]  # not yet assigned to a cluster
    first: datetime | None
    last: datetime | None


def store(session: Session, scheme: Scheme, counts: dict[tuple[str, datetime], int]) -> Imported:
    """Write parsed counts: new counters are added (without a cluster yet); a count of
    the same counter and hour is replaced. Flushes, never commits."""
    names = sorted({name for name, _hour in counts})
    known = {c.name: c for c in session.scalars(
        sa.select(FootfallCounter).where(FootfallCounter.scheme_id == scheme.id,
                                         FootfallCounter.name.in_(names)))}
    new = [name for name in names if name not in known]
    for name in new:
        counter = FootfallCounter(scheme_id=scheme.id, name=name)
        session.add(counter)
        known[name] = counter
    session.flush()  # the new counters' ids, for their counts
    rows = [{"counter_id": known[name].id, "hour": hour, "count": count}
            for (name, hour), count in counts.items()]
    # Both dialects spell "insert, or replace the count" the same way.
    insert = (postgresql.insert(FootfallCount)
              if session.get_bind().dialect.name == "postgresql"
              else sqlite.insert(FootfallCount))
    for start in range(0, len(rows), 5_000):
        statement = insert.values(rows[start:start + 5_000])
        session.execute(statement.on_conflict_do_update(
            index_elements=["counter_id", "hour"], set_={"count": statement.excluded.count}))
    hours = [hour for _name, hour in counts]
    return Imported(len(rows), len(names), new, min(hours, default=None),
                    max(hours, default=None))


def counters(session: Session, scheme_id: int) -> list[FootfallCounter]:
    return list(session.scalars(sa.select(FootfallCounter).where(
        FootfallCounter.scheme_id == scheme_id).order_by(FootfallCounter.name)))


@dataclass(frozen=True)
class HourRow:
    cluster_id: int
    hour: int  # local hour of the day
    passers_by: int
    purchases: int | None  # released, None when hidden (fewer than k)
    purchases_margin: int | None
    per_100: float | None  # purchases per 100 passers-by


def conversion(session: Session, scheme: Scheme, period: Period) -> list[HourRow]:
    """Per cluster with counted footfall and hour of the day: the period's passers-by
    (exact: counts are not about persons) and released purchases, and purchases per
    100 passers-by. Hours with no passers-by are left out."""
    zone = ZoneInfo(scheme.timezone)
    start = datetime.combine(period.start, datetime.min.time(), zone).astimezone(UTC)
    end = datetime.combine(period.end + timedelta(days=1), datetime.min.time(),
                           zone).astimezone(UTC)
    passers: dict[tuple[int, int], int] = defaultdict(int)
    for cluster_id, start_utc, count in session.execute(
        sa.select(FootfallCounter.cluster_id, FootfallCount.hour, FootfallCount.count)
        .join(FootfallCounter, FootfallCounter.id == FootfallCount.counter_id)
        .join(ShoppingCluster, ShoppingCluster.id == FootfallCounter.cluster_id)
        .where(FootfallCounter.scheme_id == scheme.id,
               FootfallCount.hour >= start, FootfallCount.hour < end)
    ):
        if cluster_id is not None:  # the join leaves none out; for the type checker
            passers[(cluster_id, start_utc.astimezone(zone).hour)] += count
    released = release.released_by(session, scheme.id, "cluster_hour", period)
    out = []
    for (cluster_id, hour), count in sorted(passers.items()):
        if not count:
            continue
        cell = released.get(f"{cluster_id}|{hour}")
        visible = cell is not None and cell.purchases >= scheme.k_anonymity
        purchases = max(0, cell.purchases) if visible and cell is not None else None
        out.append(HourRow(
            cluster_id=cluster_id, hour=hour, passers_by=count, purchases=purchases,
            purchases_margin=cell.purchases_margin if visible and cell is not None else None,
            per_100=round(100 * purchases / count, 1) if purchases is not None else None,
        ))
    return out

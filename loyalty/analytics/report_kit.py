"""The kit every dashboard report is built from: the Report the pages and exports
show, the three-period skeleton (``compared``), named running totals (``Tally``)
and the declarative ``Dimension`` spec. Each report module lists its reports in
``REPORTS``; ``catalog`` puts them together.

Every report has a name (its URL), a title and a one-line definition shown
beside it, a period with the previous period and the same period last year,
rows of privacy-checked cells, and a chart hint for the pages.

Every report is either *released* (its figures are sums of the released daily
cells with noise, for any period: any difference of two answers is noise) or
*aligned* (it needs figures no sum of released days gives, such as distinct
shoppers, active shops or the ledger's points, and is shown only for whole closed calendar months,
quarters and years, so that no two of its periods differ by a few days; the
distributions over shoppers read those periods' released cells,
analytics.period_release). See
docs/privacy.md for the decision per report.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from loyalty.analytics import cells, privacy, release
from loyalty.analytics.periods import Period
from loyalty.analytics.privacy import Cell
from loyalty.errors import InvalidInput
from loyalty.models import (
    Scheme,
)


def translatable(text: str) -> str:
    """Marks a text for translation; the pages translate it when they show it.
    (Report modules import it as ``_l``, the keyword the message extraction looks for.)"""
    return text


_l = translatable


# Said of every aligned report, after its definition.
ALIGNED_NOTE = _l("Shown only for whole calendar months, quarters and years that have ended, "
                  "so that no two periods of this report differ by a few days.")

WEEKDAYS = [_l("Monday"), _l("Tuesday"), _l("Wednesday"), _l("Thursday"), _l("Friday"),
            _l("Saturday"), _l("Sunday")]

@dataclass(frozen=True)
class Column:
    name: str  # a field of the public row
    label: str  # English text, translated by the pages
    kind: str  # text, count, cents, points, pct


@dataclass(frozen=True)
class Report:
    name: str
    title: str
    definition: str
    k: int
    period: Period
    columns: tuple[Column, ...]
    rows: list[Cell]
    total: Cell | None = None
    total_previous: Cell | None = None
    total_last_year: Cell | None = None
    previous: dict[str, Cell] = field(default_factory=dict)
    last_year: dict[str, Cell] = field(default_factory=dict)
    chart: str = "bars"  # bars, heatmap, lines
    value: str = "amount_cents"  # the figure the chart and the comparisons show
    per_shop: bool = False
    notes: tuple[str, ...] = ()
    # Released reports: their figures reach up to this day (None: none released yet).
    released: bool = False
    released_until: date | None = None
    aligned: bool = False
    # Reports on released periods (analytics.period_release): whether this period is
    # released (False: it has closed but is not released yet); None for the others.
    period_released: bool | None = None

    def public_rows(self) -> list[dict[str, Any]]:
        """The rows as exported (CSV, JSON): public fields and comparisons only."""
        out = []
        for cell in self.rows:
            row = privacy.public_row(cell)
            for name, other in (("previous", self.previous), ("last_year", self.last_year)):
                before = other.get(cell.key)
                self._compare(row, name, privacy.public_row(before) if before else None)
            out.append(row)
        privacy.check_export(out)
        return out

    def public_total(self) -> dict[str, Any] | None:
        """The total row with its comparisons, or None when the report has no total."""
        if self.total is None:
            return None
        row = privacy.public_row(self.total)
        for name, other in (("previous", self.total_previous),
                            ("last_year", self.total_last_year)):
            self._compare(row, name, privacy.public_row(other) if other else None)
        privacy.check_export([row])
        return row

    def _compare(self, row: dict[str, Any], name: str, other: dict[str, Any] | None) -> None:
        """The other period's figure beside the row, and the change (hidden where it
        is within the noise of two released figures)."""
        value = other.get(self.value) if other else None
        margin = privacy.MARGIN_OF.get(self.value)
        row[f"{name}_{self.value}"] = value
        row[f"change_{name}_pct"] = privacy.change_pct(
            row.get(self.value), value, row.get(margin) if margin else None,
            other.get(margin) if other and margin else None)


@dataclass(frozen=True)
class Context:
    session: Session
    scheme: Scheme
    period: Period
    lang: str
    entry: Entry  # the report being built: its name, title and definition

    @property
    def k(self) -> int:
        return self.scheme.k_anonymity or privacy.DEFAULT_K


Builder = Callable[[Context], Report]


@dataclass(frozen=True)
class Entry:
    name: str
    title: str
    definition: str
    build: Builder
    # Needs figures no released table holds: whole closed calendar periods only.
    aligned: bool = False

    @property
    def full_definition(self) -> str:
        """The definition with, for an aligned report, the periods it is shown for."""
        return f"{self.definition} {ALIGNED_NOTE}" if self.aligned else self.definition


def check_aligned(entry: Entry, period: Period, today: date) -> None:
    """An aligned report answers only for a whole calendar month, quarter or year that
    has ended: its exact figures of two such periods never differ by a few days
    (the finest grain, a month, is itself published). Raises InvalidInput."""
    if entry.aligned and (period.grain() is None or period.end >= today):
        raise InvalidInput(
            f"the report {entry.name!r} is shown only for a whole calendar month, quarter "
            "or year that has ended", code="period_not_aligned")


# -- the skeleton every report is built on -----------------------------------------------


def compared(
    ctx: Context,
    checked: Callable[[Period], list[Cell]],
    *,
    columns: tuple[Column, ...],
    rows: list[Cell] | None = None,
    **extra: Any,
) -> Report:
    """The report being built (``ctx.entry``): ``checked`` gives its (suppressed)
    rows for a period, for this period, the one before it and the same one last year."""
    entry = ctx.entry
    return Report(
        name=entry.name,
        title=entry.title,
        definition=entry.full_definition,
        aligned=entry.aligned,
        k=ctx.k,
        period=ctx.period,
        columns=columns,
        rows=checked(ctx.period) if rows is None else rows,
        previous={c.key: c for c in checked(ctx.period.previous())},
        last_year={c.key: c for c in checked(ctx.period.last_year())},
        **extra,
    )


@dataclass
class Tally:
    """A group's running totals while a report adds its rows up: the parts of a Cell."""

    purchases: int = 0
    amount_cents: int = 0
    points: float = 0  # a share of a redemption may be a fraction until rounded
    shoppers: int = 0
    per_shop: dict[int, float] = field(default_factory=lambda: defaultdict(float))
    wallets: set[int] = field(default_factory=set)
    sectors: set[str] = field(default_factory=set)
    extra: Counter[str] = field(default_factory=Counter)

    def add_shop(self, shop: int, purchases: int, amount: float) -> None:
        self.purchases += purchases
        self.amount_cents += int(amount)
        self.per_shop[shop] += amount

    def cell(self, key: str, label: str, **fields: Any) -> Cell:
        """The cell of these totals; ``fields`` overrides or adds (e.g. shoppers)."""
        values: dict[str, Any] = {
            "purchases": self.purchases,
            "amount_cents": self.amount_cents,
            "shoppers": self.shoppers,
            "shops": len(self.per_shop),
            "top_shop_amount_cents": round(max(self.per_shop.values(), default=0)),
        }
        values.update(fields)
        return Cell(key=key, label=label, **values)


def custom_report(
    reports: list[Entry], name: str, title: str, definition: str, *, aligned: bool = False
) -> Callable[[Builder], Builder]:
    """Adds a report that needs its own queries to a module's ``reports`` (the
    others are Dimension specs)."""

    def decorate(report: Builder) -> Builder:
        reports.append(Entry(name, title, definition, report, aligned))
        return report

    return decorate


# -- the usual shape: one dimension of the rollups, compared over three periods ----------

SPENDING_COLUMNS = (
    Column("label", _l("Group"), "text"),
    Column("purchases", _l("Purchases"), "count"),
    Column("amount_cents", _l("Amount"), "cents"),
    Column("shoppers", _l("Shoppers"), "count"),
)
# Released reports: no distinct shoppers (not released for arbitrary periods).
RELEASED_COLUMNS = SPENDING_COLUMNS[:3]
Labels = Callable[[str], "str | None"]


@dataclass(frozen=True)
class Dimension:
    """A report that is one dimension (sector, hour, home area ...): purchases and
    amount per key as sums of released cells, with a total, compared over three
    periods. A spec, not code: ``labels`` names the keys, ``arrange`` reorders or
    ranks the checked rows."""

    name: str
    title: str
    definition: str
    dimension: str
    labels: Callable[[Context], Labels] = lambda _ctx: (lambda key: key)
    per_shop: bool = False
    chart: str = "bars"
    value: str = "amount_cents"
    exclude: tuple[str, ...] = ()
    with_total: bool = True
    arrange: Callable[[Context, Report], Report] | None = None
    heading: str = SPENDING_COLUMNS[0].label  # what the rows are: "Day", "Shop" ...

    def entry(self) -> Entry:
        return Entry(self.name, self.title, self.definition, self.build)

    def _cells(self, ctx: Context, dimension: str, period: Period,
               labels: Labels, exclude: tuple[str, ...] = ()) -> list[Cell]:
        return cells.released_cells(ctx.session, ctx.scheme, dimension, period, labels,
                                    exclude=exclude)

    def build(self, ctx: Context) -> Report:
        labels = self.labels(ctx)

        def checked(period: Period) -> list[Cell]:
            raw = self._cells(ctx, self.dimension, period, labels, self.exclude)
            return privacy.suppress(raw, ctx.k, per_shop=self.per_shop)

        def total(period: Period) -> Cell | None:
            if not self.with_total:
                return None
            all_cells = self._cells(ctx, "all", period, lambda _k: None)
            if not all_cells:
                return None
            return privacy.suppress_total(all_cells[0], ctx.k, per_shop=self.per_shop)

        report = compared(
            ctx,
            checked,
            columns=(Column("label", self.heading, "text"), *RELEASED_COLUMNS[1:]),
            total=total(ctx.period),
            total_previous=total(ctx.period.previous()),
            total_last_year=total(ctx.period.last_year()),
            chart=self.chart,
            value=self.value,
            per_shop=self.per_shop,
            **released_extra(ctx),
        )
        return self.arrange(ctx, report) if self.arrange else report


def released_extra(ctx: Context) -> dict[str, Any]:
    """The Report fields of a released report: how far its released days reach."""
    return {"released": True,
            "released_until": release.last_released_day(ctx.session, ctx.scheme.id)}




def today_local(scheme: Scheme) -> date:
    return datetime.now(ZoneInfo(scheme.timezone)).date()

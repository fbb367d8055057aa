"""Open data: the released statistics a scheme chooses to publish, per closed month.

Only released cells leave the building (loyalty.analytics.release): sums of
noisy daily cells over a calendar month whose every day is released, so no
two published figures subtract to anything but noise. On top, the rules that
hide a figure on the dashboard hide it here too (loyalty.analytics.privacy):
a noisy count below k, a sector group of fewer than three shops or where one
shop holds more than half of the amount, and a second hidden cell when a
month's table would otherwise have exactly one. Nothing is published that the
dashboard would hide.

Each table is a dataset of the scheme's catalogue, described in DCAT-AP
(``catalog``) so the regional open-data portals can harvest it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import sqlalchemy as sa
from dateutil.relativedelta import relativedelta
from sqlalchemy.orm import Session

from loyalty.analytics import cells as cells_
from loyalty.analytics import privacy, release
from loyalty.analytics.periods import Period
from loyalty.models import ReleasedDay, Scheme

# The published tables and the released dimension each one sums. Sectors are
# published per group (the first four characters of the NACE-BEL code): more
# shops to a cell, so fewer hidden by the three-shop rule.
TABLES: dict[str, str] = {
    "total": "all",
    "sector_group": "sector_group",
    "home_area": "area",
    "age_band": "age_band",
    "hour": "hour",
    "weekday": "weekday",
}
COLUMNS = ("month", "key", "purchases", "purchases_margin", "amount_cents",
           "amount_margin_cents", "suppressed")
# The Flemish government's model licence for free reuse (the towns' default).
LICENSE = "https://data.vlaanderen.be/id/licentie/modellicentie-gratis-hergebruik/v1.0"


@dataclass(frozen=True)
class Row:
    month: str  # "2026-11"
    key: str
    purchases: int | None  # None when hidden
    purchases_margin: int | None
    amount_cents: int | None
    amount_margin_cents: int | None
    suppressed: bool

    def as_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in COLUMNS}


def published(scheme: Scheme) -> bool:
    return bool(scheme.open_data)


def months(session: Session, scheme_id: int) -> list[Period]:
    """The calendar months whose every day (from the first released one) is released."""
    first, last = session.execute(
        sa.select(sa.func.min(ReleasedDay.day), sa.func.max(ReleasedDay.day))
        .where(ReleasedDay.scheme_id == scheme_id)
    ).one()
    if first is None:
        return []
    out: list[Period] = []
    start = first.replace(day=1)
    while True:
        end = start + relativedelta(months=1) - timedelta(days=1)
        if end > last:
            return out
        out.append(Period(max(start, first), end))
        start = end + timedelta(days=1)


def _month_rows(session: Session, scheme: Scheme, table: str, period: Period) -> list[Row]:
    dimension = TABLES[table]
    sums = release.released_by(session, scheme.id, dimension, period)
    shops = ({key: list(per_shop.values()) for key, per_shop
              in cells_.shop_amounts(session, scheme.id, "sector_group", period).items()}
             if table == "sector_group" else {})
    cells = []
    for key in sorted(sums):
        figures = sums[key]
        purchases = max(0, figures.purchases)
        amount = max(0, figures.amount_cents)
        if table == "sector_group":
            own = shops.get(key, [])
            count, top = len(own), max(own, default=0)
            # The top share is judged on the exact amounts, which the noisy one
            # only approximates.
            amount_for_share = sum(own)
        else:
            count, top, amount_for_share = privacy.MIN_SHOPS, 0, amount
        cells.append(privacy.Cell(
            key=key, label=None, purchases=purchases, amount_cents=amount_for_share,
            # The k rule on the noisy count: released cells carry no shopper counts.
            shoppers=purchases, shops=count, top_shop_amount_cents=top,
            extra={"amount": amount, "purchases_margin": figures.purchases_margin,
                   "amount_margin": figures.amount_margin_cents},
        ))
    month = period.start.isoformat()[:7]
    return [
        Row(month=month, key=cell.key, purchases=cell.purchases,
            purchases_margin=cell.extra["purchases_margin"],
            amount_cents=cell.extra["amount"], amount_margin_cents=cell.extra["amount_margin"],
            suppressed=cell.suppressed)
        for cell in privacy.suppress(cells, scheme.k_anonymity)
    ]


def table_rows(session: Session, scheme: Scheme, table: str) -> list[Row]:
    """Every closed month's rows of a published table, oldest month first.
    Raises KeyError for a table that is not published."""
    if table not in TABLES:
        raise KeyError(table)
    return [row for period in months(session, scheme.id)
            for row in _month_rows(session, scheme, table, period)]


@dataclass(frozen=True)
class Coverage:
    first: date | None
    last: date | None
    modified: date | None  # the newest release


def coverage(session: Session, scheme_id: int) -> Coverage:
    periods = months(session, scheme_id)
    modified = session.scalar(
        sa.select(sa.func.max(ReleasedDay.released_at)).where(ReleasedDay.scheme_id == scheme_id))
    if not periods:
        return Coverage(None, None, modified.date() if modified else None)
    return Coverage(periods[0].start, periods[-1].end, modified.date() if modified else None)


# -- DCAT-AP -------------------------------------------------------------------------------------

CONTEXT = {
    "dcat": "http://www.w3.org/ns/dcat#",
    "dct": "http://purl.org/dc/terms/",
    "foaf": "http://xmlns.com/foaf/0.1/",
    "vcard": "http://www.w3.org/2006/vcard/ns#",
    "xsd": "http://www.w3.org/2001/XMLSchema#",
}
EU = "http://publications.europa.eu/resource/authority"
LANGUAGES = {"nl": "NLD", "fr": "FRA", "en": "ENG"}
MEDIA_TYPES = {"csv": "text/csv", "json": "application/json"}


@dataclass(frozen=True)
class Texts:
    """A text in each language, for the multilingual titles and descriptions."""

    nl: str
    fr: str
    en: str

    def literal(self) -> list[dict[str, str]]:
        return [{"@value": getattr(self, lang), "@language": lang} for lang in LANGUAGES]


def _date(day: date) -> dict[str, str]:
    return {"@value": day.isoformat(), "@type": "xsd:date"}


def catalog(scheme: Scheme, base: str, titles: dict[str, Texts], catalog_texts: Texts,
            description: Texts, found: Coverage) -> dict[str, Any]:
    """The scheme's DCAT-AP catalogue: one dataset per table, a CSV and a JSON
    distribution each. ``base`` is the page's address (…/open-data/<scheme>)."""
    publisher = {"@id": f"{base}#publisher", "@type": "foaf:Agent", "foaf:name": scheme.name}
    contact: dict[str, Any] = {"@type": "vcard:Organization", "vcard:fn": scheme.name}
    if scheme.contact_email:
        contact["vcard:hasEmail"] = {"@id": f"mailto:{scheme.contact_email}"}
    datasets = []
    for table in TABLES:
        dataset: dict[str, Any] = {
            "@id": f"{base}#{table}",
            "@type": "dcat:Dataset",
            "dct:identifier": f"{scheme.slug}/{table}",
            "dct:title": titles[table].literal(),
            "dct:description": description.literal(),
            "dcat:keyword": [{"@value": word, "@language": "nl"}
                             for word in ("lokale economie", "detailhandel", "spaarsysteem")],
            "dcat:theme": {"@id": f"{EU}/data-theme/ECON"},
            "dct:accrualPeriodicity": {"@id": f"{EU}/frequency/MONTHLY"},
            "dct:publisher": publisher,
            "dcat:contactPoint": contact,
            "dct:license": {"@id": LICENSE},
            "dct:language": [{"@id": f"{EU}/language/{code}"} for code in LANGUAGES.values()],
            "dcat:landingPage": {"@id": base},
            "dcat:distribution": [
                {
                    "@id": f"{base}/{table}.{ext}",
                    "@type": "dcat:Distribution",
                    "dct:title": titles[table].literal(),
                    "dcat:accessURL": {"@id": base},
                    "dcat:downloadURL": {"@id": f"{base}/{table}.{ext}"},
                    "dcat:mediaType": {
                        "@id": f"https://www.iana.org/assignments/media-types/{media}"},
                    "dct:format": {"@id": f"{EU}/file-type/{ext.upper()}"},
                    "dct:license": {"@id": LICENSE},
                }
                for ext, media in MEDIA_TYPES.items()
            ],
        }
        if found.first is not None and found.last is not None:
            dataset["dct:temporal"] = {
                "@type": "dct:PeriodOfTime",
                "dcat:startDate": _date(found.first),
                "dcat:endDate": _date(found.last),
            }
        if found.modified is not None:
            dataset["dct:modified"] = _date(found.modified)
        datasets.append(dataset)
    out: dict[str, Any] = {
        "@context": CONTEXT,
        "@id": base,
        "@type": "dcat:Catalog",
        "dct:title": catalog_texts.literal(),
        "dct:description": description.literal(),
        "dct:publisher": publisher,
        "dct:license": {"@id": LICENSE},
        "dct:language": [{"@id": f"{EU}/language/{code}"} for code in LANGUAGES.values()],
        "foaf:homepage": {"@id": base},
        "dcat:dataset": datasets,
    }
    if found.modified is not None:
        out["dct:modified"] = _date(found.modified)
    return out

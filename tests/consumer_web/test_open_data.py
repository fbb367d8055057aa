"""Open data: a scheme that chooses to publish gets a public page, a CSV and a JSON
file per table and a DCAT-AP catalogue; every figure is a sum of released cells over
a closed month, and nothing is shown that the dashboard would hide."""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from datetime import UTC, date, datetime

import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient
from rdflib import Graph, URIRef
from rdflib.namespace import DCAT, DCTERMS, RDF
from sqlalchemy.orm import Session

from loyalty.analytics import generate, open_data, release
from loyalty.infra.db import make_engine, make_session_factory
from loyalty.models import PurchaseEvent, ReleasedCell, Scheme
from loyalty.town import scheme_settings
from tests.analytics_data import SECTORS, VILLAGES
from tests.factories import make_merchant, make_scheme

END = date(2026, 12, 2)
AFTER = datetime(2026, 12, 3, 2, 0, tzinfo=UTC)  # 2 December released


@pytest.fixture(scope="module")
def town(database_url: str) -> str:
    """A publishing town with two months of released days (3 October to 2 December:
    October from its first day and November are closed, December is not)."""
    engine = make_engine(database_url)
    try:
        with make_session_factory(engine)() as session:
            scheme = make_scheme(session, nis_code="46020", villages=VILLAGES)
            scheme.open_data = True
            for sector in SECTORS:
                make_merchant(session, scheme, sector=sector)
            session.commit()
            generate.generate_events(session, scheme, 6_000, end=END, days=61, seed=3,
                                     shoppers=400)
            release.release(session, scheme, AFTER)
            session.commit()
            return scheme.slug
    finally:
        engine.dispose()


def _scheme(session: Session, slug: str) -> Scheme:
    found = session.scalar(sa.select(Scheme).where(Scheme.slug == slug))
    assert found is not None
    return found


def _csv(client: FlaskClient, slug: str, table: str, lang: str = "nl") -> list[dict[str, str]]:
    answer = client.get(f"/open-data/{slug}/{table}.csv?lang={lang}")
    assert answer.status_code == 200
    assert answer.mimetype == "text/csv"
    return list(csv.DictReader(io.StringIO(answer.get_data(as_text=True))))


def test_a_scheme_that_does_not_publish_has_no_open_data(client: FlaskClient,
                                                         session: Session) -> None:
    scheme = make_scheme(session)
    session.commit()
    for path in ("", "/total.csv", "/total.json", "/catalog.jsonld"):
        assert client.get(f"/open-data/{scheme.slug}{path}").status_code == 404
    assert client.get("/open-data/no-such-town").status_code == 404


def test_the_tables_are_closed_months_summed_from_released_cells(
        session: Session, client: FlaskClient, town: str) -> None:
    scheme = _scheme(session, town)
    cells = session.execute(sa.select(
        ReleasedCell.day, ReleasedCell.key, ReleasedCell.purchases,
        ReleasedCell.amount_cents).where(ReleasedCell.scheme_id == scheme.id,
                                         ReleasedCell.table == "area")).all()
    k = scheme.k_anonymity
    sums: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    for day, key, purchases, amount in cells:
        sums[(day.isoformat()[:7], key)][0] += purchases
        sums[(day.isoformat()[:7], key)][1] += amount

    rows = _csv(client, town, "home_area")
    assert {row["month"] for row in rows} == {"2026-10", "2026-11"}  # December is open
    visible = [row for row in rows if row["suppressed"] == "false"]
    assert visible, "a town of 400 shoppers has visible home areas"
    for row in visible:
        purchases, amount = sums[(row["month"], row["key"])]
        assert int(row["purchases"]) == max(0, purchases)
        assert int(row["amount_cents"]) == max(0, amount)
        # The k rule on the noisy count, as on the dashboard.
        assert int(row["purchases"]) >= k
        assert int(row["purchases_margin"]) > 0
    for row in rows:
        if row["suppressed"] == "true":
            assert row["purchases"] == row["amount_cents"] == row["purchases_margin"] == ""
    labels = {row["key"]: row["label"] for row in rows}
    assert labels["village:De Klinge"] == "De Klinge"
    assert labels["unknown"] == "Niet opgegeven"

    answer = client.get(f"/open-data/{town}/home_area.json?lang=fr")
    assert answer.status_code == 200
    body = answer.get_json()
    assert body["k"] == k and body["epsilon_per_day"] == 1.0
    assert [r["purchases"] for r in body["rows"]] == [
        None if r["purchases"] == "" else int(r["purchases"]) for r in rows]
    assert {r["key"]: r["label"] for r in body["rows"]}["unknown"] == "Non communiqué"
    assert client.get(f"/open-data/{town}/shoppers.csv").status_code == 404


def test_no_sector_group_shows_one_shops_turnover(session: Session, client: FlaskClient,
                                                  town: str) -> None:
    scheme = _scheme(session, town)
    shop_amounts: dict[tuple[str, str], dict[int, int]] = defaultdict(dict)
    for day, sector, merchant, amount in session.execute(sa.select(
            PurchaseEvent.local_date, PurchaseEvent.sector, PurchaseEvent.merchant_id,
            PurchaseEvent.amount_cents).where(PurchaseEvent.scheme_id == scheme.id)):
        own = shop_amounts[(day.isoformat()[:7], sector[:4])]
        own[merchant] = own.get(merchant, 0) + amount
    rows = _csv(client, town, "sector_group")
    by_month: dict[str, list[dict[str, str]]] = defaultdict(list)
    for row in rows:
        by_month[row["month"]].append(row)
        shops = shop_amounts[(row["month"], row["key"])]
        if row["suppressed"] == "false":
            assert len(shops) >= 3 and max(shops.values()) <= sum(shops.values()) / 2
    # One shop's group (56.3: one café; 96.0: one hairdresser) is always hidden.
    hidden = {(row["month"], row["key"]) for row in rows if row["suppressed"] == "true"}
    assert {("2026-11", "56.3"), ("2026-11", "96.0")} <= hidden
    # Never exactly one hidden row in a month: the total minus the rest would give it.
    for month_rows in by_month.values():
        assert sum(row["suppressed"] == "true" for row in month_rows) != 1
    assert "Voeding" in {row["key"]: row["label"] for row in rows}["47.2"]


# rdflib's own JSON-LD parser still builds the graph class it deprecates.
@pytest.mark.filterwarnings("ignore:ConjunctiveGraph is deprecated:DeprecationWarning")
def test_the_dcat_ap_catalogue_describes_every_table_and_its_files(
        client: FlaskClient, town: str) -> None:
    answer = client.get(f"/open-data/{town}/catalog.jsonld")
    assert answer.status_code == 200
    assert answer.mimetype == "application/ld+json"
    graph = Graph().parse(data=answer.get_data(as_text=True), format="json-ld")
    catalogs = list(graph.subjects(RDF.type, DCAT.Catalog))
    assert catalogs == [URIRef(f"https://sparen.example.be/open-data/{town}")]
    datasets = set(graph.objects(catalogs[0], DCAT.dataset))
    assert len(datasets) == len(open_data.TABLES)
    for dataset in datasets:
        assert (dataset, RDF.type, DCAT.Dataset) in graph
        titles = {t.language: str(t) for t in graph.objects(dataset, DCTERMS.title)}
        assert set(titles) == {"nl", "fr", "en"}
        assert graph.value(dataset, DCTERMS.license) == URIRef(open_data.LICENSE)
        temporal = graph.value(dataset, DCTERMS.temporal)
        assert str(graph.value(temporal, DCAT.startDate)) == "2026-10-03"
        assert str(graph.value(temporal, DCAT.endDate)) == "2026-11-30"
        distributions = list(graph.objects(dataset, DCAT.distribution))
        assert len(distributions) == 2
        for distribution in distributions:
            url = str(graph.value(distribution, DCAT.downloadURL))
            media = str(graph.value(distribution, DCAT.mediaType)).rsplit("/", 2)
            got = client.get(url.removeprefix("https://sparen.example.be"))
            assert got.status_code == 200, url
            assert got.mimetype == f"{media[-2]}/{media[-1]}"


@pytest.mark.parametrize(("lang", "title"), [
    ("nl", "Open data van"), ("fr", "Données ouvertes de"), ("en", "Open data of")])
def test_the_page_explains_the_method_in_the_readers_language(
        client: FlaskClient, town: str, lang: str, title: str) -> None:
    client.set_cookie("lang", lang)
    answer = client.get(f"/open-data/{town}")
    assert answer.status_code == 200
    page = answer.get_data(as_text=True)
    assert f'<html lang="{lang}">' in page and title in page
    assert f"/open-data/{town}/sector_group.csv" in page
    assert f"/open-data/{town}/catalog.jsonld" in page
    assert open_data.LICENSE in page


def test_the_municipality_turns_publishing_on_in_its_settings(session: Session) -> None:
    scheme = make_scheme(session, villages=VILLAGES)
    session.commit()
    wanted = scheme_settings.SchemeSettings.of(scheme)
    changes = scheme_settings.update(session, scheme, None,
                                     scheme_settings.SchemeSettings(**{
                                         **wanted.__dict__, "open_data": True}))
    session.commit()
    assert changes == {"open_data": [False, True]} and scheme.open_data

"""Shopping clusters and footfall: the admin defines clusters and places shops,
released days get the flow and cluster-hour tables, the report per cluster reads
only released cells under the hiding rules, and footfall files are checked line by
line before anything is stored."""

from __future__ import annotations

import io
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta

import sqlalchemy as sa
from flask import Flask
from sqlalchemy.orm import Session

from loyalty.analytics import cluster_reports, footfall, generate, release
from loyalty.analytics.periods import Period
from loyalty.models import (
    AuditEntry,
    FootfallCount,
    FootfallCounter,
    Merchant,
    ReleasedCell,
    ReleasedDay,
    Scheme,
    ShoppingCluster,
)
from loyalty.town import clusters
from tests.factories import make_merchant
from tests.forms import csrf
from tests.municipality_dashboard.conftest import Municipality, html

END = date(2026, 11, 30)
AFTER = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)
NOVEMBER = Period(date(2026, 11, 1), END)


def _town_with_clusters(session: Session, town: Municipality) -> tuple[Scheme, dict[str, int]]:
    """Markt with four shops, Kerkstraat De Klinge with one, two shops in none; a
    month of purchases, released. Markt gets about 5,500 purchases, over five times the
    spread of its monthly noise (a margin of about 1,900), so it is shown on every run;
    with 4,000 events it fell under k about once in forty runs."""
    scheme = session.get_one(Scheme, town.scheme.id)
    markt = clusters.create_cluster(session, scheme, None, "Markt")
    kerkstraat = clusters.create_cluster(session, scheme, None, "Kerkstraat De Klinge")
    placements = {}
    for n, sector in enumerate(("47.24", "47.22", "56.101", "47.71", "47.76", "47.11", "96.021")):
        shop = make_merchant(session, scheme, sector=sector)
        cluster = markt.id if n < 4 else kerkstraat.id if n == 4 else None
        placements[shop.id] = clusters.Placement("Sint-Gillis-Waas" if n < 4 else "De Klinge",
                                                 cluster)
    clusters.place_shops(session, scheme, None, placements)
    session.commit()
    generate.generate_events(session, scheme, 12_000, end=END, days=30, seed=11, shoppers=300)
    release.release(session, scheme, AFTER)
    session.commit()
    return scheme, {"Markt": markt.id, "Kerkstraat De Klinge": kerkstraat.id}


def test_the_admin_defines_clusters_and_places_shops(app: Flask, session: Session,
                                                     town: Municipality) -> None:
    client = town.admin_client
    client.set_cookie("lang", "en")
    page = html(client.get("/dashboard/clusters"))
    answer = client.post("/dashboard/clusters", data={"csrf_token": csrf(page), "name": " Markt "})
    assert answer.status_code == 303
    again = client.post("/dashboard/clusters", data={"csrf_token": csrf(page), "name": "Markt"})
    assert again.status_code == 409
    assert "There is already a cluster of that name." in again.get_data(as_text=True)
    markt = session.scalars(sa.select(ShoppingCluster).where(
        ShoppingCluster.scheme_id == town.scheme.id)).one()
    assert markt.name == "Markt"

    shop = make_merchant(session, town.scheme, sector="47.24")
    page = html(client.get("/dashboard/clusters"))
    placed_answer = client.post("/dashboard/clusters/shops", data={
        "csrf_token": csrf(page), f"village-{shop.id}": "De Klinge",
        f"cluster-{shop.id}": str(markt.id)})
    assert placed_answer.status_code == 303, placed_answer.headers
    session.rollback()  # a new snapshot (SQLite) with every object reloaded
    session.expire_all()
    placed = session.get_one(Merchant, shop.id)
    assert (placed.village, placed.cluster_id) == ("De Klinge", markt.id)
    # A village not on the scheme's list changes nothing.
    refused = client.post("/dashboard/clusters/shops", data={
        "csrf_token": csrf(page), f"village-{shop.id}": "Brussel", f"cluster-{shop.id}": ""})
    assert refused.status_code == 400
    session.rollback()  # a new snapshot (SQLite) with every object reloaded
    session.expire_all()
    assert session.get_one(Merchant, shop.id).cluster_id == markt.id
    actions = set(session.scalars(sa.select(AuditEntry.action).where(
        AuditEntry.scheme_id == town.scheme.id)))
    assert {"cluster.create", "merchant.place"} <= actions

    # Removing it asks first, then leaves the shop in none.
    page = html(client.get("/dashboard/clusters"))
    asked = client.post(f"/dashboard/clusters/{markt.id}/delete",
                        data={"csrf_token": csrf(page)})
    assert asked.status_code == 200 and "Remove the cluster Markt?" in asked.get_data(True)
    assert client.post(f"/dashboard/clusters/{markt.id}/delete",
                       data={"csrf_token": csrf(page), "confirmed": "1"}).status_code == 303
    session.rollback()  # a new snapshot (SQLite) with every object reloaded
    session.expire_all()
    assert session.get_one(Merchant, shop.id).cluster_id is None
    # An analyst reads the report but does not manage clusters.
    assert town.analyst_client.get("/dashboard/clusters").status_code == 403
    assert town.analyst_client.get("/dashboard/clusters/report").status_code == 200


def test_released_days_carry_the_flow_and_cluster_hour_tables(
        session: Session, town: Municipality) -> None:
    scheme, ids = _town_with_clusters(session, town)
    day = session.scalars(sa.select(ReleasedDay).where(ReleasedDay.scheme_id == scheme.id)
                          .order_by(ReleasedDay.day)).first()
    assert day is not None
    cells = session.execute(sa.select(ReleasedCell.table, ReleasedCell.key,
                                      ReleasedCell.purchases_scale).where(
        ReleasedCell.scheme_id == scheme.id, ReleasedCell.day == day.day)).all()
    tables = {table for table, _key, _scale in cells}
    assert tables == set(release.ALL_TABLES)
    # Eight tables share the day's budget: each figure gets 1/16 of it.
    assert {scale for _t, _k, scale in cells} == {3 / (1 / 16)}
    flow_keys = {key for table, key, _s in cells if table == "flow"}
    homes = ["village:Sint-Gillis-Waas", "village:De Klinge", "village:Meerdonk",
             "village:Sint-Pauwels", "own", "other", "unknown"]
    assert flow_keys == {f"{h}|{c}" for h in homes
                         for c in (str(ids["Markt"]), str(ids["Kerkstraat De Klinge"]), "none")}
    assert len([1 for table, *_ in cells if table == "cluster_hour"]) == 3 * 24


def test_the_cluster_report_sums_released_cells_under_the_hiding_rules(
        session: Session, town: Municipality) -> None:
    scheme, ids = _town_with_clusters(session, town)
    flows = session.execute(sa.select(ReleasedCell.key, ReleasedCell.purchases,
                                      ReleasedCell.amount_cents).where(
        ReleasedCell.scheme_id == scheme.id, ReleasedCell.table == "flow")).all()
    per_cluster: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    per_cell: dict[str, int] = defaultdict(int)
    for key, purchases, amount in flows:
        per_cluster[key.partition("|")[2]][0] += purchases
        per_cluster[key.partition("|")[2]][1] += amount
        per_cell[key] += purchases

    rows = {row.name: row for row in cluster_reports.spending(session, scheme, NOVEMBER)}
    markt = rows["Markt"]
    assert markt.hidden_by is None and markt.shops == 4
    assert markt.purchases == per_cluster[str(ids["Markt"])][0]
    assert markt.amount_cents == per_cluster[str(ids["Markt"])][1]
    assert markt.purchases_margin and markt.purchases_margin > 0
    # One shop: its turnover would show, so it is hidden whatever the noise; the page
    # names the first rule that hides it (k on the noisy count comes first).
    kerkstraat = rows["Kerkstraat De Klinge"]
    noisy = per_cluster[str(ids["Kerkstraat De Klinge"])][0]
    assert kerkstraat.purchases is None and kerkstraat.amount_cents is None
    assert kerkstraat.hidden_by == ("shops" if noisy >= scheme.k_anonymity else "shoppers")

    flow = cluster_reports.flow(session, scheme, NOVEMBER)
    assert flow.hidden_clusters == {ids["Kerkstraat De Klinge"]}
    assert all(flow.purchases[(home, ids["Kerkstraat De Klinge"])] is None
               for home in flow.homes)
    for home in flow.homes:
        value = flow.purchases[(home, ids["Markt"])]
        noisy = max(0, per_cell[f"{home}|{ids['Markt']}"])
        assert value == (noisy if noisy >= scheme.k_anonymity else None)
    # Hundreds of purchases a month reach Markt from its largest homes: some show.
    assert any(flow.purchases[(home, ids["Markt"])] is not None for home in flow.homes)

    town.analyst_client.set_cookie("lang", "nl")
    page = html(town.analyst_client.get(
        "/dashboard/clusters/report?from=2026-11-01&to=2026-11-30"))
    assert "Wie komt naar welke winkelkern" in page and "Markt" in page
    assert f"± {markt.purchases_margin:,}".replace(",", ".") in page


def test_a_footfall_file_with_bad_lines_is_refused_with_each_line_named(
        session: Session, town: Municipality) -> None:
    client = town.admin_client
    client.set_cookie("lang", "nl")
    page = html(client.get("/dashboard/clusters"))
    bad = (b"counter;timestamp;count\n"
           b"Markt-Noord;2026-11-14T10:00;412\n"
           b"Markt-Noord;14/11/2026 11:00;300\n"
           b"Markt-Noord;2026-11-14T10:30;12\n"
           b"Markt-Zuid;2026-11-14T10:00;-3\n"
           b"Markt-Noord;2026-11-14T10:00;5\n")
    answer = client.post("/dashboard/footfall", data={
        "csrf_token": csrf(page), "file": (io.BytesIO(bad), "tellingen.csv")},
        content_type="multipart/form-data")
    assert answer.status_code == 400
    text = answer.get_data(as_text=True)
    assert "Er is niets opgeslagen" in text
    for line in (3, 4, 5, 6):
        assert f"Lijn {line}:" in text
    assert "Lijn 2:" not in text
    assert session.scalar(sa.select(sa.func.count()).select_from(FootfallCount).join(
        FootfallCounter).where(FootfallCounter.scheme_id == town.scheme.id)) == 0


def test_footfall_beside_the_clusters_purchases(session: Session, town: Municipality) -> None:
    scheme, ids = _town_with_clusters(session, town)
    lines = ["counter,timestamp,count"]
    for day in range(1, 31):
        for hour in (10, 11):
            lines.append(f"Markt-Noord,2026-11-{day:02d}T{hour:02d}:00,{400 + hour}")
            lines.append(f"Markt-Zuid,2026-11-{day:02d} {hour:02d}:00,100")
    parsed = footfall.parse("\n".join(lines).encode(), scheme.timezone)
    assert not parsed.errors and len(parsed.counts) == 120
    # Town time: 10:00 in Sint-Gillis-Waas in November is 09:00 UTC.
    assert ("Markt-Noord", datetime(2026, 11, 1, 9, tzinfo=UTC)) in parsed.counts
    stored = footfall.store(session, scheme, parsed.counts)
    assert stored.new_counters == ["Markt-Noord", "Markt-Zuid"]
    counters = {c.name: c.id for c in footfall.counters(session, scheme.id)}
    clusters.assign_counters(session, scheme, None,
                             {counters["Markt-Noord"]: ids["Markt"],
                              counters["Markt-Zuid"]: ids["Markt"]})
    # A corrected file replaces the hours it names.
    again = footfall.parse(b"counter,timestamp,count\nMarkt-Zuid,2026-11-01T10:00,0\n",
                           scheme.timezone)
    footfall.store(session, scheme, again.counts)
    session.commit()

    rows = {row.hour: row for row in footfall.conversion(session, scheme, NOVEMBER)}
    assert set(rows) == {10, 11}
    assert rows[10].passers_by == 30 * 410 + 29 * 100
    assert rows[11].passers_by == 30 * 411 + 30 * 100
    released = release.released_by(session, scheme.id, "cluster_hour", NOVEMBER)
    for hour, row in rows.items():
        noisy = released[f"{ids['Markt']}|{hour}"].purchases
        if row.purchases is None:
            assert noisy < scheme.k_anonymity
        else:
            assert row.purchases == noisy
            assert row.per_100 == round(100 * noisy / row.passers_by, 1)
    before = datetime(2026, 11, 1, tzinfo=UTC) - timedelta(hours=1)
    assert session.scalar(sa.select(sa.func.count()).select_from(FootfallCount).join(
        FootfallCounter).where(FootfallCounter.scheme_id == scheme.id,
                               FootfallCount.hour < before)) == 0

"""Reports per shopping cluster, read only from released cells (loyalty.analytics.release):
spending per cluster, and the flow from the shoppers' home villages to the clusters
where they shop (who comes to which centre).

The rules of the other reports hold on top of the noise: a figure of fewer than k
(noisy) purchases is hidden, and so is a cluster of fewer than three shops or
where one shop holds more than half of the amount (judged on the exact amounts,
which are never shown), so that no shop's turnover can be read.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Session

from loyalty.analytics import areas, cells, privacy, release
from loyalty.analytics.periods import Period
from loyalty.models import Merchant, Scheme
from loyalty.town import clusters as cluster_domain


@dataclass(frozen=True)
class ClusterRow:
    cluster_id: int
    name: str
    shops: int  # shops in the cluster now (a public fact: the directory shows them)
    purchases: int | None
    purchases_margin: int | None
    amount_cents: int | None
    amount_margin_cents: int | None
    hidden_by: str | None  # "shoppers" (fewer than k), "shops", "secondary" or None


def _shop_amounts(session: Session, scheme_id: int, period: Period) -> dict[str, list[int]]:
    """Per cluster (as the shops are placed now), each shop's exact amount in the
    period: read to decide whether one shop would show, never shown."""
    cluster_of = {shop: cluster_id for shop, cluster_id in session.execute(
        sa.select(Merchant.id, Merchant.cluster_id)
        .where(Merchant.scheme_id == scheme_id, Merchant.cluster_id.is_not(None))
    )}
    per_shop: dict[str, list[int]] = defaultdict(list)
    for shop, amounts in cells.shop_amounts(session, scheme_id, "merchant", period).items():
        cluster_id = cluster_of.get(int(shop))
        if cluster_id is not None:
            per_shop[str(cluster_id)].extend(amounts.values())
    return per_shop


def _shops_rule(own: list[int]) -> bool:
    """True when a cluster's figures would show one shop's turnover."""
    return len(own) < privacy.MIN_SHOPS or max(own, default=0) > privacy.MAX_SHOP_SHARE * sum(own)


def spending(session: Session, scheme: Scheme, period: Period) -> list[ClusterRow]:
    """Each cluster's released purchases and amount in the period."""
    found = cluster_domain.clusters(session, scheme.id)
    sums = release.released_by(session, scheme.id, "cluster", period)
    shops = _shop_amounts(session, scheme.id, period)
    shop_counts: dict[int | None, int] = {
        cluster_id: count for cluster_id, count in session.execute(
            sa.select(Merchant.cluster_id, sa.func.count()).where(
                Merchant.scheme_id == scheme.id, Merchant.cluster_id.is_not(None))
            .group_by(Merchant.cluster_id))
    }
    cells = []
    for cluster in found:
        key = str(cluster.id)
        figures = sums.get(key)
        purchases = max(0, figures.purchases) if figures else 0
        own = shops.get(key, [])
        cells.append(privacy.Cell(
            key=key, label=cluster.name, purchases=purchases,
            amount_cents=max(0, figures.amount_cents) if figures else 0,
            # The k rule on the noisy count: released cells carry no shopper counts.
            shoppers=purchases,
            shops=privacy.MIN_SHOPS if not _shops_rule(own) else 0,
            top_shop_amount_cents=0,
            extra={"purchases_margin": figures.purchases_margin if figures else 0,
                   "amount_margin": figures.amount_margin_cents if figures else 0},
        ))
    counted = {c.id: shop_counts.get(c.id, 0) for c in found}
    # Rules 1 and 2 per cluster. No second cell is hidden for a hidden one (rule 3):
    # no exact total is shown, and a sum of noisy released cells minus others is noise.
    shown = []
    for cell in cells:
        rule = privacy.rule_broken(cell, scheme.k_anonymity)
        shown.append(privacy.hide(cell, rule) if rule else cell)
    return [
        ClusterRow(cluster_id=int(cell.key), name=cell.label or "", shops=counted[int(cell.key)],
                   purchases=cell.purchases, purchases_margin=cell.extra["purchases_margin"],
                   amount_cents=cell.amount_cents, amount_margin_cents=cell.extra["amount_margin"],
                   hidden_by=cell.hidden_by)
        for cell in shown
    ]


@dataclass(frozen=True)
class Flow:
    homes: list[str]  # flow home keys, in order: villages, own, elsewhere, unknown
    clusters: list[tuple[int, str]]
    # (home, cluster id) -> released purchases, None when hidden
    purchases: dict[tuple[str, int], int | None]
    # Each home's share of its visible purchases per cluster, in percent.
    shares: dict[tuple[str, int], float | None]
    hidden_clusters: set[int]  # fewer than three shops, or one holds most of it


def flow(session: Session, scheme: Scheme, period: Period) -> Flow:
    """Purchases from each home to each cluster. A hidden cell is not worked out
    from the others: every figure is a sum of noisy released cells, so a difference
    of two of them is noise, not a hidden count."""
    found = [(c.id, c.name) for c in cluster_domain.clusters(session, scheme.id)]
    sums = release.released_by(session, scheme.id, "flow", period)
    shops = _shop_amounts(session, scheme.id, period)
    hidden_clusters = {cid for cid, _name in found if _shops_rule(shops.get(str(cid), []))}
    homes = [*(f"village:{v}" for v in (scheme.villages or [])), release.OWN_MUNICIPALITY,
             release.OTHER_AREA, areas.UNKNOWN]
    purchases: dict[tuple[str, int], int | None] = {}
    for home in homes:
        for cid, _name in found:
            cell = sums.get(f"{home}|{cid}")
            noisy = max(0, cell.purchases) if cell else 0
            visible = cid not in hidden_clusters and noisy >= scheme.k_anonymity
            purchases[(home, cid)] = noisy if visible else None
    shares: dict[tuple[str, int], float | None] = {}
    for home in homes:
        row_total = sum(v for (h, _c), v in purchases.items() if h == home and v is not None)
        for cid, _name in found:
            value = purchases[(home, cid)]
            shares[(home, cid)] = (round(100 * value / row_total, 1)
                                   if value is not None and row_total else None)
    return Flow(homes, found, purchases, shares, hidden_clusters)

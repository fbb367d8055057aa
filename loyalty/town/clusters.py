"""Shopping clusters: the municipality names its shopping streets and centres and
puts each shop in one (and in its village), so reports can say who comes to which
centre. Every change is audited against the scheme."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Session

from loyalty.errors import Conflict, InvalidInput, NotFound
from loyalty.models import FootfallCounter, Merchant, Scheme, ShoppingCluster, StaffUser
from loyalty.oversight import audit

MAX_NAME = 80
MAX_CLUSTERS = 30  # a town's shopping centres, not its streets one by one


def clusters(session: Session, scheme_id: int) -> list[ShoppingCluster]:
    return list(session.scalars(
        sa.select(ShoppingCluster).where(ShoppingCluster.scheme_id == scheme_id)
        .order_by(ShoppingCluster.name)))


def _clean(name: str) -> str:
    name = " ".join(name.split())
    if not 1 <= len(name) <= MAX_NAME:
        raise InvalidInput(f"a cluster's name has 1 to {MAX_NAME} characters",
                           code="invalid_cluster_name")
    return name


def create_cluster(session: Session, scheme: Scheme, actor: StaffUser | None,
                   name: str) -> ShoppingCluster:
    """A new cluster. Raises InvalidInput for a bad name, Conflict for a name in use
    (also when another admin makes it at the same moment: the unique key decides)."""
    name = _clean(name)
    if len(clusters(session, scheme.id)) >= MAX_CLUSTERS:
        raise InvalidInput(f"at most {MAX_CLUSTERS} clusters", code="too_many_clusters")
    cluster = ShoppingCluster(scheme_id=scheme.id, name=name)
    try:
        with session.begin_nested():
            session.add(cluster)
            session.flush()  # the unique (scheme, name) key, before the audit names it
    except sa.exc.IntegrityError:
        raise Conflict("a cluster of that name exists", code="cluster_exists") from None
    audit.record(session, actor, "cluster.create", scheme, {"cluster": name})
    return cluster


def get_cluster(session: Session, scheme_id: int, cluster_id: int) -> ShoppingCluster:
    cluster = session.get(ShoppingCluster, cluster_id)
    if cluster is None or cluster.scheme_id != scheme_id:
        raise NotFound("no such cluster", code="unknown_cluster")
    return cluster


def delete_cluster(session: Session, scheme: Scheme, actor: StaffUser | None,
                   cluster: ShoppingCluster) -> None:
    """Remove a cluster; its shops and counters belong to none. Released statistics
    keep the cluster they were made with."""
    session.execute(sa.update(Merchant).where(Merchant.cluster_id == cluster.id)
                    .values(cluster_id=None))
    session.execute(sa.update(FootfallCounter).where(FootfallCounter.cluster_id == cluster.id)
                    .values(cluster_id=None))
    audit.record(session, actor, "cluster.delete", scheme, {"cluster": cluster.name})
    session.delete(cluster)
    session.flush()


@dataclass(frozen=True)
class Placement:
    village: str | None
    cluster_id: int | None


def place_shops(session: Session, scheme: Scheme, actor: StaffUser | None,
                wanted: Mapping[int, Placement]) -> int:
    """Set shops' villages and clusters; returns how many shops changed. Checks
    everything first: raises InvalidInput (a village not on the scheme's list, a
    cluster or shop of another scheme) before changing anything."""
    villages = set(scheme.villages or [])
    own_clusters = {c.id: c.name for c in clusters(session, scheme.id)}
    shops = {m.id: m for m in session.scalars(
        sa.select(Merchant).where(Merchant.scheme_id == scheme.id,
                                  Merchant.id.in_(list(wanted))))}
    for merchant_id, place in wanted.items():
        if merchant_id not in shops:
            raise InvalidInput("no such shop", code="unknown_merchant")
        if place.village is not None and place.village not in villages:
            raise InvalidInput("choose a village of the scheme's list", code="invalid_village")
        if place.cluster_id is not None and place.cluster_id not in own_clusters:
            raise InvalidInput("no such cluster", code="unknown_cluster")
    changed = 0
    for merchant_id, place in wanted.items():
        shop = shops[merchant_id]
        if (shop.village, shop.cluster_id) == (place.village, place.cluster_id):
            continue
        audit.record(session, actor, "merchant.place", shop, {
            "village": place.village or "–",
            "cluster": own_clusters.get(place.cluster_id or 0, "–"),
        })
        shop.village, shop.cluster_id = place.village, place.cluster_id
        changed += 1
    session.flush()
    return changed


def assign_counters(session: Session, scheme: Scheme, actor: StaffUser | None,
                    wanted: Mapping[int, int | None]) -> int:
    """Say which cluster each footfall counter counts for; returns how many changed.
    Raises InvalidInput for a counter or cluster of another scheme, before any change."""
    own_clusters = {c.id: c.name for c in clusters(session, scheme.id)}
    found = {c.id: c for c in session.scalars(sa.select(FootfallCounter).where(
        FootfallCounter.scheme_id == scheme.id, FootfallCounter.id.in_(list(wanted))))}
    for counter_id, cluster_id in wanted.items():
        if counter_id not in found:
            raise InvalidInput("no such counter", code="unknown_counter")
        if cluster_id is not None and cluster_id not in own_clusters:
            raise InvalidInput("no such cluster", code="unknown_cluster")
    changed = 0
    for counter_id, cluster_id in wanted.items():
        counter = found[counter_id]
        if counter.cluster_id != cluster_id:
            counter.cluster_id = cluster_id
            audit.record(session, actor, "footfall.counter", scheme, {
                "counter": counter.name, "cluster": own_clusters.get(cluster_id or 0, "–")})
            changed += 1
    session.flush()
    return changed

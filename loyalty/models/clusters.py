"""Shopping clusters (winkelkernen) a municipality defines, and the footfall counts
it buys for them (pedestrians per counter and hour)."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from loyalty.infra.db import Base, UTCDateTime, utcnow


class ShoppingCluster(Base):
    """A shopping street or centre of a scheme, e.g. "Markt" or "Kerkstraat De Klinge"."""

    __tablename__ = "shopping_clusters"

    id: Mapped[int] = mapped_column(primary_key=True)
    scheme_id: Mapped[int] = mapped_column(sa.ForeignKey("schemes.id"), index=True)
    name: Mapped[str] = mapped_column(sa.String(80))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (sa.UniqueConstraint("scheme_id", "name"),)


class FootfallCounter(Base):
    """A pedestrian counter as the footfall files name it, and the cluster it counts for."""

    __tablename__ = "footfall_counters"

    id: Mapped[int] = mapped_column(primary_key=True)
    scheme_id: Mapped[int] = mapped_column(sa.ForeignKey("schemes.id"), index=True)
    name: Mapped[str] = mapped_column(sa.String(80))
    cluster_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("shopping_clusters.id", ondelete="SET NULL"))

    __table_args__ = (sa.UniqueConstraint("scheme_id", "name"),)


class FootfallCount(Base):
    """Passers-by one counter counted in one hour (the hour's start, UTC). A new file
    with the same counter and hour replaces the count."""

    __tablename__ = "footfall_counts"

    counter_id: Mapped[int] = mapped_column(
        sa.ForeignKey("footfall_counters.id", ondelete="CASCADE"), primary_key=True)
    hour: Mapped[datetime] = mapped_column(UTCDateTime, primary_key=True)
    count: Mapped[int] = mapped_column()

    __table_args__ = (sa.CheckConstraint("count >= 0", name="count_not_negative"),)

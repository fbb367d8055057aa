from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from loyalty.infra.db import Base, UTCDateTime, utcnow


class PublishedText(Base):
    """One version of a text a municipality publishes for its scheme, in one language:
    the privacy notice for shoppers, the scheme rules or the terms for shops.

    Versions are only added, never changed: the newest is the one shown, and a
    version without a body sends the page back to the default text generated
    from the scheme's settings (loyalty.town.published_texts). The unique key
    lets one of two admins saving at once win; the other is told.
    """

    __tablename__ = "published_texts"

    id: Mapped[int] = mapped_column(primary_key=True)
    scheme_id: Mapped[int] = mapped_column(sa.ForeignKey("schemes.id"))
    kind: Mapped[str] = mapped_column(sa.String(20))
    language: Mapped[str] = mapped_column(sa.String(2))
    version: Mapped[int] = mapped_column()
    # Plain text: paragraphs separated by a blank line. None: the default text.
    body: Mapped[str | None] = mapped_column(sa.Text)
    changed_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("staff_users.id"))
    # The e-mail address at the time, as in the audit log.
    changed_by_label: Mapped[str] = mapped_column(sa.String(254))
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (
        # Also the index of "the newest version of this text".
        sa.UniqueConstraint("scheme_id", "kind", "language", "version"),
        sa.CheckConstraint("kind IN ('privacy', 'rules', 'shop_terms')", name="kind_known"),
        sa.CheckConstraint("language IN ('nl', 'fr', 'en')", name="language_known"),
        sa.CheckConstraint("version > 0", name="version_positive"),
    )

"""Fun, run and daily shopping: the documented NACE-BEL mapping, in Python and in SQL alike."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from loyalty.analytics.kinds import kind_expression, shopping_kind

CASES = [("47.11", "daily"), ("47.24", "daily"), ("47.73", "daily"), ("47.75", "daily"),
         ("47.52", "run"), ("47.782", "run"), ("96.021", "run"), ("47.30", "run"),
         ("47.71", "fun"), ("47.721", "fun"), ("47.64", "fun"), ("56.101", "fun"),
         ("56.301", "fun"), ("93.29", "fun"), ("01.11", "other"), ("62.01", "other")]


@pytest.mark.parametrize(("sector", "kind"), CASES)
def test_sector_kinds(sector: str, kind: str, session: Session) -> None:
    assert shopping_kind(sector) == kind
    assert session.scalar(sa.select(kind_expression(sa.literal(sector)))) == kind

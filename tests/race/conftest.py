from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy.orm import Session


@pytest.fixture
def db(session: Session) -> Iterator[Session]:
    """The setup session. Commit it before a burst, so that no open transaction of
    the test stands in the way of the server's writers."""
    yield session
    session.commit()

"""Which nightly backups to keep: 7 daily, 4 weekly and 12 monthly.

The classic grandfather-father-son rotation: the newest backup of each of the
7 newest days, of each of the 4 newest weeks and of each of the 12 newest
months are kept; everything else may go. A backup's moment is in its name
(``lokaal-sparen-2026-12-05-0130.backup``), not the file's time, so copying
the folder elsewhere changes nothing. Files not named so are never touched.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from datetime import datetime
from pathlib import Path

PREFIX = "lokaal-sparen-"
SUFFIX = ".backup"
_NAME = re.compile(r"^lokaal-sparen-(\d{4}-\d{2}-\d{2}-\d{4})\.backup$")

DAILY, WEEKLY, MONTHLY = 7, 4, 12


def name_for(moment: datetime) -> str:
    """The file name of the backup made at ``moment`` (local time of the town)."""
    return f"{PREFIX}{moment:%Y-%m-%d-%H%M}{SUFFIX}"


def moment_of(name: str) -> datetime | None:
    match = _NAME.match(name)
    return datetime.strptime(match.group(1), "%Y-%m-%d-%H%M") if match else None


def _newest_per(moments: list[datetime], key: Callable[[datetime], object], count: int
                ) -> set[datetime]:
    kept: dict[object, datetime] = {}
    for moment in sorted(moments, reverse=True):
        if key(moment) not in kept:
            if len(kept) == count:
                break
            kept[key(moment)] = moment
    return set(kept.values())


def to_keep(names: Iterable[str]) -> set[str]:
    """The names among ``names`` that the rotation keeps (others named as backups go)."""
    dated = {name: moment for name in names if (moment := moment_of(name)) is not None}
    moments = list(dated.values())
    keep = (
        _newest_per(moments, lambda m: m.date(), DAILY)
        | _newest_per(moments, lambda m: m.isocalendar()[:2], WEEKLY)
        | _newest_per(moments, lambda m: (m.year, m.month), MONTHLY)
    )
    return {name for name, moment in dated.items() if moment in keep}


def prune(folder: Path) -> tuple[list[str], list[str]]:
    """Delete the backups in ``folder`` that the rotation does not keep.

    Returns (kept, deleted) names, newest first.
    """
    names = [p.name for p in folder.iterdir() if p.is_file() and moment_of(p.name)]
    keep = to_keep(names)
    deleted = sorted(set(names) - keep, reverse=True)
    for name in deleted:
        (folder / name).unlink(missing_ok=True)
    return sorted(keep, reverse=True), deleted

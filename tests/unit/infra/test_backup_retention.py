"""The rotation keeps 7 daily, 4 weekly and 12 monthly backups, and nothing else."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from loyalty.infra import backup_retention
from loyalty.infra.backup_retention import moment_of, name_for, to_keep


def test_a_year_and_a_half_of_nightly_backups() -> None:
    last = datetime(2026, 12, 5, 1, 30)  # a Saturday
    names = [name_for(last - timedelta(days=n)) for n in range(550)]
    kept = sorted((moment_of(n) for n in to_keep(names)), reverse=True)
    assert all(k is not None for k in kept)
    days = [k.date() for k in kept if k is not None]
    # The 7 newest nights ...
    assert days[:7] == [last.date() - timedelta(days=n) for n in range(7)]
    # ... the newest of each of the 4 newest weeks (Sundays end the weeks before) ...
    weeks = {d.isocalendar()[:2] for d in days}
    assert len([w for w in weeks if w >= (2026, 46)]) == 4
    assert datetime(2026, 11, 22).date() in days and datetime(2026, 11, 15).date() in days
    # ... and the newest of each of the 12 newest months: the last day of each.
    for year, month in [(2026, m) for m in range(1, 12)]:
        next_month = datetime(year + (month == 12), month % 12 + 1, 1)
        assert (next_month - timedelta(days=1)).date() in days, (year, month)
    assert datetime(2025, 12, 31).date() not in days  # the 13th month back goes
    assert len(kept) == len(set(days)) <= 7 + 4 + 12


def test_prune_deletes_only_backups_the_rotation_drops(tmp_path: Path) -> None:
    last = datetime(2026, 12, 5, 1, 30)
    for n in range(40):
        (tmp_path / name_for(last - timedelta(days=n))).write_bytes(b"x")
    (tmp_path / "my-own-copy.backup").write_bytes(b"x")
    kept, deleted = backup_retention.prune(tmp_path)
    on_disk = sorted(p.name for p in tmp_path.iterdir())
    assert sorted(kept) + ["my-own-copy.backup"] == sorted(on_disk)
    assert len(kept) + len(deleted) == 40 and deleted
    assert name_for(last) in kept

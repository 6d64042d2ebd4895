"""Backup retention on files alone (no database)."""

from pathlib import Path

from milestone.services import backup


def test_retention_keeps_seven_daily_and_four_weekly(tmp_path: Path):
    from datetime import datetime, timedelta

    start = datetime(2026, 1, 1, 2, 0)
    for i in range(60):
        for h in (0, 5):  # two a day: only the newest of each day counts
            (tmp_path / f"milestone-{(start + timedelta(days=i, hours=h)).strftime(backup.STAMP)}.dump").write_bytes(
                b""
            )
    backup.prune(tmp_path)
    left = sorted(p.name for p in tmp_path.glob("*.dump"))
    # 7 newest days, plus the newest of each of the 4 newest ISO weeks (some overlap with the days)
    assert 7 <= len(left) <= 11
    assert left[-1] == f"milestone-{(start + timedelta(days=59, hours=5)).strftime(backup.STAMP)}.dump"

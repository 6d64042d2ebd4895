"""Backup and restore round trip: every table comes back exactly as it was."""
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from milestone import seed
from milestone.services import backup
from milestone.config import ConfigError


def _tables(url: str) -> dict[str, list]:
    eng = sa.create_engine(url, poolclass=sa.NullPool)
    with eng.connect() as conn:
        names = conn.scalars(sa.text("SELECT tablename FROM pg_tables WHERE schemaname='milestone'")).all()
        out = {n: sorted(map(str, conn.execute(sa.text(f'SELECT * FROM milestone."{n}"')).all())) for n in names}
    eng.dispose()
    return out


@pytest.fixture()
def empty_db(fresh_database):
    url = make_url(fresh_database.url)
    name = f"ms_restore_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT", poolclass=sa.NullPool)
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    yield url.set(database=name).render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def test_backup_change_restore_gives_back_every_table(fresh_database, empty_db, tmp_path: Path):
    seed.ensure_demo_users(fresh_database.owner)
    seed.load(fresh_database.owner, 0.01, 1, progress=False)
    before = _tables(fresh_database.url)
    dump = backup.backup(tmp_path, url=fresh_database.url)
    assert dump.exists() and Path(f"{dump}.sha256").read_text().split()[0] == backup.sha256(dump)
    with fresh_database.owner.begin() as conn:
        conn.exec_driver_sql("DELETE FROM milestone.estimates")

    counts = backup.restore(dump, url=empty_db)
    assert counts["projects"] > 0
    after = _tables(empty_db)
    before.pop("backups"), after.pop("backups")
    assert after == before

    with pytest.raises(ConfigError, match="not empty"):
        backup.restore(dump, url=fresh_database.url)
    backup.restore(dump, url=fresh_database.url, force=True)
    again = _tables(fresh_database.url)
    again.pop("backups")
    assert again == before


def test_a_damaged_backup_is_refused(fresh_database, empty_db, tmp_path: Path):
    dump = backup.backup(tmp_path, url=fresh_database.url)
    with dump.open("ab") as f:
        f.write(b"x")
    with pytest.raises(ConfigError, match="checksum"):
        backup.restore(dump, url=empty_db)


def test_retention_keeps_seven_daily_and_four_weekly(tmp_path: Path):
    from datetime import datetime, timedelta
    start = datetime(2026, 1, 1, 2, 0)
    for i in range(60):
        for h in (0, 5):  # two a day: only the newest of each day counts
            (tmp_path / f"milestone-{(start + timedelta(days=i, hours=h)).strftime(backup.STAMP)}.dump").write_bytes(b"")
    backup.prune(tmp_path)
    left = sorted(p.name for p in tmp_path.glob("*.dump"))
    # 7 newest days, plus the newest of each of the 4 newest ISO weeks (some overlap with the days)
    assert 7 <= len(left) <= 11
    assert left[-1] == f"milestone-{(start + timedelta(days=59, hours=5)).strftime(backup.STAMP)}.dump"

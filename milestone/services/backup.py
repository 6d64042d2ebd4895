"""Backups with the embedded wheel's pg_dump/pg_restore: custom format, compressed, checksummed.

A backup is three files: milestone-<UTC stamp>.dump, .dump.sha256 (sha256sum format) and
.dump.json (row count of every table, taken in the very snapshot pg_dump reads).
"""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
from datetime import datetime, timezone
from pathlib import Path

from sqlalchemy.engine import make_url

from milestone import db
from milestone.config import ConfigError
from milestone.store import operations

STAMP = "%Y%m%dT%H%M%SZ"


def _libpq(url: str) -> tuple[str, dict[str, str]]:
    """A libpq URL without the password, and an env carrying it (keeps it out of `ps`)."""
    u = make_url(url)
    env = {**os.environ}
    if u.password:
        env["PGPASSWORD"] = u.password
    return u.set(drivername="postgresql", password=None).render_as_string(hide_password=False), env


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def backup(directory: Path, url: str | None = None, keep_daily: int = 7, keep_weekly: int = 4) -> Path:
    url = url or db.database_url()
    directory.mkdir(parents=True, exist_ok=True)
    now = datetime.now(timezone.utc)
    target = directory / f"milestone-{now.strftime(STAMP)}.dump"
    libpq, env = _libpq(url)
    eng = db.make_engine(url, app_role=False, pool_size=1)
    with eng.connect() as conn:
        snapshot = operations.export_snapshot(conn)
        counts = operations.table_row_counts(conn)
        subprocess.run([str(db._bin("pg_dump")), "--format=custom", "--compress=6", "--snapshot", snapshot,
                        "--file", str(target), "--dbname", libpq], check=True, env=env,
                       capture_output=True, text=True)
        conn.rollback()
    digest = sha256(target)
    Path(f"{target}.sha256").write_text(f"{digest}  {target.name}\n")
    Path(f"{target}.json").write_text(json.dumps({"created_at": now.isoformat(), "row_counts": counts}, indent=1))
    with db.transaction(None, eng) as conn:
        operations.record_backup(conn, target.name, target.stat().st_size, digest)
    eng.dispose()
    prune(directory, keep_daily, keep_weekly)
    return target


def prune(directory: Path, keep_daily: int = 7, keep_weekly: int = 4) -> list[Path]:
    """Keep the newest backup of each of the last `keep_daily` days and `keep_weekly` ISO weeks."""
    dumps = sorted(directory.glob("milestone-*.dump"), reverse=True)
    keep, days, weeks = set(), [], []
    for d in dumps:
        when = datetime.strptime(d.stem.removeprefix("milestone-"), STAMP)
        day, week = when.date(), when.isocalendar()[:2]
        if day not in days and len(days) < keep_daily:
            days.append(day)
            keep.add(d)
        if week not in weeks and len(weeks) < keep_weekly:
            weeks.append(week)
            keep.add(d)
    removed = [d for d in dumps if d not in keep]
    for d in removed:
        for p in (d, Path(f"{d}.sha256"), Path(f"{d}.json")):
            p.unlink(missing_ok=True)
    return removed


def restore(file: Path, url: str | None = None, force: bool = False) -> dict[str, int]:
    url = url or db.database_url()
    expected = Path(f"{file}.sha256").read_text().split()[0] if Path(f"{file}.sha256").exists() else None
    if expected is None or sha256(file) != expected:
        raise ConfigError(f"{file}: checksum missing or wrong; the backup is damaged, not restored.")
    eng = db.make_engine(url, app_role=False, pool_size=1)
    with eng.connect() as conn:
        occupied = operations.user_table_count(conn)
    if occupied and not force:
        raise ConfigError("The target database is not empty: restore into an empty database, or pass --force "
                          "to replace its contents.")
    libpq, env = _libpq(url)
    with eng.connect() as conn:
        old_server = conn.dialect.server_version_info < (17,)
    # pg_restore 18 emits `SET transaction_timeout`, unknown before PostgreSQL 17: on older
    # servers run on past errors and accept only that one (row counts are verified below).
    cmd = [str(db._bin("pg_restore")), "--no-owner", "--dbname", libpq]
    if not old_server:
        cmd.append("--exit-on-error")
    if force:
        cmd += ["--clean", "--if-exists"]
    res = subprocess.run(cmd + [str(file)], env=env, capture_output=True, text=True)
    errors = [line for line in res.stderr.splitlines() if "ERROR:" in line]
    if res.returncode != 0 and (not old_server or any("transaction_timeout" not in e for e in errors)):
        raise ConfigError(f"pg_restore failed: {res.stderr.strip()[-1000:]}")
    want = json.loads(Path(f"{file}.json").read_text())["row_counts"]
    with eng.connect() as conn:
        got = operations.table_row_counts(conn)
    eng.dispose()
    if got != want:
        raise ConfigError(f"Restored row counts differ from the backup's: {sorted(set(got.items()) ^ set(want.items()))}")
    return got


"""Backups with the embedded wheel's pg_dump/pg_restore: custom format, compressed, checksummed.

A backup is three files: milestone-<UTC stamp>.dump, .dump.sha256 (sha256sum format) and
.dump.json (row count of every table, taken in the very snapshot pg_dump reads).
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from datetime import UTC, date, datetime
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import make_url

from milestone import db
from milestone.config import ConfigError
from milestone.errors import BackupFailed, DatabaseUnavailable
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
    """Dump the database to `directory`. The dump is written under a hidden temporary name and
    renamed only once it and its checksum are complete: a backup that fails (pg_dump stopped, the
    database gone, the disk full) leaves no file that looks like a backup, and raises BackupFailed."""
    url = url or db.database_url()
    directory.mkdir(parents=True, exist_ok=True)
    now = datetime.now(UTC)
    target = directory / f"milestone-{now.strftime(STAMP)}.dump"
    part = directory / f".{target.name}.part"
    sidecars = (Path(f"{target}.sha256"), Path(f"{target}.json"))
    libpq, env = _libpq(url)
    eng = db.make_engine(url, app_role=False, pool_size=1)
    try:
        with eng.connect() as conn:
            snapshot = operations.export_snapshot(conn)
            counts = operations.table_row_counts(conn)
            subprocess.run(
                [
                    str(db._bin("pg_dump")),
                    "--format=custom",
                    "--compress=6",
                    "--snapshot",
                    snapshot,
                    "--file",
                    str(part),
                    "--dbname",
                    libpq,
                ],
                check=True,
                env=env,
                capture_output=True,
                text=True,
            )
            conn.rollback()
        digest = sha256(part)
        sidecars[0].write_text(f"{digest}  {target.name}\n")
        sidecars[1].write_text(json.dumps({"created_at": now.isoformat(), "row_counts": counts}, indent=1))
        os.replace(part, target)
        with db.transaction(None, eng) as conn:
            operations.record_backup(conn, target.name, target.stat().st_size, digest)
    except subprocess.CalledProcessError as exc:
        _discard(part, target, *sidecars)
        reason = (exc.stderr or "").strip().splitlines()[-1:] or [f"pg_dump exited with {exc.returncode}"]
        raise BackupFailed(f"The backup failed and nothing was kept: {reason[0]}") from exc
    except (sa.exc.OperationalError, sa.exc.InterfaceError, DatabaseUnavailable) as exc:
        _discard(part, target, *sidecars)
        raise BackupFailed(
            "The backup failed and nothing was kept: the database stopped answering. Run it again."
        ) from exc
    except OSError as exc:
        _discard(part, target, *sidecars)
        raise BackupFailed(f"The backup failed and nothing was kept: {exc.strerror or exc} ({directory}).") from exc
    finally:
        part.unlink(missing_ok=True)
        eng.dispose()
    prune(directory, keep_daily, keep_weekly)
    return target


def _discard(*paths: Path) -> None:
    for p in paths:
        p.unlink(missing_ok=True)


def prune(directory: Path, keep_daily: int = 7, keep_weekly: int = 4) -> list[Path]:
    """Keep the newest backup of each of the last `keep_daily` days and `keep_weekly` ISO weeks."""
    dumps = sorted(directory.glob("milestone-*.dump"), reverse=True)
    keep: set[Path] = set()
    days: list[date] = []
    weeks: list[tuple[int, int]] = []
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
        raise ConfigError(
            "The target database is not empty: restore into an empty database, or pass --force to replace its contents."
        )
    libpq, env = _libpq(url)
    with eng.connect() as conn:
        old_server = (conn.dialect.server_version_info or (0,)) < (17,)
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
        raise ConfigError(
            f"Restored row counts differ from the backup's: {sorted(set(got.items()) ^ set(want.items()))}"
        )
    return got

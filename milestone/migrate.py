"""Apply sql/NNN_name.sql in order, each once and in its own transaction, under an advisory lock.

An applied file is recorded with its SHA-256; if that file later changes, migrate refuses to
run (write a new numbered file instead of editing history).
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import psycopg
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from milestone.config import PROJECT_ROOT

SQL_DIR = PROJECT_ROOT / "sql"
_NAME = re.compile(r"^(\d{3})_[a-z0-9_]+\.sql$")
# Any fixed number: every migrate in the database queues on it (docker replicas, CI, a person).
ADVISORY_LOCK_KEY = 724_531_001


class MigrationError(RuntimeError):
    pass


@dataclass(frozen=True)
class Migration:
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def discover(sql_dir: Path = SQL_DIR) -> list[Migration]:
    files = sorted(p for p in sql_dir.glob("*.sql") if _NAME.match(p.name))
    numbers = [p.name[:3] for p in files]
    if len(set(numbers)) != len(numbers):
        raise MigrationError(f"two migration files share a number in {sql_dir}: {numbers}")
    return [Migration(p.name, p.read_text(encoding="utf-8")) for p in files]


def migrate(engine: Engine, sql_dir: Path = SQL_DIR) -> list[str]:
    """Apply pending migrations; return the names applied (empty when up to date)."""
    migrations = discover(sql_dir)
    applied_now: list[str] = []
    with engine.connect() as conn:
        conn.execute(sa.text("SELECT pg_advisory_lock(:k)"), {"k": ADVISORY_LOCK_KEY})
        conn.commit()  # the session lock outlives this transaction
        try:
            with conn.begin():
                conn.execute(sa.text("CREATE SCHEMA IF NOT EXISTS milestone"))
                conn.execute(sa.text(
                    "CREATE TABLE IF NOT EXISTS milestone.schema_migrations ("
                    " name text PRIMARY KEY, checksum text NOT NULL,"
                    " applied_at timestamptz NOT NULL DEFAULT now())"))
            done = dict(conn.execute(sa.text(
                "SELECT name, checksum FROM milestone.schema_migrations")).all())
            conn.commit()
            for m in migrations:
                if m.name in done:
                    if done[m.name] != m.checksum:
                        raise MigrationError(
                            f"{m.name} was changed after it was applied (checksum {done[m.name][:12]} "
                            f"in the database, {m.checksum[:12]} on disk). Restore the file and put the "
                            f"change in a new numbered migration.")
                    continue
                with conn.begin():
                    # The driver runs a whole file (many statements) when given no parameters.
                    try:
                        conn.connection.driver_connection.execute(m.sql)
                    except psycopg.Error as exc:
                        raise MigrationError(f"{m.name} failed and was rolled back: {exc}") from exc
                    conn.execute(sa.text(
                        "INSERT INTO milestone.schema_migrations (name, checksum) VALUES (:n, :c)"),
                        {"n": m.name, "c": m.checksum})
                applied_now.append(m.name)
        finally:
            conn.execute(sa.text("SELECT pg_advisory_unlock(:k)"), {"k": ADVISORY_LOCK_KEY})
            conn.commit()
    return applied_now

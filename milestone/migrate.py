"""Apply sql/NNN_name.sql in order, each once and in its own transaction, under an advisory lock.

An applied file is recorded with a checksum of its SQL; if that SQL later changes, migrate
refuses to run (write a new numbered file instead of editing history). The checksum is taken
over the file with its comments removed and its whitespace collapsed (`normalise`), so fixing a
comment or re-indenting is not a change. String literals, quoted names and dollar-quoted bodies
(functions, DO blocks) are kept exactly as written: the database stores a function's body as
text, so any edit inside one, even to a comment, is a change.

Databases migrated before this rule hold SHA-256 checksums of the raw files; migrate adopts
them once (rewrites them to the normalised checksum, under the lock) when the raw checksum
matches the file on disk or a known earlier revision listed in EARLIER_RAW_CHECKSUMS.
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

# Raw-file SHA-256 checksums of earlier revisions of applied files that differ from today's
# file only in comments or whitespace, each with the normalised checksum of that revision (which
# must equal the file's checksum today; tests/test_migrations.py checks both against git history).
# A database migrated with such a revision is adopted like one migrated with today's file.
EARLIER_RAW_CHECKSUMS: dict[str, dict[str, str]] = {
    # 001's first comment pointed outside the repository; now it points to docs/design.md.
    "001_schema.sql": {
        "452cdd429deccacd3589643027465ad9d89d4e32cc117de7bc108e983ed345ea":
            "63a156d5b3e717029b35d76255261da354d12bc85cdef6e246d2e78cbabd4512",
    },
}


class MigrationError(RuntimeError):
    pass


_DOLLAR = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)?\$")
_PLAIN = re.compile(r"[^-/$'\"\s]+|[-/$]")  # text that is neither quoted, a comment nor whitespace
_SPACE = re.compile(r"\s+")
_PUNCTUATION = "(),;"


def _word_char(ch: str) -> bool:
    return ch.isalnum() or ch in "_$"


def _quoted_end(sql: str, i: int, quote: str, backslashes: bool) -> int:
    """Index just past the quoted text that starts at sql[i] (a doubled quote is an escaped one)."""
    j = i + 1
    while j < len(sql):
        if backslashes and sql[j] == "\\":
            j += 2
        elif sql[j] != quote:
            j += 1
        elif sql.startswith(quote, j + 1):
            j += 2
        else:
            return j + 1
    raise MigrationError(f"unterminated {quote}quoted{quote} text at character {i}")


def normalise(sql: str) -> str:
    """The SQL of a migration without its comments, each run of whitespace as one space (none
    at the ends or beside a parenthesis, comma or semicolon).

    Quoted text ('strings', E'strings', "names") and dollar-quoted bodies ($$ ... $$,
    $tag$ ... $tag$) are kept exactly, comments and whitespace inside them included.
    """
    out: list[str] = []

    def space() -> None:
        if out and out[-1] != " ":
            out.append(" ")

    i, n = 0, len(sql)
    while i < n:
        c = sql[i]
        if sql.startswith("--", i):
            end = sql.find("\n", i)
            i = n if end < 0 else end
            space()
        elif sql.startswith("/*", i):  # block comments nest in PostgreSQL
            depth, j = 1, i + 2
            while depth:
                if j >= n:
                    raise MigrationError(f"unterminated /* comment at character {i}")
                if sql.startswith("/*", j):
                    depth, j = depth + 1, j + 2
                elif sql.startswith("*/", j):
                    depth, j = depth - 1, j + 2
                else:
                    j += 1
            i = j
            space()
        elif c == "$" and (m := _DOLLAR.match(sql, i)) and not (i and _word_char(sql[i - 1])):
            end = sql.find(m.group(0), m.end())
            if end < 0:
                raise MigrationError(f"unterminated {m.group(0)} quote at character {i}")
            end += len(m.group(0))
            out.append(sql[i:end])
            i = end
        elif c in "'\"":
            e_string = c == "'" and i > 0 and sql[i - 1] in "eE" and not (i > 1 and _word_char(sql[i - 2]))
            end = _quoted_end(sql, i, c, backslashes=e_string)
            out.append(sql[i:end])
            i = end
        elif m := _SPACE.match(sql, i):
            space()
            i = m.end()
        else:
            m = _PLAIN.match(sql, i)
            assert m is not None
            out.append(m.group(0))
            i = m.end()
    # A space at either end, or beside ( ) , ; (always tokens of their own), means nothing.
    kept = [part for k, part in enumerate(out)
            if part != " " or (0 < k < len(out) - 1 and out[k - 1][-1] not in _PUNCTUATION
                               and out[k + 1][0] not in _PUNCTUATION)]
    return "".join(kept)


@dataclass(frozen=True)
class Migration:
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        """SHA-256 of the normalised SQL: what migrate records and compares."""
        return hashlib.sha256(normalise(self.sql).encode()).hexdigest()

    @property
    def raw_checksum(self) -> str:
        """SHA-256 of the file as it is, as migrate recorded it before normalising."""
        return hashlib.sha256(self.sql.encode()).hexdigest()

    def adopts(self, recorded: str) -> bool:
        """True when `recorded` is an old raw-file checksum of this same SQL."""
        return recorded == self.raw_checksum or \
            EARLIER_RAW_CHECKSUMS.get(self.name, {}).get(recorded) == self.checksum


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
            done: dict[str, str] = {row.name: row.checksum for row in conn.execute(sa.text(
                "SELECT name, checksum FROM milestone.schema_migrations"))}
            conn.commit()
            adopted: list[Migration] = []
            for m in migrations:
                recorded = done.get(m.name)
                if recorded is None or recorded == m.checksum:
                    continue
                if not m.adopts(recorded):
                    raise MigrationError(
                        f"{m.name} was changed after it was applied (checksum {recorded[:12]} "
                        f"in the database, {m.checksum[:12]} on disk; comments and whitespace do not "
                        f"count). Restore the file and put the change in a new numbered migration.")
                adopted.append(m)
            if adopted:  # recorded before checksums were normalised: record the new form, once
                with conn.begin():
                    for m in adopted:
                        conn.execute(sa.text(
                            "UPDATE milestone.schema_migrations SET checksum = :c WHERE name = :n"),
                            {"n": m.name, "c": m.checksum})
            for m in migrations:
                if m.name in done:
                    continue
                with conn.begin():
                    # The driver runs a whole file (many statements) when given no parameters.
                    driver = conn.connection.driver_connection
                    assert driver is not None  # a connection checked out of the pool is open
                    try:
                        driver.execute(m.sql)
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

"""Operations: the write-rate limit's events, backups' records, and whole-database counts."""

from __future__ import annotations

from typing import Any

from sqlalchemy.engine import Connection

from milestone.store._sql import stmt


def take_write_slot(conn: Connection, username: str, limit: int, window_s: int) -> float | None:
    """Record a write by `username` if fewer than `limit` happened in the last `window_s` seconds.

    Returns None when the write is allowed, else the seconds until the oldest counted write
    leaves the window. A per-user advisory lock makes check-and-insert atomic across processes.
    """
    conn.execute(
        stmt("operations.ratelimit_lock", "SELECT pg_advisory_xact_lock(hashtext('ratelimit:' || :u))"), {"u": username}
    )
    conn.execute(
        stmt(
            "operations.ratelimit_expire",
            """
        DELETE FROM rate_limit_events
        WHERE username = :u AND at < clock_timestamp() - make_interval(secs => :w)""",
        ),
        {"u": username, "w": window_s},
    )
    row = (
        conn.execute(
            stmt(
                "operations.ratelimit_count",
                """
        SELECT count(*) AS n,
               EXTRACT(EPOCH FROM min(at) + make_interval(secs => :w) - clock_timestamp()) AS retry
        FROM rate_limit_events WHERE username = :u""",
            ),
            {"u": username, "w": window_s},
        )
        .mappings()
        .one()
    )
    if row["n"] >= limit:
        return max(float(row["retry"] or 0), 0.0)
    conn.execute(
        stmt("operations.ratelimit_take", "INSERT INTO rate_limit_events (username) VALUES (:u)"), {"u": username}
    )
    return None


def table_row_counts(conn: Connection) -> dict[str, int]:
    """Rows in every table of the milestone schema (names from the catalog, quoted)."""
    names = conn.scalars(
        stmt("operations.tables", "SELECT tablename FROM pg_tables WHERE schemaname = 'milestone' ORDER BY tablename")
    ).all()
    prep = conn.dialect.identifier_preparer
    return {
        n: int(conn.scalar(stmt("operations.count_rows", f"SELECT count(*) FROM milestone.{prep.quote(n)}")) or 0)
        for n in names
    }


def export_snapshot(conn: Connection) -> str:
    """Make this transaction a read-only snapshot that pg_dump can share; return its name."""
    conn.execute(stmt("operations.snapshot_isolation", "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY"))
    return str(conn.scalar(stmt("operations.export_snapshot", "SELECT pg_export_snapshot()")))


def user_table_count(conn: Connection) -> int:
    """Tables outside the catalogs: 0 means an empty database (a restore target)."""
    return int(
        conn.scalar(
            stmt(
                "operations.user_table_count",
                """
        SELECT count(*) FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema')""",
            )
        )
        or 0
    )


def record_backup(conn: Connection, file_name: str, size_bytes: int, sha256: str) -> None:
    conn.execute(
        stmt("operations.record_backup", "INSERT INTO backups (file_name, size_bytes, sha256) VALUES (:f, :s, :h)"),
        {"f": file_name, "s": size_bytes, "h": sha256},
    )


def last_backup(conn: Connection) -> dict[str, Any] | None:
    if conn.scalar(stmt("operations.has_backups", "SELECT to_regclass('milestone.backups')")) is None:
        return None
    row = (
        conn.execute(
            stmt(
                "operations.last_backup",
                """
        SELECT file_name, size_bytes, created_at FROM backups ORDER BY created_at DESC LIMIT 1""",
            )
        )
        .mappings()
        .first()
    )
    return dict(row) if row else None


def counts(conn: Connection) -> dict[str, int]:
    """Row counts of the main tables (empty-database checks, health, restore checks)."""
    row = (
        conn.execute(
            stmt(
                "operations.counts",
                """
        SELECT (SELECT count(*) FROM projects) AS projects, (SELECT count(*) FROM invoices) AS invoices,
               (SELECT count(*) FROM bills) AS bills, (SELECT count(*) FROM estimates) AS estimates,
               (SELECT count(*) FROM app_users) AS users""",
            )
        )
        .mappings()
        .one()
    )
    return dict(row)


def ledger_reconciliation(conn: Connection) -> list[dict[str, Any]]:
    """The ledger's self-checks (sql/010 view ledger_reconciliation): each check's two sides
    (expected, actual) and ok. Aggregates every line, so it is read on demand, not per scrape."""
    return [
        dict(r)
        for r in conn.execute(
            stmt(
                "operations.ledger_reconciliation",
                """
        SELECT check_name, expected, actual, ok FROM ledger_reconciliation""",
            )
        ).mappings()
    ]

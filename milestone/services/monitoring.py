"""What the Monitoring page reads: the database's health, the last backup, recent sign-ins."""

from __future__ import annotations

from typing import Any

import pandas as pd

from milestone import db
from milestone.services.access import ADMIN, require_role
from milestone.store import operations, users
from milestone.store.users import User


def database_ok(timeout_s: float = 2.0) -> bool:
    """True when PostgreSQL answers `SELECT 1` within timeout_s."""
    return db.ping(timeout_s)


def last_backup(user: User) -> dict[str, Any] | None:
    """The newest backup recorded in this database."""
    require_role(user, ADMIN, "see monitoring")
    with db.snapshot() as conn:
        return operations.last_backup(conn)


def recent_logins(user: User, limit: int = 10) -> pd.DataFrame:
    require_role(user, ADMIN, "see sign-ins")
    with db.snapshot() as conn:
        return users.recent_logins(conn, limit)


def ledger_checks(user: User) -> pd.DataFrame:
    """The ledger reconciliation (lines = subtotals, projects + unallocated = all lines,
    pnl_monthly = lines, outstanding = amounts due): one row per check with ok."""
    require_role(user, ADMIN, "see monitoring")
    with db.snapshot() as conn:
        rows = operations.ledger_reconciliation(conn)
    return pd.DataFrame(rows, columns=["check_name", "expected", "actual", "ok"])

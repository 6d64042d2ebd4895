"""Estimates: the editor's rows, saving a batch of edits, the history of saves, and undo."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pandas as pd

from milestone import db
from milestone.errors import PermissionDenied
from milestone.services.access import may_write
from milestone.store import estimates
from milestone.store.users import User
from milestone.validation import EstimateChanges, EstimateRow, Filters


@dataclass(frozen=True)
class SaveResult:
    updated: int
    added: int
    deleted: int

    @property
    def summary(self) -> str:
        total = self.updated + self.added + self.deleted
        parts = [f"{n} {what}" for n, what in ((self.updated, "updated"), (self.added, "added"),
                                                (self.deleted, "deleted")) if n]
        return f"Saved {total} change{'s' if total != 1 else ''}" + (f": {', '.join(parts)}." if parts else ".")


def list_estimates(f: Filters = Filters(), kind: str | None = None) -> pd.DataFrame:
    with db.snapshot() as conn:
        return estimates.list_estimates(conn, f, kind)


def first_estimates(f: Filters, kind: str | None, limit: int) -> tuple[pd.DataFrame, int]:
    """At most `limit` estimates for the editor, and how many match in all."""
    with db.snapshot() as conn:
        frame = estimates.list_estimates(conn, f, kind, limit + 1)
        total = len(frame) if len(frame) <= limit else estimates.count_estimates(conn, f, kind)
    return frame.head(limit), total


def save_estimate_changes(changes: EstimateChanges, user: User) -> SaveResult:
    """Save a validated batch in one transaction, all or nothing (Conflict if rows went stale)."""
    may_write(user, "save estimates")
    if changes.count:
        with db.transaction(user.username) as conn:
            estimates.save_changes(conn, changes, user.username)
    return SaveResult(len(changes.updates), len(changes.inserts), len(changes.deletes))


def estimate_saves(user_filter: str | None = None, limit: int = 50) -> pd.DataFrame:
    """Saves of estimates, newest first: one row per transaction (who, when, what)."""
    with db.snapshot() as conn:
        return estimates.saves(conn, user_filter, limit)


def estimate_save_details(changed_at: datetime, who: str) -> pd.DataFrame:
    with db.snapshot() as conn:
        return estimates.save_details(conn, changed_at, who)


def undo_estimate_save(changed_at: datetime, who: str, user: User) -> SaveResult:
    """Put back what one save changed, through the same validated, audited, version-checked save.

    Allowed to admins and to the person who made the save. Refused (Conflict) if any of those
    rows has changed again since.
    """
    if user.role != "admin" and user.username != who:
        raise PermissionDenied(f"Not allowed: only an admin or {who} can undo {who}'s save.")
    changes = EstimateChanges()

    def values(data: dict[str, Any]) -> EstimateRow:
        return EstimateRow.model_validate({k: data.get(k) for k in EstimateRow.model_fields})

    for _, r in estimate_save_details(changed_at, who).iterrows():
        if r["operation"] == "UPDATE":
            changes.updates.append((r["estimate_id"], int(r["new_data"]["version"]), values(r["old_data"])))
        elif r["operation"] == "INSERT":
            changes.deletes.append((r["estimate_id"], int(r["new_data"]["version"])))
        else:
            changes.inserts.append((r["estimate_id"], values(r["old_data"])))
    return save_estimate_changes(changes, user)

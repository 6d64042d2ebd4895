"""Domain errors: what the store and the services raise, and the only exceptions pages catch.

Each one's message is safe to show to a person and says what happened; a write that raises
one of them has written nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd


class MilestoneError(Exception):
    """Base of every error a page may show as it is."""


class DatabaseUnavailable(MilestoneError):
    """PostgreSQL cannot be reached (or gave up on the statement); nothing was written."""


class Contended(MilestoneError):
    """Two writers collided (a deadlock PostgreSQL broke); this one wrote nothing and may run again."""


class PermissionDenied(MilestoneError):
    """The signed-in user's role may not do this; nothing was written."""


class RateLimited(MilestoneError):
    """Too many writes by one user in the window; nothing was written."""

    def __init__(self, retry_after_s: float):
        import math

        self.retry_after_s = max(1, math.ceil(retry_after_s))
        super().__init__(f"Too many changes: try again in {self.retry_after_s} s")


class StaleEdit(MilestoneError):
    """Someone else changed the row since it was loaded; nothing was written."""


@dataclass(frozen=True)
class StaleRow:
    """One row of a refused batch: deleted meanwhile (description None) or changed by someone."""

    id: str
    description: str | None = None
    project: str | None = None
    updated_by: str | None = None
    updated_at: datetime | None = None

    def __str__(self) -> str:
        if self.description is None:
            return f"an estimate was deleted by someone else (id {self.id[:8]}…)"
        at = f" at {self.updated_at.astimezone():%H:%M}" if self.updated_at else ""
        return f"“{self.description[:60]}” on {self.project} was changed by {self.updated_by or 'someone'}{at}"


class Conflict(MilestoneError):
    """Rows changed or deleted by someone else since they were loaded; nothing was written.

    `rows` holds the current values of the changed rows, to show beside the message."""

    def __init__(self, stale: list[StaleRow], rows: pd.DataFrame):
        self.stale, self.rows = stale, rows
        super().__init__(
            "Nothing was saved: " + "; ".join(map(str, stale)) + ". Their current values are shown "
            "below; discard your changes to reload, then make your edits again."
        )


class LastAdmin(MilestoneError):
    """The change would leave no active admin; nothing was written."""

    def __init__(self, username: str):
        super().__init__(f"{username} is the last active admin: make someone else an admin first.")


class UsernameTaken(MilestoneError):
    def __init__(self, username: str):
        super().__init__(f"Nothing was saved: the username {username} is taken.")


class NoSuchUser(MilestoneError):
    def __init__(self, username: str):
        super().__init__(f"There is no user called {username}.")


class SyncRefused(MilestoneError):
    """A sync cannot be asked for now (one is running, the cooldown has not passed, n8n refused)."""


class BackupFailed(MilestoneError):
    """A backup could not be made (pg_dump stopped, the disk is full); no file of it was left."""


class ExportRefused(MilestoneError, ValueError):
    """An export that cannot be made as asked (unknown table or format, too many rows for Excel)."""


class RowProblems(MilestoneError, ValueError):
    """Every problem of a batch or a file, as 'Row 3, Amount: must be greater than 0' lines."""

    def __init__(self, problems: list[str]):
        super().__init__("\n".join(problems))
        self.problems = problems

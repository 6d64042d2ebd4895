"""Who may do what (roles), and the write limit every save counts against."""

from __future__ import annotations

from typing import TYPE_CHECKING

from milestone import config, db
from milestone.errors import PermissionDenied, RateLimited
from milestone.store import operations

if TYPE_CHECKING:
    from milestone.store.users import User

WRITE_ROLES = frozenset({"admin", "finance"})
ADMIN = frozenset({"admin"})
WINDOW_S = 60


def require_role(user: User | None, roles: frozenset[str] = WRITE_ROLES, action: str = "make changes") -> None:
    """Server-side role check every write path calls first (hiding a button is not enough)."""
    if user is None or user.disabled or user.role not in roles:
        who = f"{user.username} ({user.role})" if user else "nobody signed in"
        raise PermissionDenied(f"Not allowed: {who} may not {action}. Ask an admin if you need to.")


def require_active(user: User | None, action: str) -> None:
    """Writes any role may make (their own preferences, their own password) still need an
    enabled account: a disabled user's stale session writes nothing."""
    if user is None or user.disabled:
        who = f"{user.username} (disabled)" if user else "nobody signed in"
        raise PermissionDenied(f"Not allowed: {who} may not {action}. Ask an admin if you need to.")


def count_write(username: str, *, limit: int | None = None, window_s: int = WINDOW_S) -> None:
    """Count one write for `username`, or raise RateLimited (and count nothing).

    The limit is MILESTONE_WRITES_PER_MINUTE (default 10) unless given. It is kept in the
    database (rate_limit_events), so it holds across server processes and restarts."""
    limit = config.writes_per_minute() if limit is None else limit
    with db.transaction(None) as conn:
        retry = operations.take_write_slot(conn, username, limit, window_s)
    if retry is not None:
        raise RateLimited(retry)


def may_write(user: User, action: str) -> None:
    """The role check and the write limit, in that order (a refused role counts nothing)."""
    require_role(user, action=action)
    count_write(user.username)

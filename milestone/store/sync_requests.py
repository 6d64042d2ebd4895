"""Requests for a Xero sync through the n8n webhook, and the sync runs that n8n records."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.engine import Connection

from milestone.errors import SyncRefused
from milestone.store._sql import stmt


@dataclass(frozen=True)
class SyncStatus:
    last_completed_at: datetime | None
    last_status: str | None
    last_started_at: datetime | None
    last_error: str | None


def sync_status(conn: Connection) -> SyncStatus:
    """When the data was last synced from Xero, and how the latest run went."""
    done = conn.scalar(stmt("sync.last_completed", "SELECT max(finished_at) FROM sync_runs WHERE status = 'COMPLETED'"))
    last = conn.execute(stmt("sync.last_run",
                             "SELECT status, started_at, error FROM sync_runs ORDER BY started_at DESC LIMIT 1")).first()
    return SyncStatus(done, last.status if last else None, last.started_at if last else None,
                      last.error if last else None)


@dataclass(frozen=True)
class SyncRequestState:
    running_since: datetime | None  # a RUNNING sync_runs row started in the last 2 hours
    last_requested_at: datetime | None
    last_requested_by: str | None
    last_status: str | None
    next_allowed_at: datetime | None  # None when a request is allowed now


def request_state(conn: Connection, cooldown_s: int) -> SyncRequestState:
    """Whether an admin may ask n8n for a sync now. A RUNNING row older than 2 hours is a crashed
    run, and a request whose webhook call failed does not start the cooldown."""
    row = conn.execute(stmt("sync.request_state", """
        SELECT (SELECT max(started_at) FROM sync_runs
                WHERE status = 'RUNNING' AND started_at > now() - interval '2 hours') AS running_since,
               r.requested_at, r.username, r.status,
               CASE WHEN r.requested_at + make_interval(secs => :cool) > now()
                    THEN r.requested_at + make_interval(secs => :cool) END AS next_allowed_at
        FROM (SELECT 1) one
        LEFT JOIN LATERAL (SELECT requested_at, username, status FROM sync_requests
                           WHERE status <> 'failed' ORDER BY requested_at DESC LIMIT 1) r ON true"""),
        {"cool": cooldown_s}).one()
    return SyncRequestState(*row)


def begin_request(conn: Connection, username: str, cooldown_s: int) -> int:
    """Record a sync request if one is allowed now; raises SyncRefused otherwise.

    Serialised by an advisory lock, so two admins clicking at once send one request."""
    conn.execute(stmt("sync.request_lock", "SELECT pg_advisory_xact_lock(hashtext('milestone.sync_requests'))"))
    state = request_state(conn, cooldown_s)
    if state.running_since:
        raise SyncRefused(f"A Xero sync is already running (since {state.running_since.astimezone():%H:%M}).")
    if state.next_allowed_at and state.last_requested_at:
        raise SyncRefused(f"{state.last_requested_by} asked for a sync at "
                          f"{state.last_requested_at.astimezone():%H:%M}; the next one can be asked for "
                          f"at {state.next_allowed_at.astimezone():%H:%M}.")
    return int(conn.scalar(stmt("sync.insert_request", "INSERT INTO sync_requests (username) VALUES (:u) RETURNING id"),
                           {"u": username}))


def finish_request(conn: Connection, request_id: int, ok: bool, http_status: int | None, error: str | None) -> None:
    conn.execute(stmt("sync.finish_request", """
        UPDATE sync_requests SET status = :s, http_status = :h, error = :e WHERE id = :id"""),
        {"s": "sent" if ok else "failed", "h": http_status, "e": error and error[:500], "id": request_id})

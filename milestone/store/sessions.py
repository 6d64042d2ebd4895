"""Sign-in sessions: one row per signed-in browser, found by the SHA-256 of its cookie's token."""

from __future__ import annotations

from sqlalchemy.engine import Connection

from milestone.store._sql import stmt
from milestone.store.users import User


def create(
    conn: Connection, token_hash: bytes, username: str, idle_minutes: int, hours: int, user_agent: str | None
) -> None:
    conn.execute(
        stmt(
            "sessions.create",
            """
        INSERT INTO sessions (token_hash, user_id, idle_expires_at, expires_at, user_agent)
        SELECT :h, id, least(now() + make_interval(mins => :i), now() + make_interval(hours => :a)),
               now() + make_interval(hours => :a), :ua
        FROM app_users WHERE username = :u""",
        ),
        {"h": token_hash, "u": username, "i": idle_minutes, "a": hours, "ua": (user_agent or "")[:300] or None},
    )


def current(conn: Connection, token_hash: bytes, idle_minutes: int) -> tuple[User | None, str]:
    """The user of a live session and "ok", or (None, why): "absent", "idle", "expired",
    "revoked" or "disabled". A live session's idle expiry moves on (at most every 15 s)."""
    row = (
        conn.execute(
            stmt(
                "sessions.current",
                """
        WITH s AS (
            SELECT s.token_hash, s.revoked_at, s.idle_expires_at, s.expires_at,
                   s.created_at <= u.sessions_valid_after AS ended, u.disabled,
                   u.id::text AS id, u.username, u.display_name, u.email, u.role, u.must_change_password
            FROM sessions s JOIN app_users u ON u.id = s.user_id
            WHERE s.token_hash = :h),
        touch AS (
            UPDATE sessions t
            SET last_seen_at = now(),
                idle_expires_at = least(now() + make_interval(mins => :i), t.expires_at)
            FROM s
            WHERE t.token_hash = s.token_hash AND s.revoked_at IS NULL AND NOT s.ended AND NOT s.disabled
              AND now() < s.idle_expires_at AND now() < s.expires_at
              AND t.last_seen_at < now() - interval '15 seconds')
        SELECT *, now() >= idle_expires_at AS idle, now() >= expires_at AS expired FROM s""",
            ),
            {"h": token_hash, "i": idle_minutes},
        )
        .mappings()
        .first()
    )
    if row is None:
        return None, "absent"
    if row["revoked_at"] is not None or row["ended"]:
        return None, "revoked"
    if row["disabled"]:
        return None, "disabled"
    if row["expired"]:
        return None, "expired"
    if row["idle"]:
        return None, "idle"
    return User(
        id=row["id"],
        username=row["username"],
        display_name=row["display_name"],
        email=row["email"],
        role=row["role"],
        disabled=False,
        must_change_password=row["must_change_password"],
    ), "ok"


def revoke(conn: Connection, token_hash: bytes) -> None:
    conn.execute(
        stmt(
            "sessions.revoke",
            """
        UPDATE sessions SET revoked_at = now() WHERE token_hash = :h AND revoked_at IS NULL""",
        ),
        {"h": token_hash},
    )


def revoke_user(conn: Connection, username: str) -> None:
    conn.execute(
        stmt(
            "sessions.revoke_user",
            """
        UPDATE sessions SET revoked_at = now()
        WHERE user_id = (SELECT id FROM app_users WHERE username = :u) AND revoked_at IS NULL""",
        ),
        {"u": username},
    )


def prune(conn: Connection) -> None:
    """Forget sessions that ended more than a day ago."""
    conn.execute(
        stmt(
            "sessions.prune",
            """
        DELETE FROM sessions WHERE coalesce(revoked_at, expires_at) < now() - interval '1 day'""",
        )
    )

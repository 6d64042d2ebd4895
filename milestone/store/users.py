"""Users and sign-ins: accounts, the lock-out count (login_events), roles and sessions' cut-off."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import pandas as pd
from sqlalchemy.engine import Connection, Row

from milestone.errors import LastAdmin, NoSuchUser, UsernameTaken
from milestone.store._sql import frame, stmt


@dataclass(frozen=True)
class User:
    id: str
    username: str
    display_name: str
    email: str | None
    role: str
    disabled: bool
    must_change_password: bool


def get_user(conn: Connection, username: str) -> User | None:
    row = (
        conn.execute(
            stmt(
                "users.get_user",
                """
        SELECT id::text AS id, username, display_name, email, role, disabled, must_change_password
        FROM app_users WHERE username = :u""",
            ),
            {"u": username},
        )
        .mappings()
        .first()
    )
    return User(**row) if row else None


def create_user(
    conn: Connection,
    username: str,
    display_name: str,
    role: str,
    password_hash: str,
    *,
    email: str | None = None,
    must_change_password: bool = False,
) -> str:
    """Insert a user; UsernameTaken if the name exists (checked under the unique index)."""
    new_id = conn.scalar(
        stmt(
            "users.create_user",
            """
        INSERT INTO app_users (username, display_name, email, role, password_hash, must_change_password)
        VALUES (:u, :d, :e, :r, :h, :m) ON CONFLICT (username) DO NOTHING RETURNING id::text""",
        ),
        {"u": username, "d": display_name, "e": email, "r": role, "h": password_hash, "m": must_change_password},
    )
    if new_id is None:
        raise UsernameTaken(username)
    return str(new_id)


def locked_until(conn: Connection, username: str, failures: int, window_minutes: int) -> datetime | None:
    """Locked while the last `window_minutes` hold `failures` wrong passwords (since the last
    success); the lock ends `window_minutes` after the oldest of them."""
    until: datetime | None = conn.scalar(
        stmt(
            "users.locked_until",
            """
        WITH fails AS (
            SELECT at FROM login_events
            WHERE username = :u AND reason = 'bad_password' AND at > now() - make_interval(mins => :w)
              AND at > coalesce((SELECT max(at) FROM login_events WHERE username = :u AND success), '-infinity')
            ORDER BY at DESC LIMIT :n)
        SELECT min(at) + make_interval(mins => :w) FROM fails HAVING count(*) >= :n""",
        ),
        {"u": username, "w": window_minutes, "n": failures},
    )
    return until


def credentials(conn: Connection, username: str) -> Row[tuple[str, bool]] | None:
    """(password_hash, disabled) of a username, or None."""
    return conn.execute(
        stmt("users.credentials", "SELECT password_hash, disabled FROM app_users WHERE username = :u"), {"u": username}
    ).first()


def record_login(conn: Connection, username: str, success: bool, reason: str, address: str | None = None) -> None:
    conn.execute(
        stmt(
            "users.record_login",
            """
        INSERT INTO login_events (username, success, reason, address) VALUES (:u, :s, :r, :a)""",
        ),
        {"u": username[:64], "s": success, "r": reason, "a": address},
    )


def lock_attempts(conn: Connection, key: str) -> None:
    """Serialise sign-in attempts for one username or address until this transaction ends."""
    conn.execute(
        stmt("users.lock_attempts", "SELECT pg_advisory_xact_lock(hashtextextended(:k, 16))"),
        {"k": "milestone.signin:" + key},
    )


def address_failures(conn: Connection, address: str, window_minutes: int) -> int:
    """Wrong passwords (and refused attempts) from one client address in the window."""
    return int(
        conn.scalar(
            stmt(
                "users.address_failures",
                """
        SELECT count(*) FROM login_events
        WHERE address = :a AND NOT success AND at > now() - make_interval(mins => :w)""",
            ),
            {"a": address, "w": window_minutes},
        )
    )


def recent_logins(conn: Connection, limit: int) -> pd.DataFrame:
    return frame(
        conn,
        "users.recent_logins",
        """
        SELECT at, username, success, reason FROM login_events ORDER BY at DESC, id DESC LIMIT :n""",
        {"n": limit},
    )


def list_users(conn: Connection) -> pd.DataFrame:
    return frame(
        conn,
        "users.list_users",
        """
        SELECT u.username, u.display_name, u.email, u.role, u.disabled, u.must_change_password,
               (SELECT max(at) FROM login_events e WHERE e.username = u.username AND e.success) AS last_login
        FROM app_users u ORDER BY u.username""",
    )


def _guard_last_admin(conn: Connection, username: str) -> None:
    """Refuse to disable or demote the last active admin (locks the admin rows meanwhile)."""
    admins = (
        conn.execute(
            stmt(
                "users.active_admins",
                "SELECT username FROM app_users WHERE role = 'admin' AND NOT disabled ORDER BY username FOR UPDATE",
            )
        )
        .scalars()
        .all()
    )
    if admins == [username]:
        raise LastAdmin(username)


def update_user(conn: Connection, username: str, *, role: str | None = None, disabled: bool | None = None) -> None:
    """Change a user's role or disable/enable them; disabling ends their sessions."""
    current = conn.execute(
        stmt("users.lock_user", "SELECT role, disabled FROM app_users WHERE username = :u FOR UPDATE"), {"u": username}
    ).first()
    if current is None:
        raise NoSuchUser(username)
    if current.role == "admin" and not current.disabled and (disabled or (role and role != "admin")):
        _guard_last_admin(conn, username)
    conn.execute(
        stmt(
            "users.update_user",
            """
        UPDATE app_users SET role = coalesce(:r, role), disabled = coalesce(:d, disabled), updated_at = now(),
               sessions_valid_after = CASE WHEN :d THEN now() ELSE sessions_valid_after END
        WHERE username = :u""",
        ),
        {"u": username, "r": role, "d": disabled},
    )


def set_password(conn: Connection, username: str, password_hash: str, *, must_change: bool) -> None:
    """Set a password; a reset (must_change) also ends the user's sessions."""
    found = conn.execute(
        stmt(
            "users.set_password",
            """
        UPDATE app_users SET password_hash = :h, must_change_password = :m, updated_at = now(),
               sessions_valid_after = CASE WHEN :m THEN now() ELSE sessions_valid_after END
        WHERE username = :u RETURNING 1""",
        ),
        {"u": username, "h": password_hash, "m": must_change},
    ).first()
    if not found:
        raise NoSuchUser(username)


def end_sessions(conn: Connection, username: str) -> None:
    """Invalidate every sign-in cookie issued to `username` until now (sign-out everywhere)."""
    conn.execute(
        stmt("users.end_sessions", "UPDATE app_users SET sessions_valid_after = now() WHERE username = :u"),
        {"u": username},
    )

"""Sessions: the random token in the browser's HttpOnly cookie, and its row in the database.

The token is 256 random bits (43 URL-safe characters); the database keeps only its SHA-256.
Anything else in the cookie -- a JWT, an old streamlit-authenticator cookie, garbage -- is
treated as no cookie at all, never as an error.
"""

from __future__ import annotations

import hashlib
import re
import secrets

from milestone import config, db
from milestone.store import sessions, users
from milestone.store.users import User

COOKIE_NAME = "milestone_session"
TOKEN_BYTES = 32
_TOKEN_RE = re.compile(r"[A-Za-z0-9_-]{43}")


def token_hash(token: str | None) -> bytes | None:
    """SHA-256 of a well-formed token; None for anything else."""
    if not isinstance(token, str) or not _TOKEN_RE.fullmatch(token):
        return None
    return hashlib.sha256(token.encode()).digest()


def start(username: str, user_agent: str | None = None) -> str:
    """Open a session for a user who has just signed in; return the token for the cookie."""
    token = secrets.token_urlsafe(TOKEN_BYTES)
    digest = token_hash(token)
    assert digest is not None  # a fresh token is always well formed
    with db.transaction(None) as conn:
        sessions.prune(conn)
        sessions.create(conn, digest, username, config.idle_minutes(), config.session_hours(), user_agent)
    return token


def current(token: str | None) -> tuple[User | None, str]:
    """The signed-in user of this cookie and "ok", or (None, why) -- see store.sessions.current."""
    hashed = token_hash(token)
    if hashed is None:
        return None, "absent"
    with db.transaction(None) as conn:
        return sessions.current(conn, hashed, config.idle_minutes())


def end(token: str | None) -> None:
    """Sign out: this browser's session and every other session of its user (other tabs,
    browsers and copies of the cookie drop out at their next click)."""
    hashed = token_hash(token)
    if hashed is None:
        return
    with db.transaction(None) as conn:
        user, _ = sessions.current(conn, hashed, config.idle_minutes())
        sessions.revoke(conn, hashed)
        if user is not None:
            users.end_sessions(conn, user.username)
            sessions.revoke_user(conn, user.username)

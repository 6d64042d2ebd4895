"""Users: signing in (with the lock-out), sessions, and what admins do to accounts."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from milestone import auth, db
from milestone.services.access import ADMIN, require_active, require_role
from milestone.store import sessions, users
from milestone.store.users import User

LOCK_AFTER_FAILURES = 5
LOCK_WINDOW_MINUTES = 15
ADDRESS_FAILURES = 20  # wrong passwords from one client address, any usernames, per window
WRONG = "Username or password is incorrect."


@dataclass(frozen=True)
class LoginResult:
    user: User | None
    message: str | None  # what to tell the person when user is None


def get_user(username: str) -> User | None:
    with db.snapshot() as conn:
        return users.get_user(conn, username)


def authenticate(username: str, password: str, address: str | None = None) -> LoginResult:
    """Check a sign-in attempt, throttled in the database (so it holds across tabs and restarts).

    The messages never reveal whether a username exists: an unknown name is treated exactly
    like a wrong password, including the lock-out after five attempts. Counting and checking
    happen under one transaction-scoped advisory lock per username (and per client address,
    taken first), so parallel attempts queue and at most five passwords are ever checked.
    """
    name = username.strip().lower()[:64]
    if "\x00" in name or "\x00" in password:  # no account has one; PostgreSQL cannot even look it up
        auth.check_password(password.replace("\x00", ""), None)  # the same cost as any wrong password
        return LoginResult(None, WRONG)
    with db.transaction(None) as conn:
        if address:
            users.lock_attempts(conn, "address:" + address)
        users.lock_attempts(conn, "user:" + name)
        until = users.locked_until(conn, name, LOCK_AFTER_FAILURES, LOCK_WINDOW_MINUTES)
        row = users.credentials(conn, name)
        message: str | None
        if address and users.address_failures(conn, address, LOCK_WINDOW_MINUTES) >= ADDRESS_FAILURES:
            reason, message = (
                "throttled",
                (f"Too many failed sign-ins from this network. Try again in {LOCK_WINDOW_MINUTES} minutes."),
            )
        elif until is not None:
            reason, message = (
                "locked",
                (
                    f"Too many failed sign-ins: this account is locked until "
                    f"{until.astimezone():%H:%M}. Try again then, or ask an admin."
                ),
            )
        elif not auth.check_password(password, row.password_hash if row else None):  # same cost either way
            reason, message = "bad_password", WRONG
        elif row is None or row.disabled:
            reason, message = "disabled", WRONG
        else:
            reason, message = "ok", None
        users.record_login(conn, name, reason == "ok", reason, address)
        if (
            reason == "bad_password"
            and users.locked_until(conn, name, LOCK_AFTER_FAILURES, LOCK_WINDOW_MINUTES) is not None
        ):
            message = (
                f"Too many failed sign-ins: this account is locked for {LOCK_WINDOW_MINUTES} minutes. "
                "Try again later, or ask an admin."
            )
        user = users.get_user(conn, name) if reason == "ok" else None
    return LoginResult(user, message)


def create_user(
    username: str,
    display_name: str,
    role: str,
    password_hash: str,
    *,
    actor: str,
    email: str | None = None,
    must_change_password: bool = False,
) -> str:
    """Create a user without a role check: for the CLI and the demo data (people at the machine)."""
    with db.transaction(actor) as conn:
        return users.create_user(
            conn, username, display_name, role, password_hash, email=email, must_change_password=must_change_password
        )


def add_user(
    actor: User, username: str, display_name: str, role: str, password_hash: str, email: str | None = None
) -> str:
    """An admin creates a user, who must choose their own password at first sign-in."""
    require_role(actor, ADMIN, "manage users")
    return create_user(
        username, display_name, role, password_hash, actor=actor.username, email=email, must_change_password=True
    )


def update_user(actor: User, username: str, *, role: str | None = None, disabled: bool | None = None) -> None:
    """Change a user's role or disable/enable them (admins only; the last active admin stays)."""
    require_role(actor, ADMIN, "manage users")
    with db.transaction(actor.username) as conn:
        users.update_user(conn, username, role=role, disabled=disabled)


def set_password(actor: User | None, username: str, password_hash: str, *, must_change: bool) -> None:
    """Set a password: an admin resetting someone's (must_change=True), or a user changing their own."""
    if actor is None or actor.username != username:
        require_role(actor, ADMIN, "reset other people's passwords")
    require_active(actor, "change a password")
    with db.transaction(actor.username if actor else None) as conn:
        users.set_password(conn, username, password_hash, must_change=must_change)


def end_sessions(username: str) -> None:
    """Sign `username` out everywhere (every cookie issued until now stops working)."""
    with db.transaction(username) as conn:
        users.end_sessions(conn, username)
        sessions.revoke_user(conn, username)


def list_users() -> pd.DataFrame:
    with db.snapshot() as conn:
        return users.list_users(conn)


def recent_logins(limit: int = 100) -> pd.DataFrame:
    with db.snapshot() as conn:
        return users.recent_logins(conn, limit)

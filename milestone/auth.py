"""Passwords: bcrypt hashing and the minimum policy (the login flow itself is in milestone/ui)."""

from __future__ import annotations

import secrets

import bcrypt

MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_BYTES = 72  # bcrypt reads no further (and bcrypt 5 refuses longer input)
# Checked when the username is unknown, so a wrong username costs the same time as a wrong password.
_DUMMY_HASH = bcrypt.hashpw(b"not a real password", bcrypt.gensalt()).decode()


def hash_password(password: str) -> str:
    return bcrypt.hashpw(password.encode(), bcrypt.gensalt()).decode()


def check_password(password: str, password_hash: str | None) -> bool:
    """True when `password` matches; with no hash (unknown user) it still spends a bcrypt check."""
    try:
        ok = bcrypt.checkpw(password.encode()[:MAX_PASSWORD_BYTES], (password_hash or _DUMMY_HASH).encode())
    except ValueError:
        return False
    return ok and password_hash is not None


def password_problems(password: str, username: str) -> list[str]:
    """What is wrong with a new password, in words; empty when it is acceptable."""
    problems = []
    if len(password) < MIN_PASSWORD_LENGTH:
        problems.append(f"must be at least {MIN_PASSWORD_LENGTH} characters")
    if len(password.encode()) > MAX_PASSWORD_BYTES:
        problems.append(
            f"must be at most {MAX_PASSWORD_BYTES} bytes (72 plain letters; accents and emoji count as two to four)"
        )
    if username and password.strip().lower() == username.strip().lower():
        problems.append("must not be the username")
    return problems


def generate_password() -> str:
    return secrets.token_urlsafe(12)  # 16 characters

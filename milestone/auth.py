"""Passwords: bcrypt hashing and the minimum policy (the login flow itself is in milestone/ui)."""
from __future__ import annotations

import secrets

import bcrypt

MIN_PASSWORD_LENGTH = 12


def hash_password(password: str) -> str:
    return bcrypt.hashpw(password.encode(), bcrypt.gensalt()).decode()


def check_password(password: str, password_hash: str) -> bool:
    try:
        return bcrypt.checkpw(password.encode(), password_hash.encode())
    except ValueError:
        return False


def password_problems(password: str, username: str) -> list[str]:
    """What is wrong with a new password, in words; empty when it is acceptable."""
    problems = []
    if len(password) < MIN_PASSWORD_LENGTH:
        problems.append(f"must be at least {MIN_PASSWORD_LENGTH} characters")
    if username and password.strip().lower() == username.strip().lower():
        problems.append("must not be the username")
    return problems


def generate_password() -> str:
    return secrets.token_urlsafe(12)  # 16 characters

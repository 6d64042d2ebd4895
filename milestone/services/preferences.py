"""Preferences: saved views, the default view and favourite projects (any signed-in role)."""
from __future__ import annotations

from typing import Any

from milestone import db
from milestone.store import preferences as store
from milestone.store.preferences import Preferences
from milestone.store.users import User


def preferences(user_id: str) -> Preferences:
    with db.snapshot() as conn:
        return store.preferences(conn, user_id)


def save_view(user: User, name: str, params: dict[str, Any], make_default: bool = False) -> None:
    """Save (or overwrite) a named filter set for this user."""
    with db.transaction(user.username) as conn:
        store.save_view(conn, user.id, name, params, make_default)


def delete_view(user: User, name: str) -> None:
    with db.transaction(user.username) as conn:
        store.delete_view(conn, user.id, name)


def set_favourite(user: User, project_id: str, favourite: bool) -> None:
    with db.transaction(user.username) as conn:
        store.set_favourite(conn, user.id, project_id, favourite)

"""Preferences: saved views, the default view and favourite projects (any signed-in role)."""

from __future__ import annotations

import uuid
from typing import Any

from pydantic import ValidationError

from milestone import db
from milestone.errors import RowProblems
from milestone.services.access import require_active
from milestone.store import preferences as store
from milestone.store.preferences import Preferences
from milestone.store.users import User
from milestone.validation import VIEW_LABELS, describe_errors, saved_view


def preferences(user_id: str) -> Preferences:
    with db.snapshot() as conn:
        return store.preferences(conn, user_id)


def save_view(user: User, name: str, params: dict[str, Any], make_default: bool = False) -> None:
    """Save (or overwrite) a named filter set for this user (RowProblems naming the field if it
    cannot be stored: an empty or too long name, a NUL character)."""
    require_active(user, "save views")
    try:
        view = saved_view(name, params, make_default)
    except ValidationError as exc:
        raise RowProblems(describe_errors(exc, VIEW_LABELS)) from None
    with db.transaction(user.username) as conn:
        store.save_view(conn, user.id, view.name, view.params, view.make_default)


def delete_view(user: User, name: str) -> None:
    require_active(user, "delete views")
    with db.transaction(user.username) as conn:
        store.delete_view(conn, user.id, name)


def set_favourite(user: User, project_id: str, favourite: bool) -> None:
    require_active(user, "change favourites")
    try:
        uuid.UUID(project_id)
    except (ValueError, TypeError, AttributeError):
        raise RowProblems([f"Project: {project_id[:40]!r} is not a project's id"]) from None
    with db.transaction(user.username) as conn:
        store.set_favourite(conn, user.id, project_id, favourite)

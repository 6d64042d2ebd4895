"""Per-user preferences: saved views (named filter sets), the default view, favourite projects."""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Connection

from milestone.store._sql import stmt


@dataclass(frozen=True)
class Preferences:
    saved_views: dict[str, dict[str, Any]]
    default_view: str | None
    favourite_projects: tuple[str, ...]


def preferences(conn: Connection, user_id: str) -> Preferences:
    row = conn.execute(stmt("preferences.preferences", """
        SELECT saved_views, default_view, favourite_projects::text[] AS favourites
        FROM user_preferences WHERE user_id = CAST(:u AS uuid)"""), {"u": user_id}).first()
    if not row:
        return Preferences({}, None, ())
    return Preferences(dict(row.saved_views), row.default_view, tuple(row.favourites))


def save_view(conn: Connection, user_id: str, name: str, params: dict[str, Any], make_default: bool) -> None:
    """Save (or overwrite) a named filter set."""
    conn.execute(stmt("preferences.save_view", """
        INSERT INTO user_preferences (user_id, saved_views, default_view)
        VALUES (CAST(:u AS uuid), jsonb_build_object(CAST(:n AS text), CAST(:p AS jsonb)),
                CASE WHEN :d THEN CAST(:n AS text) END)
        ON CONFLICT (user_id) DO UPDATE SET
            saved_views = user_preferences.saved_views || EXCLUDED.saved_views,
            default_view = CASE WHEN :d THEN CAST(:n AS text) ELSE user_preferences.default_view END,
            updated_at = now()"""),
        {"u": user_id, "n": name, "p": json.dumps(params), "d": make_default})


def delete_view(conn: Connection, user_id: str, name: str) -> None:
    conn.execute(stmt("preferences.delete_view", """
        UPDATE user_preferences SET saved_views = saved_views - CAST(:n AS text),
               default_view = CASE WHEN default_view = :n THEN NULL ELSE default_view END, updated_at = now()
        WHERE user_id = CAST(:u AS uuid)"""), {"u": user_id, "n": name})


def set_favourite(conn: Connection, user_id: str, project_id: str, favourite: bool) -> None:
    conn.execute(stmt("preferences.set_favourite", """
        INSERT INTO user_preferences (user_id, favourite_projects)
        VALUES (CAST(:u AS uuid), CASE WHEN :f THEN ARRAY[CAST(:p AS uuid)] ELSE '{}'::uuid[] END)
        ON CONFLICT (user_id) DO UPDATE SET updated_at = now(), favourite_projects =
            CASE WHEN :f THEN array_append(array_remove(user_preferences.favourite_projects, CAST(:p AS uuid)),
                                           CAST(:p AS uuid))
                 ELSE array_remove(user_preferences.favourite_projects, CAST(:p AS uuid)) END"""),
        {"u": user_id, "p": project_id, "f": favourite})

"""Estimates: the editor's rows, set-based batch writes with version checks, and save history."""
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import pandas as pd
from sqlalchemy.engine import Connection

from milestone.errors import Conflict, RowProblems, StaleRow
from milestone.store._sql import Params, doc_where, frame, project_where, stmt
from milestone.validation import EstimateChanges, EstimateRow, Filters


def list_estimates(conn: Connection, f: Filters, kind: str | None = None, limit: int | None = None) -> pd.DataFrame:
    """Estimates with their project's name and client, for the editor (the first `limit`)."""
    pw, params = project_where(f)
    ew, ep = doc_where(f, "e", "date")
    params |= ep
    kind_sql = ""
    if kind:
        kind_sql = "AND e.kind = :kind"
        params["kind"] = kind
    return frame(conn, "estimates.list_estimates", f"""
        SELECT e.id::text AS id, e.project_id::text AS project_id, p.name AS project, p.client_name AS client,
               e.kind, e.build_phase_id::text AS build_phase_id, coalesce(bp.name, 'Unassigned') AS phase,
               e.description, e.amount, e.date, e.updated_by, e.updated_at, e.version
        FROM estimates e JOIN projects p ON p.id = e.project_id
        LEFT JOIN build_phases bp ON bp.id = e.build_phase_id
        WHERE {pw} AND {ew} {kind_sql}
        ORDER BY p.client_name, p.name, e.date, e.id
        {"LIMIT :limit" if limit is not None else ""}""", params | ({"limit": limit} if limit is not None else {}))


def count_estimates(conn: Connection, f: Filters, kind: str | None = None) -> int:
    pw, params = project_where(f)
    ew, ep = doc_where(f, "e", "date")
    kind_sql = "AND e.kind = :kind" if kind else ""
    return int(conn.scalar(stmt("estimates.count_estimates", f"""
        SELECT count(*) FROM estimates e JOIN projects p ON p.id = e.project_id
        WHERE {pw} AND {ew} {kind_sql}"""), params | ep | ({"kind": kind} if kind else {})) or 0)


_COLUMNS = ("project_id", "build_phase_id", "kind", "description", "amount", "date")


def _arrays(rows: list[EstimateRow]) -> Params:
    """One array per column, for the set-based statements (unnest)."""
    getters: dict[str, Callable[[EstimateRow], Any]] = {
        "p": lambda r: r.project_id, "ph": lambda r: r.build_phase_id, "k": lambda r: r.kind,
        "d": lambda r: r.description, "a": lambda r: r.amount, "dt": lambda r: r.date}
    return {key: [get(r) for r in rows] for key, get in getters.items()}


def _check_versions(conn: Connection, touched: list[tuple[str, int]]) -> None:
    """Lock the touched rows; raise Conflict if any changed or went since it was loaded."""
    current = {r.id: r for r in conn.execute(stmt("estimates.lock_for_save", """
        SELECT e.id::text AS id, e.version, e.updated_by, e.updated_at, e.description, e.amount, e.date,
               e.kind, p.name AS project
        FROM estimates e JOIN projects p ON p.id = e.project_id
        WHERE e.id = ANY(CAST(:ids AS uuid[])) ORDER BY e.id FOR UPDATE OF e"""),
        {"ids": [i for i, _ in touched]})}
    stale = [(i, v) for i, v in touched if i not in current or current[i].version != v]
    if stale:
        rows = [current.get(i) for i, _ in stale]
        raise Conflict([StaleRow(i) if r is None else
                        StaleRow(i, r.description, r.project, r.updated_by, r.updated_at)
                        for (i, _), r in zip(stale, rows, strict=True)],
                       pd.DataFrame([dict(r._mapping) for r in rows if r is not None]))


def save_changes(conn: Connection, changes: EstimateChanges, username: str) -> None:
    """Write a validated batch, all or nothing (the caller owns the transaction).

    Every touched row must still have the version it was loaded at, or the whole batch is
    refused with a Conflict naming the rows and who changed them. The statements are set-based
    (arrays in, one statement per kind of change), so 500 rows cost the same round trips as 1.
    """
    touched = [(i, v) for i, v, _ in changes.updates] + list(changes.deletes)
    if touched:
        _check_versions(conn, touched)
    projects = {r.project_id for _, r in changes.inserts} | {r.project_id for _, _, r in changes.updates}
    known = set(conn.scalars(stmt("estimates.known_projects",
                                  "SELECT id::text FROM projects WHERE id = ANY(CAST(:ids AS uuid[]))"),
                             {"ids": list(projects)}))
    if projects - known:
        raise RowProblems([f"Project {p[:8]}…: no such project (it may have been deleted)"
                           for p in sorted(projects - known)])
    if changes.updates:
        conn.execute(stmt("estimates.update", """
            UPDATE estimates e SET project_id = i.project_id, build_phase_id = i.build_phase_id, kind = i.kind,
                   description = i.description, amount = i.amount, date = i.date, updated_by = :user
            FROM unnest(CAST(:ids AS uuid[]), CAST(:p AS uuid[]), CAST(:ph AS uuid[]), CAST(:k AS text[]),
                        CAST(:d AS text[]), CAST(:a AS numeric[]), CAST(:dt AS date[]))
                 AS i(id, project_id, build_phase_id, kind, description, amount, date)
            WHERE e.id = i.id"""),
            {"ids": [i for i, _, _ in changes.updates], **_arrays([r for _, _, r in changes.updates]),
             "user": username})
    if changes.deletes:
        conn.execute(stmt("estimates.delete", "DELETE FROM estimates WHERE id = ANY(CAST(:ids AS uuid[]))"),
                     {"ids": [i for i, _ in changes.deletes]})
    if changes.inserts:
        conn.execute(stmt("estimates.insert", """
            INSERT INTO estimates (id, project_id, build_phase_id, kind, description, amount, date,
                                   created_by, updated_by)
            SELECT coalesce(i.id, gen_random_uuid()), i.project_id, i.build_phase_id, i.kind, i.description,
                   i.amount, i.date, :user, :user
            FROM unnest(CAST(:ids AS uuid[]), CAST(:p AS uuid[]), CAST(:ph AS uuid[]), CAST(:k AS text[]),
                        CAST(:d AS text[]), CAST(:a AS numeric[]), CAST(:dt AS date[]))
                 AS i(id, project_id, build_phase_id, kind, description, amount, date)"""),
            {"ids": [i for i, _ in changes.inserts], **_arrays([r for _, r in changes.inserts]), "user": username})


def saves(conn: Connection, user_filter: str | None, limit: int) -> pd.DataFrame:
    """Saves of estimates, newest first: one row per transaction (who, when, what)."""
    params: Params = {"n": limit}
    where = ""
    if user_filter:
        where = "AND user_id = :who"
        params["who"] = user_filter
    return frame(conn, "estimates.saves", f"""
        SELECT changed_at, user_id AS "user", count(*) FILTER (WHERE operation = 'UPDATE') AS updated,
               count(*) FILTER (WHERE operation = 'INSERT') AS added,
               count(*) FILTER (WHERE operation = 'DELETE') AS deleted
        FROM audit_log WHERE table_name = 'estimates' {where}
        GROUP BY changed_at, user_id ORDER BY changed_at DESC LIMIT :n""", params)


def save_details(conn: Connection, changed_at: datetime, who: str) -> pd.DataFrame:
    """The audit rows of one save (same transaction time and user)."""
    return frame(conn, "estimates.save_details", """
        SELECT id AS audit_id, operation, row_id::text AS estimate_id, old_data, new_data
        FROM audit_log WHERE table_name = 'estimates' AND changed_at = :t AND user_id = :u ORDER BY id""",
        {"t": changed_at, "u": who})

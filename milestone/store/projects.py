"""Projects: one project's header, documents and history; creating and editing projects."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

import pandas as pd
from sqlalchemy.engine import Connection

from milestone.errors import StaleEdit
from milestone.store._sql import frame, stmt


@dataclass(frozen=True)
class ProjectHeader:
    id: str
    name: str
    client_name: str
    status: str
    start_date: date | None
    end_date: date | None
    owner: str | None
    budget_revenue: Decimal | None
    budget_cost: Decimal | None
    version: int
    xero_tracking_id: str | None


def project_header(conn: Connection, project_id: str) -> ProjectHeader | None:
    row = (
        conn.execute(
            stmt(
                "projects.project_header",
                """
        SELECT p.id::text AS id, p.name, p.client_name, p.status, p.start_date, p.end_date,
               u.display_name AS owner, p.budget_revenue, p.budget_cost, p.version, p.xero_tracking_id
        FROM projects p LEFT JOIN app_users u ON u.id = p.user_id
        WHERE p.id = CAST(:id AS uuid)""",
            ),
            {"id": project_id},
        )
        .mappings()
        .first()
    )
    return ProjectHeader(**row) if row else None


_DOCUMENTS = {
    "invoices": ("invoices", "invoice_lines", "invoice_id", "issue_date", "contact"),
    "bills": ("bills", "bill_lines", "bill_id", "date", "supplier"),
}


def project_documents(conn: Connection, project_id: str, kind: str, limit: int) -> tuple[pd.DataFrame, int]:
    """The invoices or bills with at least one line on the project, newest first, capped at
    `limit`; also their total count. `share` is the sum of the project's lines (ex tax) beside
    the document's `subtotal`; `split` is true when the document also has lines on another
    project or on none (overheads); `phase` names the phases of the project's lines."""
    table, lines, fk, date_col, party = _DOCUMENTS[kind]
    params = {"id": project_id, "limit": limit}
    rows = frame(
        conn,
        "projects.project_documents",
        f"""
        WITH mine AS (
            SELECT l.{fk} AS doc_id, sum(l.line_amount) AS share,
                   string_agg(DISTINCT coalesce(bp.name, 'Unassigned'), ', ') AS phase
            FROM {lines} l LEFT JOIN build_phases bp ON bp.id = l.build_phase_id
            WHERE l.project_id = CAST(:id AS uuid) GROUP BY l.{fk})
        SELECT d.number, d.{party} AS party, d.{date_col} AS date, d.due_date, d.status, d.doc_type,
               m.phase, m.share, d.subtotal, d.total_tax, d.total, d.amount_due,
               EXISTS (SELECT 1 FROM {lines} o WHERE o.{fk} = d.id
                       AND (o.project_id IS NULL OR o.project_id <> CAST(:id AS uuid))) AS split
        FROM mine m JOIN {table} d ON d.id = m.doc_id
        ORDER BY d.{date_col} DESC, d.number DESC LIMIT :limit""",
        params,
    )
    total = conn.scalar(
        stmt(
            "projects.project_documents_count",
            f"SELECT count(DISTINCT {fk}) FROM {lines} WHERE project_id = CAST(:id AS uuid)",
        ),
        params,
    )
    return rows, int(total or 0)


def project_audit(conn: Connection, project_id: str, limit: int) -> pd.DataFrame:
    """Audit entries for a project and its estimates, newest first."""
    return frame(
        conn,
        "projects.project_audit",
        """
        SELECT changed_at, user_id AS "user", table_name, operation, old_data, new_data
        FROM audit_log
        WHERE (table_name = 'projects' AND row_id = CAST(:id AS uuid))
           OR (table_name = 'estimates'
               AND (coalesce(new_data, old_data) ->> 'project_id')::uuid = CAST(:id AS uuid))
        ORDER BY changed_at DESC, id DESC LIMIT :limit""",
        {"id": project_id, "limit": limit},
    )


FIELDS = ("name", "client_name", "status", "start_date", "end_date", "budget_revenue", "budget_cost")


def create_project(conn: Connection, owner_id: str, values: dict[str, Any]) -> str:
    """Insert a project owned by `owner_id` (values already validated by validation.ProjectInput)."""
    new_id = conn.scalar(
        stmt(
            "projects.create_project",
            f"""
        INSERT INTO projects (user_id, {", ".join(FIELDS)})
        VALUES (CAST(:user_id AS uuid), {", ".join(":" + f for f in FIELDS)})
        RETURNING id::text""",
        ),
        {"user_id": owner_id, **{f: values.get(f) for f in FIELDS}},
    )
    return str(new_id)


def update_project(conn: Connection, project_id: str, version: int, values: dict[str, Any]) -> int:
    """Update the given fields if nobody changed the project since `version`; return the new
    version. Raises StaleEdit (naming who changed it last) otherwise."""
    fields = [f for f in FIELDS if f in values]
    if not fields:
        return version
    new_version = conn.scalar(
        stmt(
            "projects.update_project",
            f"""
        UPDATE projects SET {", ".join(f"{f} = :{f}" for f in fields)}
        WHERE id = CAST(:id AS uuid) AND version = :version RETURNING version""",
        ),
        {"id": project_id, "version": version, **{f: values[f] for f in fields}},
    )
    if new_version is None:
        who = conn.execute(
            stmt(
                "projects.last_change",
                """
            SELECT user_id, changed_at FROM audit_log WHERE table_name = 'projects' AND row_id = CAST(:id AS uuid)
            ORDER BY id DESC LIMIT 1""",
            ),
            {"id": project_id},
        ).first()
        detail = f" by {who.user_id} at {who.changed_at:%d %b %Y %H:%M}" if who else ""
        raise StaleEdit(
            f"This project was changed{detail} after you opened it, or it was deleted. "
            "Nothing was saved: reload it to see the current values."
        )
    return int(new_version)

"""Every SQL statement of the app, parameterised; one function per use case.

Reads return DataFrames (money as Decimal) or small dataclasses. Writes run in one transaction
(`db.transaction`) that sets app.current_user_id for the audit trigger. Filters become SQL
only through the fixed fragments below, never by pasting values into text.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from milestone import db
from milestone.validation import UNASSIGNED, Filters

# --------------------------------------------------------------------------- permissions

WRITE_ROLES = frozenset({"admin", "finance"})


class PermissionDenied(Exception):
    """The signed-in user's role may not do this; nothing was written."""


def require_role(user: "User | None", roles: frozenset[str] | set[str] = WRITE_ROLES, action: str = "make changes") -> None:
    """Server-side role check every write path calls first (hiding a button is not enough)."""
    if user is None or user.disabled or user.role not in roles:
        who = f"{user.username} ({user.role})" if user else "nobody signed in"
        raise PermissionDenied(f"Not allowed: {who} may not {action}. Ask an admin if you need to.")


# --------------------------------------------------------------------------- helpers


def _eng(eng: Engine | None) -> Engine:
    return eng or db.engine()


def _frame(eng: Engine | None, sql: str, params: dict[str, Any] | None = None) -> pd.DataFrame:
    with _eng(eng).connect() as conn:
        result = conn.execute(sa.text(sql), params or {})
        return pd.DataFrame(result.all(), columns=list(result.keys()))


def _project_where(f: Filters) -> tuple[str, dict[str, Any]]:
    """WHERE fragment over `projects p` for the project-level filters."""
    clauses, params = ["TRUE"], {}
    if f.clients:
        clauses.append("p.client_name = ANY(:clients)")
        params["clients"] = list(f.clients)
    if f.statuses:
        clauses.append("p.status = ANY(:statuses)")
        params["statuses"] = list(f.statuses)
    if f.owners:
        clauses.append("p.user_id = ANY(CAST(:owners AS uuid[]))")
        params["owners"] = list(f.owners)
    if f.project_ids:
        clauses.append("p.id = ANY(CAST(:project_ids AS uuid[]))")
        params["project_ids"] = list(f.project_ids)
    return " AND ".join(clauses), params


def _doc_where(f: Filters, alias: str, date_col: str) -> tuple[str, dict[str, Any]]:
    """WHERE fragment over one document table for the date and build-phase filters."""
    clauses, params = ["TRUE"], {}
    if f.date_from:
        clauses.append(f"{alias}.{date_col} >= :date_from")
        params["date_from"] = f.date_from
    if f.date_to:
        clauses.append(f"{alias}.{date_col} <= :date_to")
        params["date_to"] = f.date_to
    if f.phases:
        ids = [p for p in f.phases if p != UNASSIGNED]
        clauses.append(f"({alias}.build_phase_id = ANY(CAST(:phase_ids AS uuid[]))"
                       f" OR (:unassigned AND {alias}.build_phase_id IS NULL))")
        params.update(phase_ids=ids, unassigned=UNASSIGNED in f.phases)
    return " AND ".join(clauses), params


def _filtered_documents(f: Filters) -> tuple[str, dict[str, Any]]:
    """CTEs `p` (filtered projects) and `docs` (one signed money row per counted document or
    estimate, with its project, phase and date). The P&L definitions live in the SQL functions
    signed_counted / signed_outstanding (sql/002_triggers.sql)."""
    pw, params = _project_where(f)
    iw, ip = _doc_where(f, "i", "issue_date")
    bw, bp = _doc_where(f, "b", "date")
    ew, ep = _doc_where(f, "e", "date")
    params.update(ip | bp | ep)
    sql = f"""
        p AS (SELECT p.* FROM projects p WHERE {pw}),
        docs AS (
            SELECT i.project_id, i.build_phase_id, i.issue_date AS date,
                   signed_counted(i.status, i.doc_type, i.subtotal) AS revenue, 0::numeric AS costs,
                   0::numeric AS estimate_revenue, 0::numeric AS estimate_costs,
                   signed_outstanding(i.status, i.doc_type, i.amount_due) AS outstanding
            FROM invoices i JOIN p ON p.id = i.project_id WHERE {iw}
            UNION ALL
            SELECT b.project_id, b.build_phase_id, b.date, 0, signed_counted(b.status, b.doc_type, b.subtotal), 0, 0, 0
            FROM bills b JOIN p ON p.id = b.project_id WHERE {bw}
            UNION ALL
            SELECT e.project_id, e.build_phase_id, e.date, 0, 0,
                   CASE WHEN e.kind = 'revenue' THEN e.amount ELSE 0 END,
                   CASE WHEN e.kind = 'cost' THEN e.amount ELSE 0 END, 0
            FROM estimates e JOIN p ON p.id = e.project_id WHERE {ew}
        )"""
    return sql, params


_PROJECT_COLUMNS = """p.id::text AS id, p.name, p.client_name, p.status, p.start_date, p.end_date,
    p.user_id::text AS owner_id, u.display_name AS owner, p.budget_revenue, p.budget_cost, p.version"""

# --------------------------------------------------------------------------- dashboard reads


def project_table(f: Filters = Filters(), eng: Engine | None = None) -> pd.DataFrame:
    """One row per project matching the filters, with its sums for the filtered period/phases."""
    if not f.by_document:
        # All time, all phases: the maintained per-project metrics answer directly.
        pw, params = _project_where(f)
        return _frame(eng, f"""
            SELECT {_PROJECT_COLUMNS}, m.revenue, m.costs, m.estimate_revenue, m.estimate_costs, m.outstanding
            FROM projects p JOIN project_metrics m ON m.project_id = p.id
            LEFT JOIN app_users u ON u.id = p.user_id
            WHERE {pw} ORDER BY p.client_name, p.name""", params)
    ctes, params = _filtered_documents(f)
    return _frame(eng, f"""
        WITH {ctes},
        sums AS (SELECT project_id, sum(revenue) AS revenue, sum(costs) AS costs,
                        sum(estimate_revenue) AS estimate_revenue, sum(estimate_costs) AS estimate_costs,
                        sum(outstanding) AS outstanding
                 FROM docs GROUP BY project_id)
        SELECT {_PROJECT_COLUMNS}, coalesce(s.revenue, 0) AS revenue, coalesce(s.costs, 0) AS costs,
               coalesce(s.estimate_revenue, 0) AS estimate_revenue,
               coalesce(s.estimate_costs, 0) AS estimate_costs, coalesce(s.outstanding, 0) AS outstanding
        FROM p LEFT JOIN sums s ON s.project_id = p.id LEFT JOIN app_users u ON u.id = p.user_id
        ORDER BY p.client_name, p.name""", params)


def monthly_series(f: Filters = Filters(), eng: Engine | None = None) -> pd.DataFrame:
    """Revenue, costs and estimates per calendar month for the filters."""
    ctes, params = _filtered_documents(f)
    return _frame(eng, f"""
        WITH {ctes}
        SELECT date_trunc('month', date)::date AS month, sum(revenue) AS revenue, sum(costs) AS costs,
               sum(estimate_revenue) AS estimate_revenue, sum(estimate_costs) AS estimate_costs
        FROM docs GROUP BY 1 ORDER BY 1""", params)


def phase_breakdown(f: Filters = Filters(), eng: Engine | None = None) -> pd.DataFrame:
    """Revenue, costs and estimates per build phase ('Unassigned' for documents with none)."""
    if not f.by_document:
        pw, params = _project_where(f)
        source = f"""SELECT m.build_phase_id, sum(m.revenue) AS revenue, sum(m.costs) AS costs,
                            sum(m.estimate_revenue) AS estimate_revenue, sum(m.estimate_costs) AS estimate_costs
                     FROM project_phase_metrics m JOIN projects p ON p.id = m.project_id
                     WHERE {pw} GROUP BY m.build_phase_id"""
        with_clause = ""
    else:
        ctes, params = _filtered_documents(f)
        with_clause = f"WITH {ctes}"
        source = """SELECT build_phase_id, sum(revenue) AS revenue, sum(costs) AS costs,
                           sum(estimate_revenue) AS estimate_revenue, sum(estimate_costs) AS estimate_costs
                    FROM docs GROUP BY build_phase_id"""
    return _frame(eng, f"""
        {with_clause}
        SELECT coalesce(bp.name, 'Unassigned') AS phase, s.build_phase_id::text AS phase_id,
               coalesce(bp.colour, '#BBBBBB') AS colour, s.revenue, s.costs, s.estimate_revenue, s.estimate_costs
        FROM ({source}) s LEFT JOIN build_phases bp ON bp.id = s.build_phase_id
        ORDER BY bp.display_order NULLS LAST, phase""", params)


def receivables_ageing(f: Filters = Filters(), today: date | None = None, eng: Engine | None = None) -> pd.DataFrame:
    """Outstanding (Authorised) receivables by days past due as of `today`."""
    pw, params = _project_where(f)
    iw, ip = _doc_where(f, "i", "issue_date")
    params |= ip | {"today": today or date.today()}
    return _frame(eng, f"""
        SELECT CASE WHEN d <= 0 THEN 'Current' WHEN d <= 30 THEN '1-30' WHEN d <= 60 THEN '31-60'
                    WHEN d <= 90 THEN '61-90' ELSE '90+' END AS bucket,
               sum(amount) AS amount, count(*) AS invoices
        FROM (SELECT :today - coalesce(i.due_date, i.issue_date) AS d,
                     signed_outstanding(i.status, i.doc_type, i.amount_due) AS amount
              FROM invoices i JOIN projects p ON p.id = i.project_id
              WHERE i.status = 'Authorised' AND {pw} AND {iw}) x
        GROUP BY 1""", params)


# --------------------------------------------------------------------------- one project


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


def project_header(project_id: str, eng: Engine | None = None) -> ProjectHeader | None:
    with _eng(eng).connect() as conn:
        row = conn.execute(sa.text("""
            SELECT p.id::text AS id, p.name, p.client_name, p.status, p.start_date, p.end_date,
                   u.display_name AS owner, p.budget_revenue, p.budget_cost, p.version, p.xero_tracking_id
            FROM projects p LEFT JOIN app_users u ON u.id = p.user_id
            WHERE p.id = CAST(:id AS uuid)"""), {"id": project_id}).mappings().first()
    return ProjectHeader(**row) if row else None


def project_documents(project_id: str, kind: str, limit: int = 200, eng: Engine | None = None) -> tuple[pd.DataFrame, int]:
    """A project's invoices or bills, newest first, capped at `limit`; also the total count."""
    table, date_col, party = {"invoices": ("invoices", "issue_date", "contact"),
                              "bills": ("bills", "date", "supplier")}[kind]
    params = {"id": project_id, "limit": limit}
    frame = _frame(eng, f"""
        SELECT d.number, d.{party} AS party, d.{date_col} AS date, d.due_date, d.status, d.doc_type,
               coalesce(bp.name, 'Unassigned') AS phase, d.subtotal, d.total_tax, d.total, d.amount_due
        FROM {table} d LEFT JOIN build_phases bp ON bp.id = d.build_phase_id
        WHERE d.project_id = CAST(:id AS uuid)
        ORDER BY d.{date_col} DESC, d.number DESC LIMIT :limit""", params)
    with _eng(eng).connect() as conn:
        total = conn.scalar(sa.text(f"SELECT count(*) FROM {table} WHERE project_id = CAST(:id AS uuid)"), params)
    return frame, int(total)


def project_audit(project_id: str, limit: int = 200, eng: Engine | None = None) -> pd.DataFrame:
    """Audit entries for a project and its estimates, newest first."""
    return _frame(eng, """
        SELECT changed_at, user_id AS "user", table_name, operation, old_data, new_data
        FROM audit_log
        WHERE (table_name = 'projects' AND row_id = CAST(:id AS uuid))
           OR (table_name = 'estimates'
               AND (coalesce(new_data, old_data) ->> 'project_id')::uuid = CAST(:id AS uuid))
        ORDER BY changed_at DESC, id DESC LIMIT :limit""", {"id": project_id, "limit": limit})


# --------------------------------------------------------------------------- estimates


def list_estimates(f: Filters = Filters(), kind: str | None = None, eng: Engine | None = None) -> pd.DataFrame:
    """Estimates with their project's name and client, for the editor."""
    pw, params = _project_where(f)
    ew, ep = _doc_where(f, "e", "date")
    params |= ep
    kind_sql = ""
    if kind:
        kind_sql = "AND e.kind = :kind"
        params["kind"] = kind
    return _frame(eng, f"""
        SELECT e.id::text AS id, e.project_id::text AS project_id, p.name AS project, p.client_name AS client,
               e.kind, e.build_phase_id::text AS build_phase_id, coalesce(bp.name, 'Unassigned') AS phase,
               e.description, e.amount, e.date, e.updated_by, e.updated_at, e.version
        FROM estimates e JOIN projects p ON p.id = e.project_id
        LEFT JOIN build_phases bp ON bp.id = e.build_phase_id
        WHERE {pw} AND {ew} {kind_sql}
        ORDER BY p.client_name, p.name, e.date, e.id""", params)


# --------------------------------------------------------------------------- options and freshness


def filter_options(eng: Engine | None = None) -> dict[str, pd.DataFrame]:
    """Everything the sidebar filters offer: clients, phases, owners, projects."""
    return {
        "clients": _frame(eng, "SELECT DISTINCT client_name FROM projects ORDER BY 1"),
        "phases": _frame(eng, "SELECT id::text AS id, name, colour FROM build_phases WHERE active ORDER BY display_order, name"),
        "owners": _frame(eng, """SELECT DISTINCT u.id::text AS id, u.display_name FROM app_users u
                                 JOIN projects p ON p.user_id = u.id ORDER BY 2"""),
        "projects": _frame(eng, "SELECT id::text AS id, name, client_name FROM projects ORDER BY client_name, name"),
    }


@dataclass(frozen=True)
class SyncStatus:
    last_completed_at: datetime | None
    last_status: str | None
    last_started_at: datetime | None
    last_error: str | None


def sync_status(eng: Engine | None = None) -> SyncStatus:
    with _eng(eng).connect() as conn:
        done = conn.scalar(sa.text("SELECT max(finished_at) FROM sync_runs WHERE status = 'COMPLETED'"))
        last = conn.execute(sa.text(
            "SELECT status, started_at, error FROM sync_runs ORDER BY started_at DESC LIMIT 1")).first()
    return SyncStatus(done, last.status if last else None, last.started_at if last else None,
                      last.error if last else None)


def counts(eng: Engine | None = None) -> dict[str, int]:
    """Row counts of the main tables (home page, health, restore checks)."""
    with _eng(eng).connect() as conn:
        row = conn.execute(sa.text("""
            SELECT (SELECT count(*) FROM projects) AS projects, (SELECT count(*) FROM invoices) AS invoices,
                   (SELECT count(*) FROM bills) AS bills, (SELECT count(*) FROM estimates) AS estimates,
                   (SELECT count(*) FROM app_users) AS users""")).mappings().one()
    return dict(row)


# --------------------------------------------------------------------------- users


@dataclass(frozen=True)
class User:
    id: str
    username: str
    display_name: str
    email: str | None
    role: str
    disabled: bool
    must_change_password: bool


def get_user(username: str, eng: Engine | None = None) -> User | None:
    with _eng(eng).connect() as conn:
        row = conn.execute(sa.text("""
            SELECT id::text AS id, username, display_name, email, role, disabled, must_change_password
            FROM app_users WHERE username = :u"""), {"u": username}).mappings().first()
    return User(**row) if row else None


def create_user(username: str, display_name: str, role: str, password_hash: str, *, actor: str,
                email: str | None = None, must_change_password: bool = False,
                eng: Engine | None = None) -> str:
    with db.transaction(actor, eng) as conn:
        return conn.scalar(sa.text("""
            INSERT INTO app_users (username, display_name, email, role, password_hash, must_change_password)
            VALUES (:u, :d, :e, :r, :h, :m) RETURNING id::text"""),
            {"u": username, "d": display_name, "e": email, "r": role, "h": password_hash,
             "m": must_change_password})


# ---- operations (issue 8): write rate limiter


def take_write_slot(username: str, limit: int, window_s: int, eng: Engine | None = None) -> float | None:
    """Record a write by `username` if fewer than `limit` happened in the last `window_s` seconds.

    Returns None when the write is allowed, else the seconds until the oldest counted write
    leaves the window. A per-user advisory lock makes check-and-insert atomic across processes.
    """
    with _eng(eng).begin() as conn:
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(hashtext('ratelimit:' || :u))"), {"u": username})
        conn.execute(sa.text("""
            DELETE FROM rate_limit_events
            WHERE username = :u AND at < clock_timestamp() - make_interval(secs => :w)"""),
            {"u": username, "w": window_s})
        row = conn.execute(sa.text("""
            SELECT count(*) AS n,
                   EXTRACT(EPOCH FROM min(at) + make_interval(secs => :w) - clock_timestamp()) AS retry
            FROM rate_limit_events WHERE username = :u"""), {"u": username, "w": window_s}).mappings().one()
        if row["n"] >= limit:
            return max(float(row["retry"] or 0), 0.0)
        conn.execute(sa.text("INSERT INTO rate_limit_events (username) VALUES (:u)"), {"u": username})
        return None


# ---- operations (issue 8): backups


def table_row_counts(conn: sa.Connection) -> dict[str, int]:
    """Rows in every table of the milestone schema (names from the catalog, quoted)."""
    names = conn.scalars(sa.text(
        "SELECT tablename FROM pg_tables WHERE schemaname = 'milestone' ORDER BY tablename")).all()
    prep = conn.dialect.identifier_preparer
    return {n: conn.scalar(sa.text(f"SELECT count(*) FROM milestone.{prep.quote(n)}")) for n in names}


def export_snapshot(conn: sa.Connection) -> str:
    conn.execute(sa.text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY"))
    return conn.scalar(sa.text("SELECT pg_export_snapshot()"))


def user_table_count(eng: Engine | None = None) -> int:
    with _eng(eng).connect() as conn:
        return conn.scalar(sa.text(
            "SELECT count(*) FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema')"))


def record_backup(file_name: str, size_bytes: int, sha256: str, eng: Engine | None = None) -> None:
    with _eng(eng).begin() as conn:
        conn.execute(sa.text("INSERT INTO backups (file_name, size_bytes, sha256) VALUES (:f, :s, :h)"),
                     {"f": file_name, "s": size_bytes, "h": sha256})


def last_backup(eng: Engine | None = None) -> dict | None:
    with _eng(eng).connect() as conn:
        if conn.scalar(sa.text("SELECT to_regclass('milestone.backups')")) is None:
            return None
        row = conn.execute(sa.text(
            "SELECT file_name, size_bytes, created_at FROM backups ORDER BY created_at DESC LIMIT 1")).mappings().first()
    return dict(row) if row else None


def recent_logins(limit: int = 10, eng: Engine | None = None) -> list[dict]:
    """Recent sign-ins from login_events (added by migration 004) when that table exists."""
    with _eng(eng).connect() as conn:
        if conn.scalar(sa.text("SELECT to_regclass('milestone.login_events')")) is None:
            return []
        return [dict(r) for r in conn.execute(sa.text(
            "SELECT * FROM login_events ORDER BY 1 DESC LIMIT :n"), {"n": limit}).mappings()]

"""Every SQL statement of the app, parameterised; one function per use case.

Reads return DataFrames (money as Decimal) or small dataclasses. Writes run in one transaction
(`db.transaction`) that sets app.current_user_id for the audit trigger. Filters become SQL
only through the fixed fragments below, never by pasting values into text.
"""
from __future__ import annotations

import json
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


def _rate_limit(user: "User", eng: Engine | None) -> None:
    """Ten saves a minute per user (milestone/ratelimit.py); raises RateLimited, writing nothing."""
    from milestone.ratelimit import check_write

    check_write(user.username, eng=eng)


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


# --------------------------------------------------------------------------- dashboard and projects


@dataclass(frozen=True)
class Preferences:
    saved_views: dict[str, dict[str, Any]]
    default_view: str | None
    favourite_projects: tuple[str, ...]


def preferences(user_id: str, eng: Engine | None = None) -> Preferences:
    with _eng(eng).connect() as conn:
        row = conn.execute(sa.text("""
            SELECT saved_views, default_view, favourite_projects::text[] AS favourites
            FROM user_preferences WHERE user_id = CAST(:u AS uuid)"""), {"u": user_id}).first()
    if not row:
        return Preferences({}, None, ())
    return Preferences(dict(row.saved_views), row.default_view, tuple(row.favourites))


def save_view(user: User, name: str, params: dict[str, Any], make_default: bool = False,
              eng: Engine | None = None) -> None:
    """Save (or overwrite) a named filter set for this user. Any signed-in role may."""
    with db.transaction(user.username, eng) as conn:
        conn.execute(sa.text("""
            INSERT INTO user_preferences (user_id, saved_views, default_view)
            VALUES (CAST(:u AS uuid), jsonb_build_object(CAST(:n AS text), CAST(:p AS jsonb)),
                    CASE WHEN :d THEN CAST(:n AS text) END)
            ON CONFLICT (user_id) DO UPDATE SET
                saved_views = user_preferences.saved_views || EXCLUDED.saved_views,
                default_view = CASE WHEN :d THEN CAST(:n AS text) ELSE user_preferences.default_view END,
                updated_at = now()"""),
            {"u": user.id, "n": name, "p": json.dumps(params), "d": make_default})


def delete_view(user: User, name: str, eng: Engine | None = None) -> None:
    with db.transaction(user.username, eng) as conn:
        conn.execute(sa.text("""
            UPDATE user_preferences SET saved_views = saved_views - CAST(:n AS text),
                   default_view = CASE WHEN default_view = :n THEN NULL ELSE default_view END, updated_at = now()
            WHERE user_id = CAST(:u AS uuid)"""), {"u": user.id, "n": name})


def set_favourite(user: User, project_id: str, favourite: bool, eng: Engine | None = None) -> None:
    with db.transaction(user.username, eng) as conn:
        conn.execute(sa.text("""
            INSERT INTO user_preferences (user_id, favourite_projects)
            VALUES (CAST(:u AS uuid), CASE WHEN :f THEN ARRAY[CAST(:p AS uuid)] ELSE '{}'::uuid[] END)
            ON CONFLICT (user_id) DO UPDATE SET updated_at = now(), favourite_projects =
                CASE WHEN :f THEN array_append(array_remove(user_preferences.favourite_projects, CAST(:p AS uuid)), CAST(:p AS uuid))
                     ELSE array_remove(user_preferences.favourite_projects, CAST(:p AS uuid)) END"""),
            {"u": user.id, "p": project_id, "f": favourite})


class StaleEdit(Exception):
    """Someone else changed the row since it was loaded; nothing was written."""


_PROJECT_FIELDS = ("name", "client_name", "status", "start_date", "end_date", "budget_revenue", "budget_cost")


def create_project(user: User, values: dict[str, Any], eng: Engine | None = None) -> str:
    """Insert a project owned by `user` (values already validated by validation.ProjectInput)."""
    require_role(user, action="create projects")
    _rate_limit(user, eng)
    with db.transaction(user.username, eng) as conn:
        return conn.scalar(sa.text(f"""
            INSERT INTO projects (user_id, {', '.join(_PROJECT_FIELDS)})
            VALUES (CAST(:user_id AS uuid), {', '.join(':' + f for f in _PROJECT_FIELDS)})
            RETURNING id::text"""), {"user_id": user.id, **{f: values.get(f) for f in _PROJECT_FIELDS}})


def update_project(user: User, project_id: str, version: int, values: dict[str, Any],
                   eng: Engine | None = None) -> int:
    """Update the given fields if nobody changed the project since `version`; return the new version."""
    require_role(user, action="edit projects")
    _rate_limit(user, eng)
    fields = [f for f in _PROJECT_FIELDS if f in values]
    if not fields:
        return version
    with db.transaction(user.username, eng) as conn:
        new_version = conn.scalar(sa.text(f"""
            UPDATE projects SET {', '.join(f'{f} = :{f}' for f in fields)}
            WHERE id = CAST(:id AS uuid) AND version = :version RETURNING version"""),
            {"id": project_id, "version": version, **{f: values[f] for f in fields}})
        if new_version is None:
            who = conn.execute(sa.text("""
                SELECT user_id, changed_at FROM audit_log WHERE table_name = 'projects' AND row_id = CAST(:id AS uuid)
                ORDER BY id DESC LIMIT 1"""), {"id": project_id}).first()
            detail = f" by {who.user_id} at {who.changed_at:%d %b %Y %H:%M}" if who else ""
            raise StaleEdit(f"This project was changed{detail} after you opened it, or it was deleted. "
                            "Nothing was saved: reload it to see the current values.")
        return int(new_version)


# --------------------------------------------------------------------------- users and login

LOCK_AFTER_FAILURES = 5
LOCK_WINDOW_MINUTES = 15


@dataclass(frozen=True)
class LoginResult:
    user: User | None
    message: str | None  # what to tell the person when user is None


def _locked_until(conn, username: str) -> datetime | None:
    """Locked while the last 15 minutes hold 5 wrong passwords (since the last success);
    the lock ends 15 minutes after the oldest of those five."""
    return conn.scalar(sa.text("""
        WITH fails AS (
            SELECT at FROM login_events
            WHERE username = :u AND reason = 'bad_password' AND at > now() - make_interval(mins => :w)
              AND at > coalesce((SELECT max(at) FROM login_events WHERE username = :u AND success), '-infinity')
            ORDER BY at DESC LIMIT :n)
        SELECT min(at) + make_interval(mins => :w) FROM fails HAVING count(*) >= :n"""),
        {"u": username, "w": LOCK_WINDOW_MINUTES, "n": LOCK_AFTER_FAILURES})


def authenticate(username: str, password: str, eng: Engine | None = None) -> LoginResult:
    """Check a sign-in attempt, throttled in the database (so it holds across tabs and restarts).

    The messages never reveal whether a username exists: an unknown name is treated exactly
    like a wrong password, including the lock-out after five attempts.
    """
    from milestone.auth import check_password

    name = username.strip().lower()
    wrong = "Username or password is incorrect."
    with db.transaction(None, eng) as conn:
        until = _locked_until(conn, name)
        row = conn.execute(sa.text("SELECT password_hash, disabled FROM app_users WHERE username = :u"),
                           {"u": name}).first()
        if until is not None:
            reason, message = "locked", (f"Too many failed sign-ins: this account is locked until "
                                         f"{until.astimezone():%H:%M}. Try again then, or ask an admin.")
        elif not check_password(password, row.password_hash if row else None):  # same cost either way
            reason, message = "bad_password", wrong
        elif row.disabled:
            reason, message = "disabled", wrong
        else:
            reason, message = "ok", None
        conn.execute(sa.text("INSERT INTO login_events (username, success, reason) VALUES (:u, :s, :r)"),
                     {"u": name[:64], "s": reason == "ok", "r": reason})
        if reason == "bad_password" and _locked_until(conn, name) is not None:
            message = (f"Too many failed sign-ins: this account is locked for {LOCK_WINDOW_MINUTES} minutes. "
                       "Try again later, or ask an admin.")
    return LoginResult(get_user(name, eng) if reason == "ok" else None, message)


def recent_logins(limit: int = 100, eng: Engine | None = None) -> pd.DataFrame:
    return _frame(eng, """SELECT at, username, success, reason FROM login_events ORDER BY at DESC, id DESC
                          LIMIT :n""", {"n": limit})


def list_users(eng: Engine | None = None) -> pd.DataFrame:
    return _frame(eng, """
        SELECT u.username, u.display_name, u.email, u.role, u.disabled, u.must_change_password,
               (SELECT max(at) FROM login_events e WHERE e.username = u.username AND e.success) AS last_login
        FROM app_users u ORDER BY u.username""")


class LastAdmin(Exception):
    """The change would leave no active admin; nothing was written."""


def _guard_last_admin(conn, username: str) -> None:
    """Refuse to disable or demote the last active admin (locks the admin rows meanwhile)."""
    admins = conn.execute(sa.text("SELECT username FROM app_users WHERE role = 'admin' AND NOT disabled"
                                  " ORDER BY username FOR UPDATE")).scalars().all()
    if admins == [username]:
        raise LastAdmin(f"{username} is the last active admin: make someone else an admin first.")


def update_user(actor: User, username: str, *, role: str | None = None, disabled: bool | None = None,
                eng: Engine | None = None) -> None:
    """Change a user's role or disable/enable them (admins only)."""
    require_role(actor, {"admin"}, "manage users")
    with db.transaction(actor.username, eng) as conn:
        current = conn.execute(sa.text("SELECT role, disabled FROM app_users WHERE username = :u FOR UPDATE"),
                               {"u": username}).first()
        if current is None:
            raise ValueError(f"There is no user called {username}.")
        if current.role == "admin" and not current.disabled and (disabled or (role and role != "admin")):
            _guard_last_admin(conn, username)
        conn.execute(sa.text("""
            UPDATE app_users SET role = coalesce(:r, role), disabled = coalesce(:d, disabled), updated_at = now(),
                   sessions_valid_after = CASE WHEN :d THEN now() ELSE sessions_valid_after END
            WHERE username = :u"""), {"u": username, "r": role, "d": disabled})


def set_password(actor: User | None, username: str, password_hash: str, *, must_change: bool,
                 eng: Engine | None = None) -> None:
    """Set a password: an admin resetting someone's (must_change=True), or a user changing their own."""
    if actor is None or actor.username != username:
        require_role(actor, {"admin"}, "reset other people's passwords")
    with db.transaction(actor.username if actor else None, eng) as conn:
        found = conn.execute(sa.text("""
            UPDATE app_users SET password_hash = :h, must_change_password = :m, updated_at = now(),
                   sessions_valid_after = CASE WHEN :m THEN now() ELSE sessions_valid_after END
            WHERE username = :u RETURNING 1"""), {"u": username, "h": password_hash, "m": must_change}).first()
    if not found:
        raise ValueError(f"There is no user called {username}.")


def end_sessions(username: str, eng: Engine | None = None) -> None:
    """Invalidate every sign-in cookie issued to `username` until now (sign-out everywhere)."""
    with db.transaction(username, eng) as conn:
        conn.execute(sa.text("UPDATE app_users SET sessions_valid_after = now() WHERE username = :u"), {"u": username})


def session_still_valid(username: str, issued_at: float, eng: Engine | None = None) -> bool:
    with _eng(eng).connect() as conn:
        return bool(conn.scalar(sa.text("""
            SELECT sessions_valid_after < to_timestamp(:t) AND NOT disabled FROM app_users WHERE username = :u"""),
            {"u": username, "t": issued_at}))


def add_user(actor: User, username: str, display_name: str, role: str, password_hash: str,
             email: str | None = None, eng: Engine | None = None) -> str:
    """An admin creates a user, who must choose their own password at first sign-in."""
    require_role(actor, {"admin"}, "manage users")
    return create_user(username, display_name, role, password_hash, actor=actor.username, email=email,
                       must_change_password=True, eng=eng)


# --------------------------------------------------------------------------- estimates writes


class Conflict(Exception):
    """Rows changed or deleted by someone else since they were loaded; nothing was written."""

    def __init__(self, message: str, rows: pd.DataFrame):
        super().__init__(message)
        self.rows = rows


@dataclass(frozen=True)
class SaveResult:
    updated: int
    added: int
    deleted: int

    @property
    def summary(self) -> str:
        total = self.updated + self.added + self.deleted
        parts = [f"{n} {what}" for n, what in ((self.updated, "updated"), (self.added, "added"),
                                                (self.deleted, "deleted")) if n]
        return f"Saved {total} change{'s' if total != 1 else ''}" + (f": {', '.join(parts)}." if parts else ".")


def _arrays(rows: list, *getters) -> list[list]:
    return [[g(r) for r in rows] for g in getters]


def save_estimate_changes(changes: "EstimateChanges", user: User, eng: Engine | None = None) -> SaveResult:
    """Write a validated batch in one transaction, all or nothing.

    Every touched row must still have the version it was loaded at, or the whole batch is
    refused with a Conflict naming the rows and who changed them. The statements are set-based
    (arrays in, one statement per kind of change), so 500 rows cost the same round trips as 1.
    """
    from milestone.validation import RowProblems

    require_role(user, action="save estimates")
    _rate_limit(user, eng)
    if not changes.count:
        return SaveResult(0, 0, 0)
    touched = [(i, v) for i, v, _ in changes.updates] + list(changes.deletes)
    with db.transaction(user.username, eng) as conn:
        if touched:
            current = {r.id: r for r in conn.execute(sa.text("""
                SELECT e.id::text AS id, e.version, e.updated_by, e.updated_at, e.description, e.amount, e.date,
                       e.kind, p.name AS project
                FROM estimates e JOIN projects p ON p.id = e.project_id
                WHERE e.id = ANY(CAST(:ids AS uuid[])) ORDER BY e.id FOR UPDATE OF e"""),
                {"ids": [i for i, _ in touched]})}
            stale = [(i, v) for i, v in touched if i not in current or current[i].version != v]
            if stale:
                lines, fresh = [], []
                for i, _ in stale:
                    row = current.get(i)
                    if row is None:
                        lines.append(f"an estimate was deleted by someone else (id {i[:8]}…)")
                    else:
                        lines.append(f"“{row.description[:60]}” on {row.project} was changed by "
                                     f"{row.updated_by or 'someone'} at {row.updated_at.astimezone():%H:%M}")
                        fresh.append(dict(row._mapping))
                raise Conflict("Nothing was saved: " + "; ".join(lines) + ". Their current values are shown "
                               "below; discard your changes to reload, then make your edits again.",
                               pd.DataFrame(fresh))
        new_projects = {r.project_id for _, r in changes.inserts} | {r.project_id for _, _, r in changes.updates}
        known = set(conn.execute(sa.text("SELECT id::text FROM projects WHERE id = ANY(CAST(:ids AS uuid[]))"),
                                 {"ids": list(new_projects)}).scalars())
        if new_projects - known:
            raise RowProblems([f"Project {p[:8]}…: no such project (it may have been deleted)" for p in new_projects - known])
        cols = ("project_id", "build_phase_id", "kind", "description", "amount", "date")
        getters = [lambda r, c=c: getattr(r, c) for c in cols]
        if changes.updates:
            rows = [r for _, _, r in changes.updates]
            p, ph, k, d, a, dt = _arrays(rows, *getters)
            conn.execute(sa.text("""
                UPDATE estimates e SET project_id = i.project_id, build_phase_id = i.build_phase_id, kind = i.kind,
                       description = i.description, amount = i.amount, date = i.date, updated_by = :user
                FROM unnest(CAST(:ids AS uuid[]), CAST(:p AS uuid[]), CAST(:ph AS uuid[]), CAST(:k AS text[]),
                            CAST(:d AS text[]), CAST(:a AS numeric[]), CAST(:dt AS date[]))
                     AS i(id, project_id, build_phase_id, kind, description, amount, date)
                WHERE e.id = i.id"""),
                {"ids": [i for i, _, _ in changes.updates], "p": p, "ph": ph, "k": k, "d": d, "a": a, "dt": dt,
                 "user": user.username})
        if changes.deletes:
            conn.execute(sa.text("DELETE FROM estimates WHERE id = ANY(CAST(:ids AS uuid[]))"),
                         {"ids": [i for i, _ in changes.deletes]})
        if changes.inserts:
            rows = [r for _, r in changes.inserts]
            p, ph, k, d, a, dt = _arrays(rows, *getters)
            conn.execute(sa.text("""
                INSERT INTO estimates (id, project_id, build_phase_id, kind, description, amount, date,
                                       created_by, updated_by)
                SELECT coalesce(i.id, gen_random_uuid()), i.project_id, i.build_phase_id, i.kind, i.description,
                       i.amount, i.date, :user, :user
                FROM unnest(CAST(:ids AS uuid[]), CAST(:p AS uuid[]), CAST(:ph AS uuid[]), CAST(:k AS text[]),
                            CAST(:d AS text[]), CAST(:a AS numeric[]), CAST(:dt AS date[]))
                     AS i(id, project_id, build_phase_id, kind, description, amount, date)"""),
                {"ids": [i for i, _ in changes.inserts], "p": p, "ph": ph, "k": k, "d": d, "a": a, "dt": dt,
                 "user": user.username})
    return SaveResult(len(changes.updates), len(changes.inserts), len(changes.deletes))


def estimate_saves(user_filter: str | None = None, limit: int = 50, eng: Engine | None = None) -> pd.DataFrame:
    """Saves of estimates, newest first: one row per transaction (who, when, what)."""
    params: dict[str, Any] = {"n": limit}
    where = ""
    if user_filter:
        where = "AND user_id = :who"
        params["who"] = user_filter
    return _frame(eng, f"""
        SELECT changed_at, user_id AS "user", count(*) FILTER (WHERE operation = 'UPDATE') AS updated,
               count(*) FILTER (WHERE operation = 'INSERT') AS added,
               count(*) FILTER (WHERE operation = 'DELETE') AS deleted
        FROM audit_log WHERE table_name = 'estimates' {where}
        GROUP BY changed_at, user_id ORDER BY changed_at DESC LIMIT :n""", params)


def estimate_save_details(changed_at: datetime, who: str, eng: Engine | None = None) -> pd.DataFrame:
    """The audit rows of one save (same transaction time and user)."""
    return _frame(eng, """
        SELECT id AS audit_id, operation, row_id::text AS estimate_id, old_data, new_data
        FROM audit_log WHERE table_name = 'estimates' AND changed_at = :t AND user_id = :u ORDER BY id""",
        {"t": changed_at, "u": who})


def undo_estimate_save(changed_at: datetime, who: str, user: User, eng: Engine | None = None) -> SaveResult:
    """Put back what one save changed, through the same validated, audited, version-checked save.

    Allowed to admins and to the person who made the save. Refused (Conflict) if any of those
    rows has changed again since.
    """
    from milestone.validation import EstimateChanges, EstimateRow

    if user.role != "admin" and user.username != who:
        raise PermissionDenied(f"Not allowed: only an admin or {who} can undo {who}'s save.")
    changes = EstimateChanges()

    def values(data: dict) -> EstimateRow:
        return EstimateRow.model_validate({k: data.get(k) for k in EstimateRow.model_fields})

    for _, r in estimate_save_details(changed_at, who, eng).iterrows():
        if r["operation"] == "UPDATE":
            changes.updates.append((r["estimate_id"], int(r["new_data"]["version"]), values(r["old_data"])))
        elif r["operation"] == "INSERT":
            changes.deletes.append((r["estimate_id"], int(r["new_data"]["version"])))
        else:
            changes.inserts.append((r["estimate_id"], values(r["old_data"])))
    return save_estimate_changes(changes, user, eng)
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




# --------------------------------------------------------------------------- exports

# What each export contains: (column expression, heading, kind). Kinds: text, money, date, time, int.
# Only these expressions ever reach SQL; the filters are bound parameters.
EXPORT_COLUMNS: dict[str, list[tuple[str, str, str]]] = {
    "invoices": [("d.number", "number", "text"), ("p.name", "project", "text"), ("p.client_name", "client", "text"),
                 ("d.contact", "contact", "text"), ("d.issue_date", "issue_date", "date"),
                 ("d.due_date", "due_date", "date"), ("d.status", "status", "text"), ("d.doc_type", "doc_type", "text"),
                 ("coalesce(bp.name, 'Unassigned')", "build_phase", "text"), ("d.subtotal", "subtotal", "money"),
                 ("d.total_tax", "total_tax", "money"), ("d.total", "total", "money"),
                 ("d.amount_due", "amount_due", "money"), ("d.currency", "currency", "text"),
                 ("d.xero_id", "xero_id", "text")],
    "bills": [("d.number", "number", "text"), ("p.name", "project", "text"), ("p.client_name", "client", "text"),
              ("d.supplier", "supplier", "text"), ("d.date", "date", "date"), ("d.due_date", "due_date", "date"),
              ("d.status", "status", "text"), ("d.doc_type", "doc_type", "text"),
              ("coalesce(bp.name, 'Unassigned')", "build_phase", "text"), ("d.subtotal", "subtotal", "money"),
              ("d.total_tax", "total_tax", "money"), ("d.total", "total", "money"),
              ("d.amount_due", "amount_due", "money"), ("d.currency", "currency", "text"),
              ("d.xero_id", "xero_id", "text")],
    "estimates": [("p.name", "project", "text"), ("p.client_name", "client", "text"), ("d.kind", "kind", "text"),
                  ("coalesce(bp.name, 'Unassigned')", "build_phase", "text"), ("d.description", "description", "text"),
                  ("d.amount", "amount", "money"), ("d.date", "date", "date"), ("d.updated_by", "updated_by", "text"),
                  ("d.id::text", "id", "text")],
    "audit": [("a.changed_at", "changed_at", "time"), ("a.user_id", "user", "text"), ("a.table_name", "table", "text"),
              ("a.operation", "operation", "text"), ("a.row_id::text", "row_id", "text"),
              ("a.old_data::text", "old_data", "text"), ("a.new_data::text", "new_data", "text")],
}
_EXPORT_SOURCES = {
    "invoices": ("invoices d JOIN projects p ON p.id = d.project_id LEFT JOIN build_phases bp ON bp.id = d.build_phase_id",
                 "d", "issue_date", "d.issue_date, d.number"),
    "bills": ("bills d JOIN projects p ON p.id = d.project_id LEFT JOIN build_phases bp ON bp.id = d.build_phase_id",
              "d", "date", "d.date, d.number"),
    "estimates": ("estimates d JOIN projects p ON p.id = d.project_id LEFT JOIN build_phases bp ON bp.id = d.build_phase_id",
                  "d", "date", "p.client_name, p.name, d.date, d.id"),
}


def export_query(table: str, f: Filters, excel_safe: bool = False,
                 with_users: bool = False) -> tuple[str, dict[str, Any], list[tuple[str, str]]]:
    """(SELECT statement, parameters, [(heading, kind)]) for one exportable table and the filters.

    With excel_safe, text cells that start with = + - or @ get a leading apostrophe so a
    spreadsheet shows them instead of running them as formulas (money columns are numbers
    and are left alone, so negative amounts stay numbers). The audit log's changes to users
    (names, emails, roles) are included only `with_users` (for admins)."""
    cols = EXPORT_COLUMNS[table]
    select = []
    for expr, heading, kind in cols:
        if excel_safe and kind == "text":
            expr = f"CASE WHEN {expr} ~ '^[=+@-]' THEN '''' || {expr} ELSE {expr} END"
        select.append(f"{expr} AS {heading}")
    if table == "audit":
        clauses, params = ["TRUE" if with_users else "a.table_name <> 'app_users'"], {}
        if f.date_from:
            clauses.append("a.changed_at >= CAST(:date_from AS date)")
            params["date_from"] = f.date_from
        if f.date_to:
            clauses.append("a.changed_at < CAST(:date_to AS date) + 1")
            params["date_to"] = f.date_to
        if f.project_ids:  # a project's own history: the project row and its estimates
            clauses.append("""((a.table_name = 'projects' AND a.row_id = ANY(CAST(:audit_projects AS uuid[])))
                OR (a.table_name = 'estimates' AND (coalesce(a.new_data, a.old_data) ->> 'project_id')::uuid
                    = ANY(CAST(:audit_projects AS uuid[]))))""")
            params["audit_projects"] = list(f.project_ids)
        sql = f"SELECT {', '.join(select)} FROM audit_log a WHERE {' AND '.join(clauses)} ORDER BY a.id"
    else:
        source, alias, date_col, order = _EXPORT_SOURCES[table]
        pw, params = _project_where(f)
        dw, dp = _doc_where(f, alias, date_col)
        params |= dp
        sql = f"SELECT {', '.join(select)} FROM {source} WHERE {pw} AND {dw} ORDER BY {order}"
    return sql, params, [(h, k) for _, h, k in cols]


def export_row_count(table: str, f: Filters, with_users: bool = False, eng: Engine | None = None) -> int:
    """How many rows export_query would give (checked before an XLSX, which has a row limit)."""
    sql, params, _ = export_query(table, f, with_users=with_users)
    with _eng(eng).connect() as conn:
        return int(conn.scalar(sa.text(f"SELECT count(*) FROM ({sql}) q"), params))


def log_export(user: User, table: str, fmt: str, filters: dict[str, Any], rows: int, eng: Engine | None = None) -> None:
    with db.transaction(user.username, eng) as conn:
        conn.execute(sa.text("""INSERT INTO export_log (username, table_name, format, filters, row_count)
                                VALUES (:u, :t, :f, CAST(:filters AS jsonb), :n)"""),
                     {"u": user.username, "t": table, "f": fmt, "filters": json.dumps(filters, default=str), "n": rows})


def export_history(limit: int = 100, eng: Engine | None = None) -> pd.DataFrame:
    return _frame(eng, """SELECT exported_at, username, table_name, format, filters::text AS filters, row_count
                          FROM export_log ORDER BY exported_at DESC, id DESC LIMIT :n""", {"n": limit})


# --------------------------------------------------------------------------- Xero CSV import

AMBIGUOUS = "ambiguous"  # a project name that more than one project has
_DOC_TABLES = {"invoices": ("contact", "issue_date"), "bills": ("supplier", "date")}  # party column, date column
_DOC_COMPARED = ("project_id", "build_phase_id", "number", "{party}", "{date}", "due_date", "status", "doc_type",
                 "subtotal", "total_tax", "total", "amount_due", "currency")


@dataclass
class ImportResult:
    created: int
    updated: int
    unchanged: int
    dry_run: bool
    changes: pd.DataFrame  # up to 100 new or changed documents, for the dry run's preview
    notes: list[str]

    @property
    def summary(self) -> str:
        verb = "Would import" if self.dry_run else "Imported"
        return (f"{verb} {self.created + self.updated + self.unchanged:,} documents: {self.created:,} new, "
                f"{self.updated:,} updated, {self.unchanged:,} unchanged.")


def import_lookups(eng: Engine | None = None) -> tuple[dict[str, str], dict[str, str]]:
    """How an import finds projects (by tracking id, id, or name in any case) and build phases (id -> name)."""
    with _eng(eng).connect() as conn:
        rows = conn.execute(sa.text("SELECT id::text AS id, name, xero_tracking_id FROM projects")).all()
        phases = dict(conn.execute(sa.text("SELECT id::text, name FROM build_phases")).all())
    projects: dict[str, str] = {}
    for r in rows:  # names first, so an exact tracking id or id always wins over a name
        key = r.name.strip().lower()
        projects[key] = AMBIGUOUS if key in projects else r.id
    for r in rows:
        projects[r.id] = r.id
        if r.xero_tracking_id:
            projects[r.xero_tracking_id] = r.id
    return projects, phases


def apply_xero_import(documents: list[dict], user: User, *, file_name: str, sha256: str, lines: int,
                      dry_run: bool, eng: Engine | None = None) -> ImportResult:
    """Upsert validated documents in one transaction; a dry run classifies them and rolls back.

    Documents are matched by xero_id; one without (an export with no InvoiceID column) matches the
    one stored document with the same number and contact (and date, for bills), else gets
    csv_document_key(...) (sql/007), which a later sync or import with the real InvoiceID adopts.
    Only documents that differ are updated, so importing the same file twice changes nothing.
    """
    from milestone.validation import RowProblems

    require_role(user, action="import Xero files")
    if not dry_run:
        _rate_limit(user, eng)
    cols = ("table", "xero_id", "number", "contact", "issue_date", "due_date", "status", "doc_type", "subtotal",
            "total_tax", "total", "amount_due", "currency", "project_id", "phase_id")
    arrays = {c: [d[c] for d in documents] for c in cols}
    counts = {"created": 0, "updated": 0, "unchanged": 0}
    samples: list = []
    with db.transaction(user.username, eng) as conn:
        conn.execute(sa.text("""
            CREATE TEMP TABLE xero_stage ON COMMIT DROP AS
            SELECT * FROM unnest(CAST(:table AS text[]), CAST(:xero_id AS text[]), CAST(:number AS text[]),
                                 CAST(:contact AS text[]), CAST(:issue_date AS date[]), CAST(:due_date AS date[]),
                                 CAST(:status AS text[]), CAST(:doc_type AS text[]), CAST(:subtotal AS numeric[]),
                                 CAST(:total_tax AS numeric[]), CAST(:total AS numeric[]),
                                 CAST(:amount_due AS numeric[]), CAST(:currency AS text[]),
                                 CAST(:project_id AS uuid[]), CAST(:phase_id AS uuid[]))
                 AS s(tbl, xero_id, number, party, doc_date, due_date, status, doc_type, subtotal, total_tax, total,
                      amount_due, currency, project_id, build_phase_id)"""), arrays)
        adopted: list[str] = []
        for table, (party, date_col) in _DOC_TABLES.items():
            # a document first imported without its InvoiceID takes its real id now; if the real
            # one is already stored (synced before), the CSV copy goes, so nothing counts twice
            adopted += conn.execute(sa.text(f"""
                WITH gone AS (
                    DELETE FROM {table} d USING xero_stage s
                    WHERE s.tbl = '{table}' AND s.xero_id IS NOT NULL
                      AND d.xero_id = csv_document_key('{table}', s.party, s.number, s.doc_date)
                      AND EXISTS (SELECT 1 FROM {table} x WHERE x.xero_id = s.xero_id))
                UPDATE {table} d SET xero_id = s.xero_id
                FROM xero_stage s
                WHERE s.tbl = '{table}' AND s.xero_id IS NOT NULL
                  AND d.xero_id = csv_document_key('{table}', s.party, s.number, s.doc_date)
                  AND NOT EXISTS (SELECT 1 FROM {table} x WHERE x.xero_id = s.xero_id)
                RETURNING d.xero_id""")).scalars().all()
            # without an InvoiceID: the one stored document it names (see csv_document_key), else that key
            same_date = f"AND d.{date_col} = s.doc_date" if table == "bills" else ""
            conn.execute(sa.text(f"""
                UPDATE xero_stage s SET xero_id = coalesce(
                    (SELECT min(d.xero_id) FROM {table} d
                     WHERE d.number = s.number AND d.{party} = s.party {same_date} HAVING count(*) = 1),
                    csv_document_key('{table}', s.party, s.number, s.doc_date))
                WHERE s.tbl = '{table}' AND s.xero_id IS NULL"""))
        twice = conn.execute(sa.text("""SELECT tbl, min(number), min(party) FROM xero_stage GROUP BY tbl, xero_id
                                        HAVING count(*) > 1 ORDER BY 2 LIMIT 20""")).all()
        if twice:
            raise RowProblems([f"{t}: {n} ({p}) is in the file twice, once with its InvoiceID and once without; "
                               "keep one" for t, n, p in twice])
        for table, (party, date_col) in _DOC_TABLES.items():
            mine = ", ".join(f"d.{c.format(party=party, date=date_col)}" for c in _DOC_COMPARED)
            theirs = ", ".join(f"s.{c.format(party='party', date='doc_date')}" for c in _DOC_COMPARED)
            classified = f"""
                SELECT s.*, CASE WHEN d.id IS NULL THEN 'new'
                                 WHEN ({mine}) IS DISTINCT FROM ({theirs}) THEN 'updated'
                                 WHEN s.xero_id = ANY(CAST(:adopted AS text[])) THEN 'updated'  -- took its id
                                 ELSE 'unchanged' END AS change
                FROM xero_stage s LEFT JOIN {table} d ON d.xero_id = s.xero_id WHERE s.tbl = '{table}'"""
            for change, n in conn.execute(sa.text(f"SELECT change, count(*) FROM ({classified}) c GROUP BY 1"),
                                          {"adopted": adopted}):
                counts[{"new": "created", "updated": "updated", "unchanged": "unchanged"}[change]] += n
            samples += conn.execute(sa.text(f"""
                SELECT c.change, '{table}' AS kind, c.number, c.party, c.doc_date AS date, c.status, c.total,
                       p.name AS project
                FROM ({classified}) c JOIN projects p ON p.id = c.project_id
                WHERE c.change <> 'unchanged' ORDER BY c.change, c.doc_date, c.number LIMIT 100"""),
                {"adopted": adopted}).mappings().all()
            if dry_run:
                continue
            columns = [c.format(party=party, date=date_col) for c in _DOC_COMPARED]
            source = ", ".join(c.format(party="party", date="doc_date") for c in _DOC_COMPARED)
            excluded = ", ".join(f"EXCLUDED.{c}" for c in columns)
            conn.execute(sa.text(f"""
                INSERT INTO {table} AS d (xero_id, {', '.join(columns)})
                SELECT xero_id, {source} FROM xero_stage WHERE tbl = '{table}'
                ON CONFLICT (xero_id) DO UPDATE SET ({', '.join(columns)}, updated_at) = ({excluded}, now())
                WHERE ({mine}) IS DISTINCT FROM ({excluded})"""))
        if dry_run:
            conn.rollback()
        else:
            conn.execute(sa.text("""
                INSERT INTO import_runs (username, file_name, sha256, rows_read, created, updated, unchanged)
                VALUES (:u, :f, :sha, :lines, :created, :updated, :unchanged)"""),
                {"u": user.username, "f": file_name[:255], "sha": sha256, "lines": lines, **counts})
    changes = pd.DataFrame(samples[:100], columns=["change", "kind", "number", "party", "date", "status", "total",
                                                   "project"])
    return ImportResult(counts["created"], counts["updated"], counts["unchanged"], dry_run, changes, [])


def import_history(limit: int = 50, eng: Engine | None = None) -> pd.DataFrame:
    return _frame(eng, """SELECT imported_at, username, file_name, rows_read, created, updated, unchanged
                          FROM import_runs ORDER BY imported_at DESC, id DESC LIMIT :n""", {"n": limit})


# --------------------------------------------------------------------------- sync requests (n8n webhook)


class SyncRefused(Exception):
    """A sync cannot be asked for now (one is running, or the cooldown has not passed)."""


@dataclass(frozen=True)
class SyncRequestState:
    running_since: datetime | None  # a RUNNING sync_runs row started in the last 2 hours
    last_requested_at: datetime | None
    last_requested_by: str | None
    last_status: str | None
    next_allowed_at: datetime | None  # None when a request is allowed now


def _sync_state(conn: sa.Connection, cooldown_s: int) -> SyncRequestState:
    row = conn.execute(sa.text("""
        SELECT (SELECT max(started_at) FROM sync_runs
                WHERE status = 'RUNNING' AND started_at > now() - interval '2 hours') AS running_since,
               r.requested_at, r.username, r.status,
               CASE WHEN r.requested_at + make_interval(secs => :cool) > now()
                    THEN r.requested_at + make_interval(secs => :cool) END AS next_allowed_at
        FROM (SELECT 1) one
        LEFT JOIN LATERAL (SELECT requested_at, username, status FROM sync_requests
                           WHERE status <> 'failed' ORDER BY requested_at DESC LIMIT 1) r ON true"""),
        {"cool": cooldown_s}).one()
    return SyncRequestState(*row)


def sync_request_state(cooldown_s: int = 600, eng: Engine | None = None) -> SyncRequestState:
    """Whether an admin may ask n8n for a sync now. A RUNNING row older than 2 hours is a crashed run,
    and a request whose webhook call failed does not start the cooldown."""
    with _eng(eng).connect() as conn:
        return _sync_state(conn, cooldown_s)


def begin_sync_request(user: User, cooldown_s: int = 600, eng: Engine | None = None) -> int:
    """Record a sync request if one is allowed now (admins only); raises SyncRefused otherwise.

    Serialised by an advisory lock, so two admins clicking at once send one request."""
    require_role(user, frozenset({"admin"}), action="start a Xero sync")
    with db.transaction(user.username, eng) as conn:
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(hashtext('milestone.sync_requests'))"))
        state = _sync_state(conn, cooldown_s)
        if state.running_since:
            raise SyncRefused(f"A Xero sync is already running (since {state.running_since.astimezone():%H:%M}).")
        if state.next_allowed_at:
            raise SyncRefused(f"{state.last_requested_by} asked for a sync at "
                              f"{state.last_requested_at.astimezone():%H:%M}; the next one can be asked for "
                              f"at {state.next_allowed_at.astimezone():%H:%M}.")
        return conn.scalar(sa.text("INSERT INTO sync_requests (username) VALUES (:u) RETURNING id"),
                           {"u": user.username})


def finish_sync_request(request_id: int, ok: bool, http_status: int | None, error: str | None,
                        eng: Engine | None = None) -> None:
    with db.transaction(None, eng) as conn:
        conn.execute(sa.text("""UPDATE sync_requests SET status = :s, http_status = :h, error = :e
                                WHERE id = :id"""),
                     {"s": "sent" if ok else "failed", "h": http_status, "e": error and error[:500], "id": request_id})

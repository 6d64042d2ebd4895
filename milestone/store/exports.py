"""Exports: what each exportable table contains, its filtered SELECT, and the export log."""
from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from typing import Any, BinaryIO

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from milestone.store._sql import Params, doc_where, frame, project_where, stmt
from milestone.validation import Filters

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


# Text a spreadsheet would run as a formula: = + - @ first, or a tab or carriage return first,
# or blanks before = + - @ (OWASP's CSV injection list). The same rule in Python and SQL.
FORMULA_START = r"^([=+@\t\r-]|\s+[=+@-])"


def export_query(table: str, f: Filters, neutralise_formulas: bool = True,
                 with_users: bool = False) -> tuple[str, Params, list[tuple[str, str]]]:
    """(SELECT statement, parameters, [(heading, kind)]) for one exportable table and the filters.

    Unless told otherwise, text cells that look like a formula (FORMULA_START) get a leading
    apostrophe so a spreadsheet shows them instead of running them (money columns are numbers
    and are left alone, so negative amounts stay numbers). The audit log's changes to users
    (names, emails, roles) are included only `with_users` (for admins)."""
    cols = EXPORT_COLUMNS[table]
    select = []
    for expr, heading, kind in cols:
        if neutralise_formulas and kind == "text":
            expr = f"CASE WHEN {expr} ~ '{FORMULA_START}' THEN '''' || {expr} ELSE {expr} END"
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
        pw, params = project_where(f)
        dw, dp = doc_where(f, alias, date_col)
        params |= dp
        sql = f"SELECT {', '.join(select)} FROM {source} WHERE {pw} AND {dw} ORDER BY {order}"
    return sql, params, [(h, k) for _, h, k in cols]


def row_count(conn: Connection, table: str, f: Filters, with_users: bool = False) -> int:
    """How many rows export_query would give (checked before an XLSX, which has a row limit)."""
    sql, params, _ = export_query(table, f, with_users=with_users)
    return int(conn.scalar(stmt(f"exports.row_count.{table}", f"SELECT count(*) FROM ({sql}) q"), params) or 0)


def log_export(conn: Connection, username: str, table: str, fmt: str, filters: dict[str, Any], rows: int) -> None:
    conn.execute(stmt("exports.log_export", """
        INSERT INTO export_log (username, table_name, format, filters, row_count)
        VALUES (:u, :t, :f, CAST(:filters AS jsonb), :n)"""),
        {"u": username, "t": table, "f": fmt, "filters": json.dumps(filters, default=str), "n": rows})


def history(conn: Connection, limit: int) -> pd.DataFrame:
    return frame(conn, "exports.history", """
        SELECT exported_at, username, table_name, format, filters::text AS filters, row_count
        FROM export_log ORDER BY exported_at DESC, id DESC LIMIT :n""", {"n": limit})


def copy_csv(conn: Connection, table: str, f: Filters, out: BinaryIO, *, neutralise_formulas: bool,
             with_users: bool) -> int:
    """Stream the export as CSV bytes from COPY ... TO STDOUT into `out`; return the data rows.

    COPY cannot take server-side parameters, so psycopg binds them client-side (as quoted
    literals) into the one statement built from export_query's fixed text."""
    sql, params, _ = export_query(table, f, neutralise_formulas=neutralise_formulas, with_users=with_users)
    compiled = str(sa.text(sql).compile(dialect=conn.dialect))
    raw = conn.connection.driver_connection
    assert raw is not None  # a live psycopg connection inside the caller's transaction
    with raw.cursor() as cur:
        with cur.copy(f"COPY ({compiled}) TO STDOUT WITH (FORMAT csv, HEADER true)", params) as copy:
            for chunk in copy:
                out.write(chunk)
        return max(cur.rowcount, 0)


def stream_rows(conn: Connection, table: str, f: Filters, with_users: bool
                ) -> tuple[list[tuple[str, str]], Iterator[Sequence[Any]]]:
    """(headings with kinds, rows) of an export, rows fetched 5,000 at a time from a server-side cursor."""
    sql, params, cols = export_query(table, f, neutralise_formulas=False, with_users=with_users)  # typed cells
    result = conn.execution_options(stream_results=True, yield_per=5000).execute(
        stmt(f"exports.stream.{table}", sql), params)
    return cols, iter(result)

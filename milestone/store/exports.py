"""Exports: what each exportable table contains, its filtered SELECT, and the export log."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from typing import Any, BinaryIO

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from milestone.store._sql import Params, doc_where, frame, phase_where, project_level, project_where, stmt
from milestone.validation import Filters


# What each export contains: (column expression, heading, kind). Kinds: text, money, date, time, int.
# Only these expressions ever reach SQL; the filters are bound parameters.
# Invoices and bills are one row per document with a line the filters pick; x.* are its lines'
# projects, clients and phases (several joined with "; ", "Unallocated" for lines with no project)
# and `allocated`, the sum of the picked lines (ex tax): the project's share of a split document,
# the whole subtotal with no project or phase filter. Lines are one row per line item.
def _document_columns(party: str, date_col: str) -> list[tuple[str, str, str]]:
    """An invoices or bills export: the same columns, with the document's own party and date."""
    return [
        ("d.number", "number", "text"),
        ("x.project", "project", "text"),
        ("x.client", "client", "text"),
        (f"d.{party}", party, "text"),
        (f"d.{date_col}", date_col, "date"),
        ("d.due_date", "due_date", "date"),
        ("d.status", "status", "text"),
        ("d.doc_type", "doc_type", "text"),
        ("x.build_phase", "build_phase", "text"),
        ("d.subtotal", "subtotal", "money"),
        ("x.allocated", "allocated", "money"),
        ("d.total_tax", "total_tax", "money"),
        ("d.total", "total", "money"),
        ("d.amount_due", "amount_due", "money"),
        ("d.currency", "currency", "text"),
        ("d.xero_id", "xero_id", "text"),
    ]


EXPORT_COLUMNS: dict[str, list[tuple[str, str, str]]] = {
    "invoices": _document_columns("contact", "issue_date"),
    "bills": _document_columns("supplier", "date"),
    "lines": [
        ("d.kind", "kind", "text"),
        ("d.number", "number", "text"),
        ("d.date", "date", "date"),
        ("d.party", "contact_or_supplier", "text"),
        ("d.status", "status", "text"),
        ("d.doc_type", "doc_type", "text"),
        ("d.line_number", "line_number", "int"),
        ("d.description", "description", "text"),
        ("d.account_code", "account_code", "text"),
        ("d.quantity", "quantity", "money"),
        ("d.unit_amount", "unit_amount", "money"),
        ("d.line_amount", "line_amount", "money"),
        ("d.tax_amount", "tax_amount", "money"),
        ("coalesce(p.name, 'Unallocated')", "project", "text"),
        ("p.client_name", "client", "text"),
        ("coalesce(bp.name, 'Unassigned')", "build_phase", "text"),
        ("d.xero_id", "xero_id", "text"),
    ],
    "estimates": [
        ("p.name", "project", "text"),
        ("p.client_name", "client", "text"),
        ("d.kind", "kind", "text"),
        ("coalesce(bp.name, 'Unassigned')", "build_phase", "text"),
        ("d.description", "description", "text"),
        ("d.amount", "amount", "money"),
        ("d.date", "date", "date"),
        ("d.updated_by", "updated_by", "text"),
        ("d.id::text", "id", "text"),
    ],
    "audit": [
        ("a.changed_at", "changed_at", "time"),
        ("a.user_id", "user", "text"),
        ("a.table_name", "table", "text"),
        ("a.operation", "operation", "text"),
        ("a.row_id::text", "row_id", "text"),
        ("a.old_data::text", "old_data", "text"),
        ("a.new_data::text", "new_data", "text"),
    ],
}
# Documents: (table, lines table, its document key, date column).
_DOCUMENT_SOURCES = {
    "invoices": ("invoices", "invoice_lines", "invoice_id", "issue_date"),
    "bills": ("bills", "bill_lines", "bill_id", "date"),
}
_LINES_SOURCE = """(
    SELECT 'invoice' AS kind, i.number, i.issue_date AS date, i.contact AS party, i.status, i.doc_type, i.xero_id,
           l.line_number, l.description, l.account_code, l.quantity, l.unit_amount, l.line_amount, l.tax_amount,
           l.project_id, l.build_phase_id
    FROM invoices i JOIN invoice_lines l ON l.invoice_id = i.id
    UNION ALL
    SELECT 'bill', b.number, b.date, b.supplier, b.status, b.doc_type, b.xero_id,
           l.line_number, l.description, l.account_code, l.quantity, l.unit_amount, l.line_amount, l.tax_amount,
           l.project_id, l.build_phase_id
    FROM bills b JOIN bill_lines l ON l.bill_id = b.id) d
    LEFT JOIN projects p ON p.id = d.project_id LEFT JOIN build_phases bp ON bp.id = d.build_phase_id"""
_EXPORT_SOURCES = {
    "estimates": (
        "estimates d JOIN projects p ON p.id = d.project_id LEFT JOIN build_phases bp ON bp.id = d.build_phase_id",
        "d",
        "date",
        "p.client_name, p.name, d.date, d.id",
    ),
}


def _line_scope(f: Filters, line: str) -> tuple[str, Params]:
    """Lines (alias `line`, joined to projects p) the filters pick: the filtered projects' lines,
    and overhead lines (no project) while no project-level filter is set; then the phase filter."""
    pw, params = project_where(f)
    phw, php = phase_where(f, f"{line}.build_phase_id")
    params |= php | {"overheads": not project_level(f)}
    return f"((p.id IS NOT NULL AND {pw}) OR ({line}.project_id IS NULL AND :overheads)) AND {phw}", params


# Text a spreadsheet would run as a formula: = + - @ first, or a tab or carriage return first,
# or blanks before = + - @ (OWASP's CSV injection list). The same rule in Python and SQL.
FORMULA_START = r"^([=+@\t\r-]|\s+[=+@-])"


def export_query(
    table: str, f: Filters, neutralise_formulas: bool = True, with_users: bool = False
) -> tuple[str, Params, list[tuple[str, str]]]:
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
        clauses = ["TRUE" if with_users else "a.table_name <> 'app_users'"]
        params: Params = {}
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
    elif table in _DOCUMENT_SOURCES:
        docs, lines, key, date_col = _DOCUMENT_SOURCES[table]
        scope, params = _line_scope(f, "l")
        dw, dp = doc_where(f.model_copy(update={"phases": ()}), "d", date_col)
        params |= dp
        # with no project or phase filter every document is listed, also one with no lines yet
        join = "JOIN" if project_level(f) or f.phases else "LEFT JOIN"
        sql = f"""SELECT {", ".join(select)} FROM {docs} d
            {join} LATERAL (
                SELECT sum(l.line_amount) AS allocated,
                       string_agg(DISTINCT coalesce(p.name, 'Unallocated'), '; ') AS project,
                       string_agg(DISTINCT p.client_name, '; ') AS client,
                       string_agg(DISTINCT coalesce(bp.name, 'Unassigned'), '; ') AS build_phase
                FROM {lines} l LEFT JOIN projects p ON p.id = l.project_id
                LEFT JOIN build_phases bp ON bp.id = l.build_phase_id
                WHERE l.{key} = d.id AND {scope}
                HAVING count(*) > 0) x ON TRUE
            WHERE {dw} ORDER BY d.{date_col}, d.number"""
    elif table == "lines":
        scope, params = _line_scope(f, "d")
        dw, dp = doc_where(f.model_copy(update={"phases": ()}), "d", "date")
        params |= dp
        sql = (
            f"SELECT {', '.join(select)} FROM {_LINES_SOURCE} WHERE {scope} AND {dw} "
            "ORDER BY d.date, d.kind, d.number, d.xero_id, d.line_number"
        )
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
    conn.execute(
        stmt(
            "exports.log_export",
            """
        INSERT INTO export_log (username, table_name, format, filters, row_count)
        VALUES (:u, :t, :f, CAST(:filters AS jsonb), :n)""",
        ),
        {"u": username, "t": table, "f": fmt, "filters": json.dumps(filters, default=str), "n": rows},
    )


def history(conn: Connection, limit: int) -> pd.DataFrame:
    return frame(
        conn,
        "exports.history",
        """
        SELECT exported_at, username, table_name, format, filters::text AS filters, row_count
        FROM export_log ORDER BY exported_at DESC, id DESC LIMIT :n""",
        {"n": limit},
    )


def copy_csv(
    conn: Connection, table: str, f: Filters, out: BinaryIO, *, neutralise_formulas: bool, with_users: bool
) -> int:
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
        rows: int = cur.rowcount
        return max(rows, 0)


def stream_rows(
    conn: Connection, table: str, f: Filters, with_users: bool
) -> tuple[list[tuple[str, str]], Iterator[Sequence[Any]]]:
    """(headings with kinds, rows) of an export, rows fetched 5,000 at a time from a server-side cursor."""
    sql, params, cols = export_query(table, f, neutralise_formulas=False, with_users=with_users)  # typed cells
    result = conn.execution_options(stream_results=True, yield_per=5000).execute(
        stmt(f"exports.stream.{table}", sql), params
    )
    return cols, iter(result)

"""Exports: CSV straight from PostgreSQL's COPY and XLSX written row by row, with the filters applied.

Large tables (invoices, bills, estimates, audit log) never become a DataFrame: CSV is the
bytes COPY ... TO STDOUT sends, and XLSX is written from a server-side cursor in openpyxl's
write-only mode. The two small views (projects with P&L, monthly series) come from the same
repository and metrics code as the dashboard, so the numbers match it.
"""
from __future__ import annotations

import io
from datetime import date, datetime
from decimal import Decimal
from typing import Any, BinaryIO

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from milestone import db, metrics, repository
from milestone.repository import User
from milestone.validation import Filters

TABLES = {"projects": "Projects with P&L", "invoices": "Invoices", "bills": "Bills", "estimates": "Estimates",
          "monthly": "Monthly series", "audit": "Audit log"}
FORMATS = ("csv", "xlsx")
BOM = "\ufeff".encode()

_PROJECT_COLUMNS = ["name", "client_name", "status", "owner", "start_date", "end_date", "revenue", "costs", "profit",
                    "margin", "budget_revenue", "budget_cost", "revenue_variance", "cost_variance",
                    "estimate_revenue", "estimate_costs", "forecast_revenue", "forecast_costs", "forecast_profit",
                    "forecast_margin", "outstanding"]


def file_name(table: str, f: Filters, fmt: str, today: date | None = None) -> str:
    """milestone-invoices-2026-04-01_2027-03-31.csv, or the export date when there is no period."""
    if f.date_from or f.date_to:
        period = f"{f.date_from or 'start'}_{f.date_to or 'today'}"
    else:
        period = (today or date.today()).isoformat()
    return f"milestone-{table}-{period}.{fmt}"


def _small_frame(table: str, f: Filters, eng: Engine) -> pd.DataFrame:
    if table == "projects":
        return metrics.with_pnl(repository.project_table(f, eng))[_PROJECT_COLUMNS]
    monthly = repository.monthly_series(f, eng)
    monthly["profit"] = monthly["revenue"] - monthly["costs"]
    return monthly


def _neutralise(value: Any) -> Any:
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@"):
        return "'" + value
    return value


def _write_small_csv(frame: pd.DataFrame, out: BinaryIO, excel_friendly: bool) -> int:
    frame = frame.copy()
    for col in frame.columns:
        values = list(frame[col])
        if any(isinstance(v, Decimal) for v in values):
            frame[col] = [None if v is None or (isinstance(v, float) and v != v) else f"{Decimal(v):.2f}"
                          for v in values]
        elif excel_friendly:
            frame[col] = [_neutralise(v) for v in values]
    text = frame.to_csv(index=False, date_format="%Y-%m-%d", lineterminator="\n")
    out.write(text.encode("utf-8"))
    return len(frame)


def write_csv(table: str, f: Filters, out: BinaryIO, *, excel_friendly: bool = False, eng: Engine | None = None) -> int:
    """Write the export to `out`; return the number of data rows."""
    eng = eng or db.engine()
    if excel_friendly:
        out.write(BOM)  # Excel reads UTF-8 only with a byte-order mark
    if table in ("projects", "monthly"):
        return _write_small_csv(_small_frame(table, f, eng), out, excel_friendly)
    sql, params, _ = repository.export_query(table, f, excel_safe=excel_friendly)
    # COPY cannot take server-side parameters; psycopg binds them client-side (quoted literals).
    compiled = str(sa.text(sql).compile(dialect=eng.dialect))
    with eng.connect() as conn:
        raw = conn.connection.driver_connection
        with raw.cursor() as cur:
            cur.execute("SET LOCAL search_path = milestone, public")
            with cur.copy(f"COPY ({compiled}) TO STDOUT WITH (FORMAT csv, HEADER true)", params) as copy:
                for chunk in copy:
                    out.write(chunk)
            rows = cur.rowcount
        conn.rollback()
    return max(rows, 0)


def _cell(value: Any, kind: str) -> Any:
    if value is None:
        return None
    if kind == "money" or isinstance(value, Decimal):
        return float(value)  # a real number cell; shown with two decimals by the column format
    if kind == "time" and isinstance(value, datetime):
        return value.replace(tzinfo=None)  # Excel has no time zones: UTC wall time
    return value


def write_xlsx(table: str, f: Filters, out: BinaryIO, *, eng: Engine | None = None) -> int:
    """A workbook with typed number and date cells, a frozen header and fitted widths."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    eng = eng or db.engine()
    wb = Workbook(write_only=True)
    ws = wb.create_sheet(TABLES[table][:31])
    ws.freeze_panes = "A2"

    if table in ("projects", "monthly"):
        frame = _small_frame(table, f, eng)
        kinds = [("money" if any(isinstance(v, Decimal) for v in frame[c]) else
                  "date" if any(isinstance(v, date) for v in frame[c]) else "text") for c in frame.columns]
        headings = list(frame.columns)
        rows_iter = (tuple(None if (isinstance(v, float) and v != v) else v for v in r)
                     for r in frame.itertuples(index=False))
        conn = None
    else:
        sql, params, cols = repository.export_query(table, f)
        headings, kinds = [h for h, _ in cols], [k for _, k in cols]
        conn = eng.connect().execution_options(stream_results=True, yield_per=5000)
        rows_iter = iter(conn.execute(sa.text(sql), params))

    buffered = []  # the first rows decide the column widths (write-only sheets need them up front)
    for row in rows_iter:
        buffered.append(row)
        if len(buffered) >= 200:
            break
    for i, heading in enumerate(headings, start=1):
        longest = max([len(heading)] + [len(str(r[i - 1])) for r in buffered if r[i - 1] is not None])
        ws.column_dimensions[get_column_letter(i)].width = min(max(10, longest + 2), 60)

    def styled(value, kind):
        cell = WriteOnlyCell(ws, value=_cell(value, kind))
        if kind == "money":
            cell.number_format = "#,##0.00"
        elif kind == "date":
            cell.number_format = "yyyy-mm-dd"
        elif kind == "time":
            cell.number_format = "yyyy-mm-dd hh:mm:ss"
        return cell

    header = []
    for h in headings:
        c = WriteOnlyCell(ws, value=h)
        c.font = Font(bold=True)
        header.append(c)
    ws.append(header)
    count = 0
    try:
        for row in buffered:
            ws.append([styled(v, k) for v, k in zip(row, kinds)])
            count += 1
        for row in rows_iter:
            ws.append([styled(v, k) for v, k in zip(row, kinds)])
            count += 1
    finally:
        if conn is not None:
            conn.close()
    wb.save(out)
    return count


def export(table: str, f: Filters, fmt: str, out: BinaryIO, user: User, *, excel_friendly: bool = False,
           eng: Engine | None = None) -> int:
    """Write one export and record it in export_log (who, what, filters, rows)."""
    if table not in TABLES:
        raise ValueError(f"Unknown table {table!r}: choose one of {', '.join(TABLES)}")
    if fmt not in FORMATS:
        raise ValueError(f"Unknown format {fmt!r}: choose csv or xlsx")
    if fmt == "csv":
        rows = write_csv(table, f, out, excel_friendly=excel_friendly, eng=eng)
    else:
        rows = write_xlsx(table, f, out, eng=eng)
    filters = f.model_dump(exclude_defaults=True, mode="json") | ({"excel_friendly": True} if excel_friendly else {})
    repository.log_export(user, table, fmt, filters, rows, eng)
    return rows


def export_bytes(table: str, f: Filters, fmt: str, user: User, *, excel_friendly: bool = False,
                 eng: Engine | None = None) -> bytes:
    buf = io.BytesIO()
    export(table, f, fmt, buf, user, excel_friendly=excel_friendly, eng=eng)
    return buf.getvalue()

"""Exports: CSV straight from PostgreSQL's COPY and XLSX written row by row, with the filters applied.

Large tables (invoices, bills, their lines, estimates, audit log) never become a DataFrame: CSV is the
bytes COPY ... TO STDOUT sends, and XLSX is written from a server-side cursor by xlsxwriter in
constant-memory mode. The two small views (projects with P&L, monthly series) come from the same
store and metrics code as the dashboard, so the numbers match it.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, BinaryIO

import pandas as pd

from milestone import db, metrics
from milestone.errors import ExportRefused
from milestone.services.access import ADMIN, require_role
from milestone.store import exports, pnl
from milestone.store.users import User
from milestone.validation import Filters

TABLES = {
    "projects": "Projects with P&L",
    "invoices": "Invoices",
    "bills": "Bills",
    "lines": "Invoice and bill lines",
    "estimates": "Estimates",
    "monthly": "Monthly series",
    "audit": "Audit log",
}
FORMATS = ("csv", "xlsx")
XLSX_MAX_ROWS = 1_048_575  # an Excel sheet's rows, less the header
BOM = "\ufeff".encode()

_PROJECT_COLUMNS = [
    "name",
    "client_name",
    "status",
    "owner",
    "start_date",
    "end_date",
    "revenue",
    "costs",
    "profit",
    "margin",
    "budget_revenue",
    "budget_cost",
    "revenue_variance",
    "cost_variance",
    "estimate_revenue",
    "estimate_costs",
    "forecast_revenue",
    "forecast_costs",
    "forecast_profit",
    "forecast_margin",
    "outstanding",
]


def file_name(table: str, f: Filters, fmt: str, today: date | None = None) -> str:
    """milestone-invoices-2026-04-01_2027-03-31.csv, or the export date when there is no period."""
    if f.date_from or f.date_to:
        period = f"{f.date_from or 'start'}_{f.date_to or 'today'}"
    else:
        period = (today or date.today()).isoformat()
    return f"milestone-{table}-{period}.{fmt}"


def _small_frame(table: str, f: Filters) -> pd.DataFrame:
    with db.snapshot() as conn:
        if table == "projects":
            return metrics.with_pnl(pnl.project_table(conn, f))[_PROJECT_COLUMNS]
        monthly = pnl.monthly_series(conn, f)
    monthly["profit"] = monthly["revenue"] - monthly["costs"]
    return monthly


_FORMULA = re.compile(exports.FORMULA_START)


def _neutralise(value: Any) -> Any:
    """Formula-like text (store.exports.FORMULA_START) behind an apostrophe, as the SQL does."""
    if isinstance(value, str) and _FORMULA.match(value):
        return "'" + value
    return value


def _write_small_csv(frame: pd.DataFrame, out: BinaryIO, neutralise: bool) -> int:
    frame = frame.copy()
    for col in frame.columns:
        values = list(frame[col])
        if any(isinstance(v, Decimal) for v in values):
            frame[col] = [
                None if v is None or (isinstance(v, float) and v != v) else f"{Decimal(v):.2f}" for v in values
            ]
        elif neutralise:
            frame[col] = [_neutralise(v) for v in values]
    text = frame.to_csv(index=False, date_format="%Y-%m-%d", lineterminator="\n")
    out.write(text.encode("utf-8"))
    return len(frame)


def write_csv(
    table: str, f: Filters, out: BinaryIO, *, excel_friendly: bool = False, raw: bool = False, with_users: bool = False
) -> int:
    """Write the export to `out`; return the number of data rows. Formula-like text is
    neutralised unless `raw` (an explicit choice, for a program rather than a spreadsheet);
    `excel_friendly` adds the byte-order mark Excel needs to read UTF-8."""
    if excel_friendly:
        out.write(BOM)
    if table in ("projects", "monthly"):
        return _write_small_csv(_small_frame(table, f), out, neutralise=not raw)
    with db.snapshot() as conn:
        return exports.copy_csv(conn, table, f, out, neutralise_formulas=not raw, with_users=with_users)


def write_xlsx(table: str, f: Filters, out: BinaryIO, *, with_users: bool = False) -> int:
    """A workbook with typed number and date cells, a frozen header and fitted widths.

    xlsxwriter in constant-memory mode writes each row as it comes from a server-side cursor
    (about 9x faster than openpyxl's write-only mode here). Text is always written as a string,
    so a cell starting with = stays text in Excel, never a formula."""
    if table in ("projects", "monthly"):
        frame = _small_frame(table, f)
        kinds = [
            (
                "money"
                if any(isinstance(v, Decimal) for v in frame[c])
                else "date"
                if any(isinstance(v, date) for v in frame[c])
                else "text"
            )
            for c in frame.columns
        ]
        rows = (
            tuple(None if (isinstance(v, float) and v != v) else v for v in r) for r in frame.itertuples(index=False)
        )
        return _write_workbook(out, TABLES[table], list(frame.columns), kinds, rows)
    with db.snapshot() as conn:
        cols, streamed = exports.stream_rows(conn, table, f, with_users)
        return _write_workbook(out, TABLES[table], [h for h, _ in cols], [k for _, k in cols], streamed)


def _write_workbook(
    out: BinaryIO, title: str, headings: list[str], kinds: list[str], rows_iter: Iterator[Sequence[Any]]
) -> int:
    import xlsxwriter

    wb = xlsxwriter.Workbook(out, {"constant_memory": True})
    ws = wb.add_worksheet(title[:31])
    formats = {
        "money": wb.add_format({"num_format": "#,##0.00"}),
        "date": wb.add_format({"num_format": "yyyy-mm-dd"}),
        "time": wb.add_format({"num_format": "yyyy-mm-dd hh:mm:ss"}),
    }
    ws.freeze_panes(1, 0)
    ws.write_row(0, 0, headings, wb.add_format({"bold": True}))
    widths = [len(h) for h in headings]  # fitted to the first 200 rows

    def write(r: int, row: Sequence[Any]) -> None:
        for c, (value, kind) in enumerate(zip(row, kinds, strict=True)):
            if value is None:
                continue
            if kind == "money" or isinstance(value, Decimal):
                ws.write_number(r, c, float(value), formats["money"])
            elif isinstance(value, datetime):
                ws.write_datetime(
                    r, c, value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value, formats["time"]
                )  # Excel has no time zones: UTC wall time
            elif isinstance(value, date):
                ws.write_datetime(r, c, datetime(value.year, value.month, value.day), formats["date"])
            elif isinstance(value, (int, float)):
                ws.write_number(r, c, value)
            else:
                ws.write_string(r, c, str(value))
            if r <= 200:
                widths[c] = max(widths[c], len(str(value)))

    count = 0
    for count, row in enumerate(rows_iter, start=1):
        write(count, row)
    for c, w in enumerate(widths):  # column settings are kept apart from the streamed rows until close
        ws.set_column(c, c, min(max(10, w + 2), 60))
    wb.close()
    return count


def xlsx_too_large(table: str, f: Filters, user: User) -> str | None:
    """Why this export cannot be an Excel sheet (more rows than a sheet holds), or None."""
    if table in ("projects", "monthly"):
        return None  # one row per project or month
    with db.snapshot() as conn:
        rows = exports.row_count(conn, table, f, with_users=user.role == "admin")
    if rows > XLSX_MAX_ROWS:
        return (
            f"{rows:,} rows are more than an Excel sheet holds ({XLSX_MAX_ROWS:,}). "
            "Narrow the dates or clients, or export CSV."
        )
    return None


def export(
    table: str, f: Filters, fmt: str, out: BinaryIO, user: User, *, excel_friendly: bool = False, raw: bool = False
) -> int:
    """Write one export and record it in export_log (who, what, filters, rows)."""
    if table not in TABLES:
        raise ExportRefused(f"Unknown table {table!r}: choose one of {', '.join(TABLES)}")
    if fmt not in FORMATS:
        raise ExportRefused(f"Unknown format {fmt!r}: choose csv or xlsx")
    admin = user.role == "admin"  # only admins see changes to users in the audit log
    if fmt == "xlsx" and (too_large := xlsx_too_large(table, f, user)):
        raise ExportRefused(too_large)  # before anything is written
    if fmt == "csv":
        rows = write_csv(table, f, out, excel_friendly=excel_friendly, raw=raw, with_users=admin)
    else:
        rows = write_xlsx(table, f, out, with_users=admin)
    filters = (
        f.model_dump(exclude_defaults=True, mode="json")
        | ({"excel_friendly": True} if excel_friendly else {})
        | ({"raw": True} if raw else {})
    )
    log_export(user, table, fmt, filters, rows)
    return rows


def export_bytes(table: str, f: Filters, fmt: str, user: User, *, excel_friendly: bool = False) -> bytes:
    buf = io.BytesIO()
    export(table, f, fmt, buf, user, excel_friendly=excel_friendly)
    return buf.getvalue()


def log_export(user: User, table: str, fmt: str, filters: dict[str, Any], rows: int) -> None:
    """Record who exported what (exports and PDF reports alike)."""
    with db.transaction(user.username) as conn:
        exports.log_export(conn, user.username, table, fmt, filters, rows)


def history(user: User, limit: int = 100) -> pd.DataFrame:
    """The export log (admins)."""
    require_role(user, ADMIN, "read the export log")
    with db.snapshot() as conn:
        return exports.history(conn, limit)

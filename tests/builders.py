"""Small helpers that write test rows with the owner engine and return their ids."""

from __future__ import annotations

import itertools
from datetime import date, timedelta
from decimal import Decimal

import sqlalchemy as sa

from milestone import db

_n = itertools.count(1)


def project(
    tdb,
    name: str = "Test project",
    client: str = "Test client",
    status: str = "In Progress",
    user: str | None = "tester",
    **cols,
) -> str:
    values = {"name": name, "client_name": client, "status": status} | cols
    names = ", ".join(values)
    params = ", ".join(f":{k}" for k in values)
    with db.transaction(user, tdb.owner) as conn:
        return conn.execute(
            sa.text(f"INSERT INTO milestone.projects ({names}) VALUES ({params}) RETURNING id::text"), values
        ).scalar()


def phase(tdb, name: str | None = None) -> str:
    with db.transaction(None, tdb.owner) as conn:
        return conn.execute(
            sa.text("INSERT INTO milestone.build_phases (name) VALUES (:n) RETURNING id::text"),
            {"n": name or f"Phase {next(_n)}"},
        ).scalar()


def document(
    tdb,
    table: str,
    project_id: str | None,
    subtotal: str | Decimal,
    status: str = "Paid",
    doc_type: str | None = None,
    on: date = date(2026, 1, 15),
    phase_id: str | None = None,
    amount_due: str | Decimal | None = None,
    due: date | None = None,
    lines: list[tuple] | None = None,
    number: str | None = None,
) -> str:
    """A document and its lines in one transaction. Without `lines` it has one line of the whole
    subtotal on project_id and phase_id; else `lines` = [(amount, project_id, phase_id), ...]."""
    subtotal = Decimal(subtotal)
    date_col = "issue_date" if table == "invoices" else "date"
    doc_type = doc_type or ("invoice" if table == "invoices" else "bill")
    total = subtotal * Decimal("1.2")
    due_amount = Decimal(amount_due) if amount_due is not None else (total if status == "Authorised" else Decimal(0))
    lines = lines if lines is not None else [(subtotal, project_id, phase_id)]
    key = f"X-{next(_n)}"
    with db.transaction(None, tdb.owner) as conn:
        doc = conn.execute(
            sa.text(f"""
            INSERT INTO milestone.{table} (xero_id, number, {date_col}, due_date, status,
                                           doc_type, subtotal, total_tax, total, amount_due)
            VALUES (:x, :n, :d, :due, :s, :t, :sub, :tax, :tot, :ad) RETURNING id::text"""),
            {
                "x": key,
                "n": number or key,
                "d": on,
                "due": due or on + timedelta(days=30),
                "s": status,
                "t": doc_type,
                "sub": subtotal,
                "tax": total - subtotal,
                "tot": total,
                "ad": due_amount,
            },
        ).scalar()
        add_lines(conn, table, doc, lines)
        return doc


def add_lines(conn, table: str, doc: str, lines: list[tuple], first: int = 1) -> None:
    """Insert lines [(amount, project_id, phase_id), ...] numbered from `first` (doc_date filled by the database)."""
    if not lines:
        return
    lines_table, fk = ("invoice_lines", "invoice_id") if table == "invoices" else ("bill_lines", "bill_id")
    conn.execute(
        sa.text(f"""
        INSERT INTO milestone.{lines_table} ({fk}, line_number, description, line_amount, tax_amount,
                                             project_id, build_phase_id)
        SELECT CAST(:doc AS uuid), :first + o - 1, 'Line ' || (:first + o - 1), a, round(a * 0.2, 2), p, ph
        FROM unnest(CAST(:a AS numeric[]), CAST(:p AS uuid[]), CAST(:ph AS uuid[]))
             WITH ORDINALITY AS t(a, p, ph, o)"""),
        {
            "doc": doc,
            "first": first,
            "a": [Decimal(x[0]) for x in lines],
            "p": [x[1] for x in lines],
            "ph": [x[2] for x in lines],
        },
    )


def estimate(
    tdb,
    project_id: str,
    amount: str | Decimal,
    kind: str = "revenue",
    on: date = date(2026, 6, 1),
    description: str = "Stage payment",
    phase_id: str | None = None,
    user: str | None = "tester",
) -> str:
    with db.transaction(user, tdb.owner) as conn:
        return conn.execute(
            sa.text("""
            INSERT INTO milestone.estimates (project_id, build_phase_id, kind, description, amount, date, created_by)
            VALUES (:p, :ph, :k, :d, :a, :on, :u) RETURNING id::text"""),
            {"p": project_id, "ph": phase_id, "k": kind, "d": description, "a": Decimal(amount), "on": on, "u": user},
        ).scalar()

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
    project_id: str,
    subtotal: str | Decimal,
    status: str = "Paid",
    doc_type: str | None = None,
    on: date = date(2026, 1, 15),
    phase_id: str | None = None,
    amount_due: str | Decimal | None = None,
    due: date | None = None,
) -> str:
    subtotal = Decimal(subtotal)
    date_col = "issue_date" if table == "invoices" else "date"
    doc_type = doc_type or ("invoice" if table == "invoices" else "bill")
    total = subtotal * Decimal("1.2")
    due_amount = Decimal(amount_due) if amount_due is not None else (total if status == "Authorised" else Decimal(0))
    with db.transaction(None, tdb.owner) as conn:
        return conn.execute(
            sa.text(f"""
            INSERT INTO milestone.{table} (project_id, build_phase_id, xero_id, {date_col}, due_date, status,
                                           doc_type, subtotal, total_tax, total, amount_due)
            VALUES (:p, :ph, :x, :d, :due, :s, :t, :sub, :tax, :tot, :ad) RETURNING id::text"""),
            {
                "p": project_id,
                "ph": phase_id,
                "x": f"X-{next(_n)}",
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

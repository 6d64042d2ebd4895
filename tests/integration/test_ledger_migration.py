"""sql/010 migrates a database of documents with one project and phase each, in place: each document
becomes one line with its old project and phase, and every per-project number stays the same."""

import shutil
import uuid
from datetime import date, timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from milestone import db
from milestone.migrate import SQL_DIR, migrate
from tests import conftest, oracle

MONEY = ("revenue", "costs", "estimate_revenue", "estimate_costs", "outstanding", "invoice_count", "bill_count")


@pytest.fixture()
def old_database(server_url, tmp_path):
    """A new database migrated only up to 008, as it was before document lines."""
    name = f"ms_mig_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(server_url, isolation_level="AUTOCOMMIT", poolclass=sa.NullPool)
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = make_url(server_url).set(database=name).render_as_string(hide_password=False)
    tdb = conftest.TestDB(url=url, owner=db.make_engine(url, app_role=False), app=db.make_engine(url))
    old_sql = tmp_path / "sql"
    old_sql.mkdir()
    for f in sorted(SQL_DIR.glob("*.sql")):
        if f.name[:3] <= "008":
            shutil.copy(f, old_sql / f.name)
    assert migrate(tdb.owner, old_sql)[-1] == "008_audit_users.sql"
    yield tdb
    tdb.owner.dispose()
    tdb.app.dispose()
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def _fill_old_schema(tdb) -> None:
    """Projects, phases, documents of every status and type (with project and phase), estimates."""
    import random

    rng = random.Random(13)
    with db.transaction("migration-test", tdb.owner) as conn:
        run = lambda sql, **p: conn.execute(sa.text(sql), p)  # noqa: E731
        projects = [
            run(
                "INSERT INTO milestone.projects (name, client_name) VALUES (:n, 'Client') RETURNING id", n=f"Old {i}"
            ).scalar()
            for i in range(8)
        ]
        phases = [
            run("INSERT INTO milestone.build_phases (name) VALUES (:n) RETURNING id", n=n).scalar()
            for n in ("Groundworks", "Frame")
        ] + [None]
        for table, date_col, kind in (("invoices", "issue_date", "invoice"), ("bills", "date", "bill")):
            for i in range(300):
                sub = Decimal(rng.randint(0, 900_000)) / 100
                status = rng.choice(["Draft", "Submitted", "Authorised", "Paid", "Voided"])
                run(
                    f"""INSERT INTO milestone.{table} (project_id, build_phase_id, xero_id, number, {date_col},
                        due_date,
                                                       status, doc_type, subtotal, total_tax, total, amount_due)
                        VALUES (:p, :ph, :x, :x, :d, :d, :s, :t, :sub, :tax, :tot, :due)""",
                    p=rng.choice(projects),
                    ph=rng.choice(phases),
                    x=f"{table}-{i}",
                    d=date(2025, 1, 1) + timedelta(days=rng.randint(0, 600)),
                    s=status,
                    t="credit_note" if rng.random() < 0.1 else kind,
                    sub=sub,
                    tax=(sub * Decimal("0.2")).quantize(Decimal("0.01")),
                    tot=(sub * Decimal("1.2")).quantize(Decimal("0.01")),
                    due=(sub * Decimal("0.6")).quantize(Decimal("0.01")) if status in ("Authorised", "Draft") else 0,
                )
        for i in range(60):
            run(
                """INSERT INTO milestone.estimates (project_id, build_phase_id, kind, description, amount, date)
                   VALUES (:p, :ph, :k, 'Est', :a, :d)""",
                p=rng.choice(projects),
                ph=rng.choice(phases),
                k=rng.choice(["revenue", "cost"]),
                a=Decimal(rng.randint(1, 100_000)),
                d=date(2026, 1, 1) + timedelta(days=i * 5),
            )


def test_each_document_becomes_one_line_and_the_numbers_stay_the_same(old_database):
    tdb = old_database
    _fill_old_schema(tdb)
    before = {
        r["project_id"]: {k: r[k] for k in MONEY}
        for r in tdb.rows(f"SELECT project_id::text AS project_id, {', '.join(MONEY)} FROM milestone.project_metrics")
    }
    before_phases = {k: v for k, v in oracle.stored_phase_sums(tdb).items() if any(v)}
    docs = {
        r["xero_id"]: r
        for r in tdb.rows("""
        SELECT xero_id, subtotal, total_tax, project_id::text AS p, build_phase_id::text AS ph FROM milestone.invoices
        UNION ALL SELECT xero_id, subtotal, total_tax, project_id::text, build_phase_id::text FROM milestone.bills""")
    }

    applied = migrate(tdb.owner)
    assert "010_document_lines.sql" in applied

    lines = tdb.rows("""
        SELECT d.xero_id, l.line_number, l.line_amount, l.tax_amount, l.project_id::text AS p,
               l.build_phase_id::text AS ph, l.doc_date = d.issue_date AS same_date
        FROM milestone.invoice_lines l JOIN milestone.invoices d ON d.id = l.invoice_id
        UNION ALL
        SELECT d.xero_id, l.line_number, l.line_amount, l.tax_amount, l.project_id::text, l.build_phase_id::text,
               l.doc_date = d.date FROM milestone.bill_lines l JOIN milestone.bills d ON d.id = l.bill_id""")
    assert len(lines) == len(docs) == 600
    for line in lines:
        old = docs[line["xero_id"]]
        assert (
            line["line_number"],
            line["line_amount"],
            line["tax_amount"],
            line["p"],
            line["ph"],
            line["same_date"],
        ) == (1, old["subtotal"], old["total_tax"], old["p"], old["ph"], True)
    after = {
        r["project_id"]: {k: r[k] for k in MONEY}
        for r in tdb.rows(f"SELECT project_id::text AS project_id, {', '.join(MONEY)} FROM milestone.project_metrics")
    }
    assert after == before
    after_phases = oracle.stored_phase_sums(tdb)
    assert after_phases == before_phases
    assert oracle.stored_pnl(tdb) == oracle.pnl_rows(tdb)
    assert all(r["ok"] for r in tdb.rows("SELECT ok FROM milestone.ledger_reconciliation"))
    assert (
        tdb.scalar("""SELECT count(*) FROM information_schema.columns WHERE table_schema = 'milestone'
                         AND table_name IN ('invoices', 'bills') AND column_name IN ('project_id', 'build_phase_id')""")
        == 0
    )
    assert migrate(tdb.owner) == []

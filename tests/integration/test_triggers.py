"""The database keeps pnl_monthly and project_metrics exact, versions rows, and audits who changed what."""

import random
from decimal import Decimal

import sqlalchemy as sa

from milestone import db
from tests import builders, oracle


def test_a_new_project_has_a_zero_metrics_row(database):
    pid = builders.project(database, "Zero")
    assert oracle.metrics_table(database)[pid] == {
        k: Decimal(0) for k in ("revenue", "costs", "estimate_revenue", "estimate_costs", "outstanding")
    }


def test_credit_notes_subtract_and_only_authorised_or_paid_count(database):
    pid = builders.project(database, "Credit notes")
    builders.document(database, "invoices", pid, "1000.00", "Paid")
    builders.document(database, "invoices", pid, "200.00", "Authorised", amount_due="240.00")
    builders.document(database, "invoices", pid, "150.00", "Paid", doc_type="credit_note")
    builders.document(database, "invoices", pid, "60.00", "Authorised", doc_type="credit_note", amount_due="72.00")
    for status in ("Draft", "Submitted", "Voided"):
        builders.document(database, "invoices", pid, "999.00", status, amount_due="0")
    builders.document(database, "bills", pid, "700.00", "Paid")
    builders.document(database, "bills", pid, "100.00", "Authorised", doc_type="credit_note")
    builders.document(database, "bills", pid, "555.00", "Voided")
    m = oracle.metrics_table(database)[pid]
    assert m["revenue"] == Decimal("990.00")  # 1000 + 200 - 150 - 60
    assert m["costs"] == Decimal("600.00")  # 700 - 100
    assert m["outstanding"] == Decimal("168.00")  # 240 - 72
    assert m == oracle.project_sums(database)[pid]


def test_voiding_an_invoice_removes_it_from_revenue(database):
    pid = builders.project(database, "Void later")
    inv = builders.document(database, "invoices", pid, "500.00", "Authorised")
    assert oracle.metrics_table(database)[pid]["revenue"] == Decimal("500.00")
    database.execute("UPDATE milestone.invoices SET status = 'Voided', amount_due = 0 WHERE id = :i", i=inv)
    assert oracle.metrics_table(database)[pid]["revenue"] == Decimal("0.00")
    assert oracle.metrics_table(database)[pid]["outstanding"] == Decimal("0.00")


def test_metrics_stay_exact_under_random_writes(database):
    rng = random.Random(7)
    projects = [builders.project(database, f"Random {i}") for i in range(6)]
    phases = [builders.phase(database) for _ in range(3)] + [None]
    statuses = ["Draft", "Submitted", "Authorised", "Paid", "Voided"]
    docs: dict[str, list[str]] = {"invoices": [], "bills": [], "estimates": []}
    lines_of = {"invoices": ("invoice_lines", "invoice_id"), "bills": ("bill_lines", "bill_id")}
    for _ in range(150):
        table = rng.choice(list(docs))
        action = rng.choice(["insert", "insert", "update", "move", "delete"]) if docs[table] else "insert"
        if action == "insert" and table == "estimates":
            docs[table].append(
                builders.estimate(
                    database,
                    rng.choice(projects),
                    f"{rng.randint(1, 9999)}.{rng.randint(0, 99):02d}",
                    rng.choice(["revenue", "cost"]),
                    phase_id=rng.choice(phases),
                )
            )
        elif action == "insert":
            status = rng.choice(statuses)
            parts = [Decimal(f"{rng.randint(0, 4999)}.{rng.randint(0, 99):02d}") for _ in range(rng.randint(1, 4))]
            docs[table].append(
                builders.document(
                    database,
                    table,
                    None,
                    sum(parts),
                    status,
                    doc_type=rng.choice([None, None, "credit_note"]),
                    lines=[(a, rng.choice(projects + [None]), rng.choice(phases)) for a in parts],
                    amount_due=f"{rng.randint(0, 500)}.00" if status == "Authorised" else "0",
                )
            )
        elif action == "update":
            row = rng.choice(docs[table])
            if table == "estimates":
                database.execute(
                    "UPDATE milestone.estimates SET amount = :a, kind = :k WHERE id = :i",
                    a=Decimal(rng.randint(1, 5000)),
                    k=rng.choice(["revenue", "cost"]),
                    i=row,
                )
            else:  # a new status, and a new amount on every line with the subtotal to match
                lines, fk = lines_of[table]
                with db.transaction(None, database.owner) as conn:
                    conn.execute(
                        sa.text(f"UPDATE milestone.{lines} SET line_amount = line_amount + 1 WHERE {fk} = :i"),
                        {"i": row},
                    )
                    conn.execute(
                        sa.text(f"""UPDATE milestone.{table} SET status = :s,
                                             subtotal = (SELECT coalesce(sum(line_amount), 0) FROM milestone.{lines}
                                                         WHERE {fk} = :i) WHERE id = :i"""),
                        {"s": rng.choice(statuses), "i": row},
                    )
        elif action == "move":
            if table == "estimates":
                database.execute(
                    "UPDATE milestone.estimates SET project_id = :p, build_phase_id = :ph WHERE id = :i",
                    p=rng.choice(projects),
                    ph=rng.choice(phases),
                    i=rng.choice(docs[table]),
                )
            else:
                lines, fk = lines_of[table]
                database.execute(
                    f"UPDATE milestone.{lines} SET project_id = :p, build_phase_id = :ph WHERE {fk} = :i",
                    p=rng.choice(projects + [None]),
                    ph=rng.choice(phases),
                    i=rng.choice(docs[table]),
                )
        else:
            row = docs[table].pop(rng.randrange(len(docs[table])))
            database.execute(f"DELETE FROM milestone.{table} WHERE id = :i", i=row)
    # a bulk statement touching many rows at once, as a sync does
    database.execute("UPDATE milestone.invoices SET status = 'Paid', amount_due = 0 WHERE status = 'Authorised'")
    assert oracle.metrics_table(database) == oracle.project_sums(database)
    assert oracle.stored_pnl(database) == oracle.pnl_rows(database)
    stored = oracle.stored_phase_sums(database)
    assert stored == oracle.phase_sums(database)


def test_deleting_a_project_removes_its_metrics(database):
    pid = builders.project(database, "Short lived")
    builders.document(database, "invoices", pid, "10.00")
    database.execute("DELETE FROM milestone.projects WHERE id = :i", i=pid)
    assert pid not in oracle.metrics_table(database)


def test_truncating_invoices_recounts_every_project(fresh_database):
    pid = builders.project(fresh_database, "Truncated")
    builders.document(fresh_database, "invoices", pid, "10.00")
    fresh_database.execute("TRUNCATE milestone.invoices CASCADE")  # and its lines
    assert oracle.metrics_table(fresh_database)[pid]["revenue"] == 0


def test_a_bulk_insert_of_many_documents_updates_metrics_in_one_statement(fresh_database):
    projects = [builders.project(fresh_database, f"Bulk {i}") for i in range(20)]
    with db.transaction(None, fresh_database.owner) as conn:  # documents, then their lines (two per document)
        conn.execute(
            sa.text("""
            INSERT INTO milestone.invoices (xero_id, issue_date, status, subtotal, total, amount_due)
            SELECT 'BULK-' || g, DATE '2026-01-01' + g % 300, CASE WHEN g % 7 = 0 THEN 'Authorised' ELSE 'Paid' END,
                   g % 1000, g % 1000, CASE WHEN g % 7 = 0 THEN g % 100 ELSE 0 END
            FROM generate_series(1, 20000) g""")
        )
        conn.execute(
            sa.text("""
            INSERT INTO milestone.invoice_lines (invoice_id, line_number, doc_date, line_amount, project_id)
            SELECT i.id, n, i.issue_date, CASE n WHEN 1 THEN round(i.subtotal / 3, 2) ELSE i.subtotal -
                round(i.subtotal / 3, 2) END,
                   CASE WHEN n = 2 AND i.subtotal::int % 5 = 0 THEN NULL
                        ELSE (CAST(:ps AS uuid[]))[1 + (i.subtotal::int + n) % 20] END
            FROM milestone.invoices i CROSS JOIN generate_series(1, 2) n WHERE i.xero_id LIKE 'BULK-%'"""),
            {"ps": projects},
        )
    assert oracle.metrics_table(fresh_database) == oracle.project_sums(fresh_database)
    assert oracle.stored_pnl(fresh_database) == oracle.pnl_rows(fresh_database)


def test_concurrent_writers_to_one_project_both_count(fresh_database):
    pid = builders.project(fresh_database, "Two writers")
    eng = fresh_database.owner
    c1, c2 = eng.connect(), eng.connect()
    try:
        t1, t2 = c1.begin(), c2.begin()
        insert = sa.text("""WITH d AS (INSERT INTO milestone.invoices (xero_id, issue_date, status, subtotal, total)
                                        VALUES (:x, '2026-01-01', 'Paid', :a, :a) RETURNING id, issue_date)
                            INSERT INTO milestone.invoice_lines (invoice_id, line_number, doc_date,
                                line_amount, project_id)
                            SELECT id, 1, issue_date, :a, :p FROM d""")
        c1.execute(insert, {"p": pid, "x": "C1", "a": 100})
        import threading

        done = threading.Event()

        def second():
            c2.execute(insert, {"p": pid, "x": "C2", "a": 50})  # waits for c1's row lock
            t2.commit()
            done.set()

        th = threading.Thread(target=second)
        th.start()
        t1.commit()
        th.join(10)
        assert done.is_set()
    finally:
        c1.close()
        c2.close()
    assert oracle.metrics_table(fresh_database)[pid]["revenue"] == Decimal("150.00")


def test_updates_bump_the_version(database):
    pid = builders.project(database, "Versioned")
    database.execute("UPDATE milestone.projects SET status = 'On Hold' WHERE id = :i", i=pid)
    database.execute("UPDATE milestone.projects SET status = 'Completed' WHERE id = :i", i=pid)
    assert database.scalar("SELECT version FROM milestone.projects WHERE id = :i", i=pid) == 3


def test_audit_rows_carry_the_user_and_the_change(database):
    pid = builders.project(database, "Audited", user="fran")
    eid = builders.estimate(database, pid, "100.00", user="fran")
    database.execute("UPDATE milestone.estimates SET amount = 250 WHERE id = :i", user="alex", i=eid)
    database.execute("DELETE FROM milestone.estimates WHERE id = :i", user="priya", i=eid)
    rows = database.rows(
        """SELECT table_name, operation, user_id, old_data->>'amount' AS old, new_data->>'amount' AS new
                            FROM milestone.audit_log WHERE row_id IN (:p, :e) ORDER BY id""",
        p=pid,
        e=eid,
    )
    assert [(r["table_name"], r["operation"], r["user_id"]) for r in rows] == [
        ("projects", "INSERT", "fran"),
        ("estimates", "INSERT", "fran"),
        ("estimates", "UPDATE", "alex"),
        ("estimates", "DELETE", "priya"),
    ]
    assert (rows[2]["old"], rows[2]["new"]) == ("100.00", "250.00")


def test_a_write_without_an_app_user_is_attributed_to_the_database_login(database):
    pid = builders.project(database, "Anonymous", user=None)
    who = database.scalar("SELECT user_id FROM milestone.audit_log WHERE row_id = :p", p=pid)
    assert who.startswith("db:")


def test_the_user_setting_does_not_leak_to_the_next_transaction(database):
    with db.transaction("first", database.owner) as conn:
        conn.execute(sa.text("SELECT 1"))
    with database.owner.connect() as conn:
        assert conn.scalar(sa.text("SELECT current_setting('app.current_user_id', true)")) in (None, "")

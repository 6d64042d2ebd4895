"""Ledger by line item (sql/010): lines add up to their document, split documents and overheads
land on the right keys of pnl_monthly, outstanding is allocated to the penny."""

from datetime import date
from decimal import Decimal

import pytest
import sqlalchemy as sa

from milestone import db
from tests import builders, oracle

D = Decimal


def _assert_rollup_exact(tdb):
    assert oracle.stored_pnl(tdb) == oracle.pnl_rows(tdb)
    assert oracle.metrics_table(tdb) == oracle.project_sums(tdb)
    stored_phases = oracle.stored_phase_sums(tdb)
    assert stored_phases == oracle.phase_sums(tdb)
    checks = tdb.rows("SELECT check_name, expected, actual, ok FROM milestone.ledger_reconciliation")
    assert all(c["ok"] for c in checks), [c for c in checks if not c["ok"]]
    assert oracle.practice_journal(tdb) == oracle.practice_from_rollup(tdb)


@pytest.fixture(scope="module")
def world(database):
    return {
        "a": builders.project(database, "Site A"),
        "b": builders.project(database, "Site B"),
        "frame": builders.phase(database, "Frame"),
        "roof": builders.phase(database, "Roofing"),
    }


def test_a_bill_split_across_two_projects_counts_on_each(database, world):
    a, b = world["a"], world["b"]
    builders.document(
        database, "bills", None, "1000.00", "Paid", lines=[("600.00", a, world["frame"]), ("400.00", b, None)]
    )
    m = oracle.metrics_table(database)
    assert m[a]["costs"] == D("600.00") and m[b]["costs"] == D("400.00")
    _assert_rollup_exact(database)


def test_an_overhead_bill_is_unallocated_and_still_in_the_totals(database, world):
    builders.document(
        database, "bills", None, "250.00", "Authorised", lines=[("200.00", None, None), ("50.00", None, None)]
    )
    t = oracle.ledger_totals(database)
    assert t["costs_unallocated"] >= D("250.00")
    assert t["costs_projects"] + t["costs_unallocated"] == t["costs_lines"] == t["costs_subtotals"]
    _assert_rollup_exact(database)


def test_an_invoice_split_across_phases_and_a_credit_note_with_lines(database, world):
    a = world["a"]
    builders.document(
        database,
        "invoices",
        None,
        "900.00",
        "Paid",
        lines=[("300.00", a, world["frame"]), ("600.00", a, world["roof"])],
    )
    builders.document(
        database,
        "invoices",
        None,
        "90.00",
        "Paid",
        doc_type="credit_note",
        lines=[("30.00", a, world["frame"]), ("60.00", a, world["roof"])],
    )
    phases = oracle.phase_sums(database)
    assert phases[(a, world["roof"])][0] == D("540.00")  # 600 - 60
    _assert_rollup_exact(database)


def test_outstanding_is_split_by_largest_remainder_and_adds_up(database, world):
    a, b = world["a"], world["b"]
    inv = builders.document(
        database,
        "invoices",
        None,
        "100.00",
        "Authorised",
        amount_due="100.00",
        lines=[("33.33", a, None), ("33.33", b, None), ("33.34", None, None)],
    )
    shares = {
        r["line_number"]: r["outstanding"]
        for r in database.rows(
            "SELECT line_number, outstanding FROM milestone.invoice_line_outstanding WHERE invoice_id = :i", i=inv
        )
    }
    assert shares == {1: D("33.33"), 2: D("33.33"), 3: D("33.34")}
    # 10.00 due over three equal lines: 3.33 each and the penny left goes to line 1 (ties: lowest number)
    database.execute("UPDATE milestone.invoices SET amount_due = 10 WHERE id = :i", i=inv)
    database.execute(
        """UPDATE milestone.invoice_lines SET line_amount = CASE line_number WHEN 3 THEN 33.34 ELSE 33.33 END
                        WHERE invoice_id = :i""",
        i=inv,
    )
    shares = {
        r["line_number"]: r["outstanding"]
        for r in database.rows(
            "SELECT line_number, outstanding FROM milestone.invoice_line_outstanding WHERE invoice_id = :i", i=inv
        )
    }
    assert sum(shares.values()) == D("10.00")
    assert shares == {1: D("3.33"), 2: D("3.33"), 3: D("3.34")}  # 3.334 has the largest remainder
    even = builders.document(
        database,
        "invoices",
        None,
        "30.00",
        "Authorised",
        amount_due="0.02",
        lines=[("10.00", a, None), ("10.00", a, None), ("10.00", b, None)],
    )
    shares = [
        r["outstanding"]
        for r in database.rows(
            "SELECT outstanding FROM milestone.invoice_line_outstanding WHERE invoice_id = :i ORDER BY line_number",
            i=even,
        )
    ]
    assert shares == [D("0.01"), D("0.01"), D("0.00")]
    _assert_rollup_exact(database)


def test_lines_that_cancel_out_share_what_is_due_equally(database, world):
    inv = builders.document(
        database,
        "invoices",
        None,
        "0.00",
        "Authorised",
        amount_due="1.00",
        lines=[("50.00", world["a"], None), ("-50.00", world["b"], None)],
    )
    shares = [
        r["outstanding"]
        for r in database.rows(
            "SELECT outstanding FROM milestone.invoice_line_outstanding WHERE invoice_id = :i ORDER BY line_number",
            i=inv,
        )
    ]
    assert shares == [D("0.50"), D("0.50")]
    _assert_rollup_exact(database)


def test_a_document_whose_lines_do_not_add_up_is_refused_naming_it_and_nothing_is_stored(database, world):
    before = database.scalar("SELECT count(*) FROM milestone.invoices")
    with pytest.raises(
        sa.exc.IntegrityError,
        match=r"invoice INV-BAD-1 \(xero_id X-\d+\): its lines add up to 90.00 "
        r"but its subtotal is 100.00",
    ):
        builders.document(
            database,
            "invoices",
            None,
            "100.00",
            lines=[("60.00", world["a"], None), ("30.00", None, None)],
            number="INV-BAD-1",
        )
    assert database.scalar("SELECT count(*) FROM milestone.invoices") == before
    assert (
        database.scalar(
            "SELECT count(*) FROM milestone.invoice_lines l WHERE NOT EXISTS "
            "(SELECT 1 FROM milestone.invoices i WHERE i.id = l.invoice_id)"
        )
        == 0
    )


def test_changing_one_line_alone_is_refused_and_changing_both_sides_is_accepted(database, world):
    bill = builders.document(
        database,
        "bills",
        None,
        "100.00",
        lines=[("70.00", world["a"], None), ("30.00", world["b"], None)],
        number="B-77",
    )
    with pytest.raises(sa.exc.IntegrityError, match="bill B-77 .*lines add up to 110.00 but its subtotal is 100.00"):
        database.execute(
            "UPDATE milestone.bill_lines SET line_amount = 40 WHERE bill_id = :b AND line_number = 2", b=bill
        )
    with db.transaction(None, database.owner) as conn:  # a line added and the subtotal raised together
        builders.add_lines(conn, "bills", bill, [("5.00", None, None)], first=3)
        conn.execute(sa.text("UPDATE milestone.bills SET subtotal = 105, total = 126 WHERE id = :b"), {"b": bill})
    assert database.scalar("SELECT count(*) FROM milestone.bill_lines WHERE bill_id = :b", b=bill) == 3
    _assert_rollup_exact(database)


def test_a_document_without_lines_must_have_nothing_in_it(database):
    empty = builders.document(database, "invoices", None, "0.00", "Draft", amount_due="0", lines=[])
    assert database.scalar("SELECT count(*) FROM milestone.invoices WHERE id = :i", i=empty) == 1
    with pytest.raises(sa.exc.IntegrityError, match="lines add up to 0 but its subtotal is 10.00"):
        builders.document(database, "invoices", None, "10.00", "Draft", lines=[])
    with pytest.raises(sa.exc.IntegrityError, match="has no lines but 5.00 due"):
        builders.document(database, "invoices", None, "0.00", "Authorised", amount_due="5.00", lines=[])


def test_moving_a_document_to_another_month_moves_all_its_lines(database, world):
    inv = builders.document(
        database,
        "invoices",
        None,
        "120.00",
        "Paid",
        on=date(2026, 2, 27),
        lines=[("100.00", world["a"], world["frame"]), ("20.00", None, None)],
    )
    database.execute("UPDATE milestone.invoices SET issue_date = '2026-04-02' WHERE id = :i", i=inv)
    assert {
        r["doc_date"]
        for r in database.rows("SELECT doc_date FROM milestone.invoice_lines WHERE invoice_id = :i", i=inv)
    } == {date(2026, 4, 2)}
    _assert_rollup_exact(database)


def test_deleting_a_document_removes_its_lines_and_figures(database, world):
    inv = builders.document(
        database,
        "invoices",
        None,
        "77.00",
        "Authorised",
        lines=[("70.00", world["a"], None), ("7.00", world["b"], world["roof"])],
    )
    database.execute("DELETE FROM milestone.invoices WHERE id = :i", i=inv)
    assert database.scalar("SELECT count(*) FROM milestone.invoice_lines WHERE invoice_id = :i", i=inv) == 0
    _assert_rollup_exact(database)


def test_deleting_a_project_makes_its_lines_overheads_and_keeps_the_totals(database, world):
    gone = builders.project(database, "Cancelled")
    builders.document(
        database, "bills", None, "500.00", lines=[("400.00", gone, world["frame"]), ("100.00", world["a"], None)]
    )
    builders.estimate(database, gone, "50.00")
    database.execute("DELETE FROM milestone.projects WHERE id = :p", p=gone)
    assert database.scalar("SELECT count(*) FROM milestone.pnl_monthly WHERE project_id = :p", p=gone) == 0
    assert (
        database.scalar("SELECT count(*) FROM milestone.bill_lines WHERE project_id IS NULL AND line_amount = 400") >= 1
    )
    _assert_rollup_exact(database)


def test_refresh_functions_recount_to_the_same_figures(database):
    before = oracle.stored_pnl(database)
    database.execute("SELECT milestone.refresh_pnl_monthly()")
    assert oracle.stored_pnl(database) == before
    database.execute("SELECT milestone.refresh_project_metrics(ARRAY(SELECT id FROM milestone.projects))")
    assert oracle.stored_pnl(database) == before
    _assert_rollup_exact(database)


def test_truncating_lines_recounts_everything(fresh_database):
    pid = builders.project(fresh_database, "Truncated")
    builders.document(fresh_database, "invoices", pid, "10.00")
    fresh_database.execute("TRUNCATE milestone.invoices CASCADE")
    assert oracle.metrics_table(fresh_database)[pid]["revenue"] == 0
    assert oracle.stored_pnl(fresh_database) == {}


def _as(database, role: str, sql: str, **params):
    with database.owner.connect() as conn, conn.begin():
        conn.execute(sa.text(f"SET LOCAL ROLE {role}"))
        conn.execute(sa.text("SET LOCAL search_path = milestone"))
        result = conn.execute(sa.text(sql), params)
        return result.all() if result.returns_rows else None


def test_roles_on_lines_and_the_rollup(database, world):
    assert _as(database, "xero_reader", "SELECT count(*) FROM invoice_lines")[0][0] >= 1
    assert _as(database, "xero_reader", "SELECT count(*) FROM pnl_monthly")[0][0] >= 1
    assert _as(database, "milestone_app", "SELECT count(*) FROM ledger_reconciliation WHERE NOT ok")[0][0] == 0
    for role in ("xero_sync", "milestone_app"):
        _as(
            database,
            role,
            f"""
            WITH d AS (INSERT INTO bills (xero_id, date, status, subtotal, total) VALUES ('ROLE-{role}',
                '2026-05-05', 'Paid', 10, 12)
                       RETURNING id)
            INSERT INTO bill_lines (bill_id, line_number, line_amount, project_id) SELECT id, 1, 10, :p FROM d""",
            p=world["a"],
        )
    for role, sql in [
        ("xero_reader", "DELETE FROM bill_lines"),
        ("xero_sync", "UPDATE pnl_monthly SET revenue = 0"),
        ("milestone_app", "DELETE FROM pnl_monthly"),
    ]:
        with pytest.raises(sa.exc.ProgrammingError, match="permission denied"):
            _as(database, role, sql)
    _assert_rollup_exact(database)


def test_a_header_change_waits_for_a_concurrent_line_move_and_counts_it(fresh_database):
    """T1 moves a line to another project; T2 voids the document meanwhile. T2 waits for T1's lock on
    the document, then recounts the keys of the lines as T1 left them: nothing stays counted."""
    import threading

    tdb = fresh_database
    a, b = builders.project(tdb, "Race A"), builders.project(tdb, "Race B")
    inv = builders.document(
        tdb,
        "invoices",
        None,
        "100.00",
        "Authorised",
        amount_due="120.00",
        lines=[("60.00", a, None), ("40.00", a, None)],
    )
    c1, c2 = tdb.owner.connect(), tdb.owner.connect()
    try:
        t1 = c1.begin()
        c1.execute(
            sa.text("UPDATE milestone.invoice_lines SET project_id = :b WHERE invoice_id = :i AND line_number = 2"),
            {"b": b, "i": inv},
        )
        done = threading.Event()

        def void():
            with c2.begin():
                c2.execute(
                    sa.text("UPDATE milestone.invoices SET status = 'Voided', amount_due = 0 WHERE id = :i"), {"i": inv}
                )
            done.set()

        th = threading.Thread(target=void)
        th.start()
        th.join(1.0)
        assert not done.is_set()  # waiting for T1's lock on the document
        t1.commit()
        th.join(10)
        assert done.is_set()
    finally:
        c1.close()
        c2.close()
    assert oracle.stored_pnl(tdb) == oracle.pnl_rows(tdb) == {}
    assert oracle.metrics_table(tdb) == oracle.project_sums(tdb)


def test_two_writers_creating_the_same_key_both_count(fresh_database):
    import threading

    tdb = fresh_database
    pid, phase = builders.project(tdb, "New key"), builders.phase(tdb, "New phase")
    c1, c2 = tdb.owner.connect(), tdb.owner.connect()
    insert = sa.text("""WITH d AS (INSERT INTO milestone.bills (xero_id, date, status, subtotal, total)
                                   VALUES (:x, '2026-07-04', 'Paid', :a, :a) RETURNING id, date)
                        INSERT INTO milestone.bill_lines (bill_id, line_number, doc_date, line_amount,
                            project_id, build_phase_id)
                        SELECT id, 1, date, :a, :p, :ph FROM d""")
    try:
        t1 = c1.begin()
        c1.execute(insert, {"x": "K1", "a": 70, "p": pid, "ph": phase})

        def second():
            with c2.begin():
                c2.execute(insert, {"x": "K2", "a": 30, "p": pid, "ph": phase})  # waits for the key's new row

        th = threading.Thread(target=second)
        th.start()
        th.join(1.0)
        t1.commit()
        th.join(10)
    finally:
        c1.close()
        c2.close()
    assert oracle.stored_pnl(tdb)[(pid, phase, date(2026, 7, 1))]["costs"] == D("100.00")
    assert oracle.stored_pnl(tdb) == oracle.pnl_rows(tdb)


def test_the_practice_journal_compacts_to_one_row_per_key_with_the_same_sums(fresh_database):
    tdb = fresh_database
    pid = builders.project(tdb, "Journal")
    for amount in ("10.00", "20.00", "30.00"):
        builders.document(tdb, "invoices", pid, amount)
    builders.document(tdb, "bills", None, "5.00")  # an overhead
    before = oracle.practice_journal(tdb)
    assert before == oracle.practice_from_rollup(tdb)
    assert tdb.scalar("SELECT count(*) FROM milestone.pnl_practice") > len(before)  # a journal: one row per write
    tdb.execute("SELECT milestone.compact_pnl_practice()")
    assert oracle.practice_journal(tdb) == before
    assert tdb.scalar("SELECT count(*) FROM milestone.pnl_practice") == len(before)
    # every 500th write statement compacts by itself (a write is several statements on pnl_monthly)
    for amount in ("1.00", "2.00", "3.00", "4.00"):
        builders.document(tdb, "invoices", pid, amount)
    grown = tdb.scalar("SELECT count(*) FROM milestone.pnl_practice")
    tdb.execute("SELECT setval('milestone.pnl_practice_writes', 999)")
    builders.document(tdb, "invoices", pid, "5.00")
    assert tdb.scalar("SELECT count(*) FROM milestone.pnl_practice") < grown
    _assert_rollup_exact(tdb)

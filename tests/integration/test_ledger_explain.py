"""Reads of whole months come from pnl_monthly and never scan the document or line tables; a partial
edge month reads only its lines through the (project_id, doc_date) index. Checked on the plans at
a scale where the planner does scan the lines for the same question asked of the lines."""

from datetime import date

import pytest
import sqlalchemy as sa

from milestone import seed

ANCHOR = date(2026, 11, 1)
LEDGER_TABLES = ("invoices", "bills", "invoice_lines", "bill_lines")

ROLLUP_BY_PROJECT = """
    SELECT m.project_id, sum(m.revenue) AS revenue, sum(m.costs) AS costs,
           sum(m.estimate_revenue) AS estimate_revenue, sum(m.estimate_costs) AS estimate_costs,
           sum(m.outstanding) AS outstanding
    FROM milestone.pnl_monthly m JOIN milestone.projects p ON p.id = m.project_id
    WHERE p.client_name = :client AND m.month >= :first AND m.month < :after
    GROUP BY m.project_id"""

MONTHLY_SERIES = """
    SELECT m.month, sum(m.revenue) AS revenue, sum(m.costs) AS costs
    FROM milestone.pnl_monthly m
    WHERE m.month >= :first AND m.month < :after
    GROUP BY m.month ORDER BY m.month"""

EDGE_MONTH_FROM_LINES = """
    SELECT l.project_id, sum(CASE WHEN i.status IN ('Authorised', 'Paid')
                                  THEN CASE WHEN i.doc_type = 'credit_note' THEN -l.line_amount ELSE l.line_amount END
                                  ELSE 0 END) AS revenue
    FROM milestone.projects p
    JOIN milestone.invoice_lines l ON l.project_id = p.id
    JOIN milestone.invoices i ON i.id = l.invoice_id
    WHERE p.client_name = :client AND l.doc_date >= :start AND l.doc_date < :after
    GROUP BY l.project_id"""

SAME_QUESTION_FROM_LINES = """
    SELECT l.project_id, sum(l.line_amount) AS revenue
    FROM milestone.invoice_lines l JOIN milestone.invoices i ON i.id = l.invoice_id
    WHERE i.status IN ('Authorised', 'Paid') AND l.doc_date >= :first AND l.doc_date < :after
    GROUP BY l.project_id"""


@pytest.fixture(scope="module")
def seeded(database):
    seed.ensure_demo_users(database.owner)
    seed.load(database.owner, 0.05, 3, anchor=ANCHOR, progress=False)
    with database.owner.connect() as conn:
        conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("VACUUM ANALYZE")
    return database


def _plan(tdb, sql: str, **params) -> str:
    with tdb.owner.connect() as conn:
        rows = conn.execute(sa.text("EXPLAIN " + sql), params).all()
    return "\n".join(r[0] for r in rows)


def _seq_scans(plan: str) -> set[str]:
    return {t for t in LEDGER_TABLES if f"Seq Scan on {t} " in plan or f"Seq Scan on milestone.{t} " in plan}


def test_the_planner_would_scan_the_lines_for_a_year_asked_of_the_lines(seeded):
    assert seeded.scalar("SELECT count(*) FROM milestone.invoice_lines") > 10_000
    plan = _plan(seeded, SAME_QUESTION_FROM_LINES, first=date(2025, 11, 1), after=ANCHOR)
    # a year of every project's lines: a seq scan, or (since sql/014 widened the lines) the whole
    # year's range of the covering (project_id, doc_date) index; either way the lines are read
    assert "invoice_lines" in _seq_scans(plan) or " on invoice_lines " in plan, plan


@pytest.mark.parametrize("first", [date(2025, 11, 1), date(2023, 11, 1), date(2026, 10, 1)])
def test_month_aligned_reads_touch_only_the_rollup(seeded, first):
    client = seeded.scalar("SELECT client_name FROM milestone.projects ORDER BY client_name LIMIT 1")
    for sql, params in ((ROLLUP_BY_PROJECT, {"client": client}), (MONTHLY_SERIES, {})):
        plan = _plan(seeded, sql, first=first, after=ANCHOR, **params)
        assert not _seq_scans(plan), plan
        assert not any(f" on {t} " in plan for t in LEDGER_TABLES), plan


def test_a_partial_edge_month_reads_its_lines_through_the_index(seeded):
    client = seeded.scalar("SELECT client_name FROM milestone.projects ORDER BY client_name LIMIT 1")
    plan = _plan(seeded, EDGE_MONTH_FROM_LINES, client=client, start=date(2026, 3, 17), after=date(2026, 4, 1))
    assert not _seq_scans(plan), plan
    assert "invoice_lines_project_date_idx" in plan, plan


def test_rollup_and_lines_agree_on_a_month(seeded):
    client = seeded.scalar("""SELECT p.client_name FROM milestone.projects p JOIN milestone.pnl_monthly m
                              ON m.project_id = p.id GROUP BY 1 ORDER BY count(*) DESC LIMIT 1""")
    rollup = {
        r["project_id"]: r["revenue"]
        for r in seeded.rows(ROLLUP_BY_PROJECT, client=client, first=date(2026, 3, 1), after=date(2026, 4, 1))
        if r["revenue"]
    }
    lines = {
        r["project_id"]: r["revenue"]
        for r in seeded.rows(EDGE_MONTH_FROM_LINES, client=client, start=date(2026, 3, 1), after=date(2026, 4, 1))
        if r["revenue"]
    }
    assert rollup == lines


def _store_plans(read) -> list[str]:
    """EXPLAIN of every statement the store runs for `read()` (as the app runs them)."""
    from milestone import db

    seen: list[tuple[str, object]] = []

    def grab(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith(("SELECT", "WITH")):
            seen.append((statement, parameters))

    engine = db.engine()
    sa.event.listen(engine, "before_cursor_execute", grab)
    try:
        read()
    finally:
        sa.event.remove(engine, "before_cursor_execute", grab)
    plans = []
    raw = engine.raw_connection()
    try:
        with raw.cursor() as cur:
            for statement, parameters in seen:
                cur.execute("EXPLAIN " + statement, parameters)
                plans.append("\n".join(r[0] for r in cur.fetchall()))
    finally:
        raw.close()
    return plans


@pytest.mark.parametrize(
    "preset", ["All time", "This month", "Last month", "This quarter", "This financial year", "Last 12 months"]
)
def test_the_dashboards_reads_for_every_preset_scan_no_line_or_document_table(seeded, preset):
    from milestone import metrics
    from milestone.services import pnl
    from milestone.validation import Filters

    date_from, date_to = metrics.preset_range(preset, ANCHOR)
    client = seeded.scalar("SELECT client_name FROM milestone.projects ORDER BY client_name LIMIT 1")
    for f in (
        Filters(date_from=date_from, date_to=date_to),
        Filters(date_from=date_from, date_to=date_to, clients=(client,)),
    ):
        plans = _store_plans(
            lambda f=f: (
                pnl.project_table(f),
                pnl.monthly_series(f),
                pnl.phase_breakdown(f),
                pnl.unallocated(f),
                pnl.totals(f),
            )
        )
        assert len(plans) >= 4
        for plan in plans:
            assert not _seq_scans(plan), plan
            assert not any(f" on {t} " in plan for t in ("invoice_lines", "bill_lines")), plan
        # a client's receivables: its lines through their index, never a scan
        for plan in _store_plans(lambda f=f: pnl.receivables_ageing(f, ANCHOR)):
            assert not _seq_scans(plan), plan
    # the practice-wide reads (no project filter) beside the project table read the practice
    # rollups alone: their cost follows phases and months, not projects or documents
    f = Filters(date_from=date_from, date_to=date_to)
    for plan in _store_plans(
        lambda: (pnl.monthly_series(f), pnl.phase_breakdown(f), pnl.unallocated(f), pnl.receivables_ageing(f, ANCHOR))
    ):
        assert "pnl_monthly" not in plan and not any(f" on {t} " in plan for t in LEDGER_TABLES), plan
        assert "pnl_practice" in plan or "receivables_practice" in plan, plan


def test_a_mid_month_range_reads_its_edge_lines_through_the_index(seeded):
    from milestone.services import pnl
    from milestone.validation import Filters

    client = seeded.scalar("SELECT client_name FROM milestone.projects ORDER BY client_name LIMIT 1")
    f = Filters(date_from=date(2025, 11, 17), date_to=date(2026, 10, 10), clients=(client,))
    for plan in _store_plans(lambda: (pnl.project_table(f), pnl.monthly_series(f))):
        assert not _seq_scans(plan), plan
        assert "invoice_lines_project_date_idx" in plan and "pnl_monthly" in plan, plan

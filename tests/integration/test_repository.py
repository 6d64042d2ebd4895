"""P&L reads (store/services) against an independent SQL oracle, on generated data and on edge cases."""

from datetime import date
from decimal import Decimal

import pytest

from milestone import metrics, seed
from milestone.services import estimates, pnl, projects
from milestone.validation import UNASSIGNED, Filters
from tests import builders, oracle

ANCHOR = date(2026, 11, 1)
SUM_COLUMNS = ("revenue", "costs", "estimate_revenue", "estimate_costs", "outstanding")


@pytest.fixture(scope="module")
def seeded(database):
    seed.ensure_demo_users(database.owner)
    seed.load(database.owner, 0.02, seed=3, anchor=ANCHOR, progress=False)
    return database


def _by_project(frame):
    return {r["id"]: {c: Decimal(r[c]) for c in SUM_COLUMNS} for _, r in frame.iterrows()}


def test_all_time_project_table_equals_the_oracle(seeded):
    assert _by_project(pnl.project_table(Filters())) == oracle.project_sums(seeded)


@pytest.mark.parametrize(
    "date_from,date_to", [(date(2025, 4, 1), date(2026, 3, 31)), (date(2026, 10, 1), None), (None, date(2024, 6, 30))]
)
def test_a_date_filter_selects_documents_by_their_own_date(seeded, date_from, date_to):
    got = _by_project(pnl.project_table(Filters(date_from=date_from, date_to=date_to)))
    assert got == oracle.project_sums(seeded, date_from, date_to)


def test_client_and_status_filters_select_projects(seeded):
    client = seeded.scalar("SELECT client_name FROM milestone.projects ORDER BY client_name LIMIT 1")
    f = Filters(clients=(client,), statuses=("In Progress", "Completed"))
    got = _by_project(pnl.project_table(f))
    want = oracle.project_sums(
        seeded,
        where=f"pr.client_name = '{client.replace(chr(39), chr(39) * 2)}'"
        " AND pr.status IN ('In Progress', 'Completed')",
    )
    assert got == want and got


def test_a_phase_filter_selects_documents_by_phase(seeded):
    phase = seeded.scalar("SELECT id::text FROM milestone.build_phases WHERE name = 'Frame'")
    got = _by_project(pnl.project_table(Filters(phases=(phase, UNASSIGNED))))
    want = oracle.project_sums(seeded, phase_sql=f"(build_phase_id = '{phase}' OR build_phase_id IS NULL)")
    assert got == want


def test_kpis_equal_the_oracle_totals(seeded):
    f = Filters(date_from=date(2025, 4, 1), date_to=date(2026, 3, 31))
    totals = metrics.totals_of(pnl.project_table(f))
    want = oracle.project_sums(seeded, f.date_from, f.date_to)
    rev = sum(p["revenue"] for p in want.values())
    cost = sum(p["costs"] for p in want.values())
    kpis = totals.kpis()
    assert kpis["Revenue"] == rev and kpis["Costs"] == cost and kpis["Profit"] == rev - cost
    assert kpis["Margin"] == (100 * (rev - cost) / rev).quantize(Decimal("0.1"))
    assert kpis["Outstanding"] == sum(p["outstanding"] for p in want.values())


def test_monthly_series_adds_up_to_the_totals(seeded):
    """Unfiltered, the monthly series is the practice's: every project plus the overheads."""
    monthly = pnl.monthly_series(Filters())
    want = oracle.project_sums(seeded)
    totals = oracle.ledger_totals(seeded)
    assert totals["costs_unallocated"] != 0  # the seed has overhead bills
    assert sum(monthly["revenue"]) == sum(p["revenue"] for p in want.values()) + totals["revenue_unallocated"]
    assert sum(monthly["costs"]) == sum(p["costs"] for p in want.values()) + totals["costs_unallocated"]
    assert sum(monthly["costs"]) == totals["costs_lines"] == totals["costs_subtotals"]
    assert sum(monthly["estimate_costs"]) == sum(p["estimate_costs"] for p in want.values())
    assert all(m.day == 1 for m in monthly["month"])
    # with a project-level filter the overheads are out of it
    clients = tuple(sorted({r["c"] for r in seeded.rows("SELECT client_name AS c FROM milestone.projects")}))
    filtered = pnl.monthly_series(Filters(clients=clients))
    assert sum(filtered["costs"]) == sum(p["costs"] for p in want.values())


def test_monthly_series_puts_documents_in_their_month(seeded):
    rows = seeded.rows("""SELECT sum(CASE WHEN doc_type = 'credit_note' THEN -subtotal ELSE subtotal END) AS r
                          FROM milestone.invoices WHERE status IN ('Authorised', 'Paid')
                          AND issue_date >= '2025-07-01' AND issue_date < '2025-08-01'""")
    monthly = pnl.monthly_series(Filters()).set_index("month")
    assert monthly.loc[date(2025, 7, 1), "revenue"] == rows[0]["r"]


def test_phase_breakdown_matches_with_and_without_a_date_filter(seeded):
    by_phase = pnl.phase_breakdown(Filters())
    raw = oracle.pnl_rows(seeded)  # projects and overheads: the unfiltered breakdown is the practice's
    fields = ("revenue", "costs", "estimate_revenue", "estimate_costs")
    for _, r in by_phase.iterrows():
        phase_id = r["phase_id"] if isinstance(r["phase_id"], str) else None  # pandas 3: missing text is NaN
        want = [sum(v[f] for (p, ph, m), v in raw.items() if ph == phase_id) for f in fields]
        assert [r[f] for f in fields] == want
    projects_only = pnl.phase_breakdown(Filters(statuses=("Planning", "In Progress", "Completed", "On Hold")))
    phases = oracle.phase_sums(seeded)
    for _, r in projects_only.iterrows():
        phase_id = r["phase_id"] if isinstance(r["phase_id"], str) else None
        assert [r[f] for f in fields] == [
            sum(v[i] for (p, ph), v in phases.items() if ph == phase_id) for i in range(4)
        ]
    dated = pnl.phase_breakdown(Filters(date_from=date(2000, 1, 1)))
    assert sum(dated["revenue"]) == sum(by_phase["revenue"])
    assert "Unassigned" in set(by_phase["phase"])


def test_receivables_ageing_buckets_the_outstanding(seeded):
    ageing = pnl.receivables_ageing(Filters(), today=ANCHOR).set_index("bucket")
    rows = seeded.rows("""SELECT (DATE '2026-11-01' - due_date) AS d,
                                 CASE WHEN doc_type = 'credit_note' THEN -amount_due ELSE amount_due END AS a
                          FROM milestone.invoices WHERE status = 'Authorised'""")
    want: dict[str, Decimal] = {}
    count: dict[str, int] = {}
    for r in rows:
        b = metrics.ageing_bucket(r["d"])
        want[b] = want.get(b, Decimal(0)) + r["a"]
        count[b] = count.get(b, 0) + (r["a"] != 0)
    assert {b: ageing.loc[b, "amount"] for b in ageing.index} == want
    assert {b: ageing.loc[b, "invoices"] for b in ageing.index} == count


def test_a_filter_that_matches_nothing_gives_empty_results(seeded):
    f = Filters(clients=("No such client",))
    assert pnl.project_table(f).empty
    assert pnl.monthly_series(f).empty
    assert metrics.totals_of(pnl.project_table(f)).margin is None


def test_edge_cases_no_revenue_voided_and_negative_profit(fresh_database):
    tdb = fresh_database
    none = builders.project(tdb, "No revenue")
    builders.document(tdb, "bills", none, "300.00")
    voided = builders.project(tdb, "Only voided")
    builders.document(tdb, "invoices", voided, "900.00", "Voided")
    loss = builders.project(tdb, "Loss maker", budget_revenue=Decimal("1000"), budget_cost=Decimal("500"))
    builders.document(tdb, "invoices", loss, "400.00")
    builders.document(tdb, "bills", loss, "650.00")
    table = metrics.with_pnl(pnl.project_table(Filters())).set_index("name")
    assert table.loc["No revenue", "margin"] is None and table.loc["No revenue", "profit"] == Decimal("-300.00")
    assert table.loc["Only voided", "revenue"] == 0 and table.loc["Only voided", "margin"] is None
    assert table.loc["Loss maker", "profit"] == Decimal("-250.00")
    assert table.loc["Loss maker", "margin"] == Decimal("-62.5")
    assert table.loc["Loss maker", "revenue_variance"] == Decimal("-600.00")
    assert table.loc["Loss maker", "cost_variance"] == Decimal("150.00")


def test_list_estimates_shows_project_and_client(seeded):
    est = estimates.list_estimates(Filters())
    assert len(est) == seeded.scalar("SELECT count(*) FROM milestone.estimates")
    assert {"project", "client", "kind", "amount", "date", "version"} <= set(est.columns)
    assert set(estimates.list_estimates(Filters(), kind="cost")["kind"]) == {"cost"}


def test_project_header_documents_and_audit(seeded):
    pid = seeded.scalar("SELECT project_id::text FROM milestone.project_metrics ORDER BY invoice_count DESC LIMIT 1")
    header = projects.project_header(pid)
    assert header and header.id == pid
    docs, total = projects.project_documents(pid, "invoices", limit=3)
    assert len(docs) == min(3, total) and total == seeded.scalar(
        "SELECT count(DISTINCT invoice_id) FROM milestone.invoice_lines WHERE project_id = :p", p=pid
    )
    seeded.execute("UPDATE milestone.projects SET status = 'On Hold' WHERE id = :p", user="fran", p=pid)
    audit = projects.project_audit(pid)
    assert list(audit["user"][:1]) == ["fran"] and list(audit["operation"][:1]) == ["UPDATE"]
    assert projects.project_header("00000000-0000-4000-8000-00000000dead") is None


def test_sync_status_reports_the_latest_completed_run(seeded):
    status = pnl.sync_status()
    assert status.last_completed_at == seeded.scalar(
        "SELECT max(finished_at) FROM milestone.sync_runs WHERE status = 'COMPLETED'"
    )


def test_require_role_refuses_viewers_and_disabled_users():
    from milestone.errors import PermissionDenied
    from milestone.services.access import require_role
    from milestone.store.users import User

    viewer = User("1", "val", "Val", None, "viewer", False, False)
    finance = User("2", "fran", "Fran", None, "finance", False, False)
    disabled = User("3", "old", "Old", None, "admin", True, False)
    require_role(finance)
    for u in (viewer, disabled, None):
        with pytest.raises(PermissionDenied, match="Not allowed"):
            require_role(u)

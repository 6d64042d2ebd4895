"""The dashboard's and projects page's reads (store/services) against an independent recount from
the lines (tests/oracle.py), to the penny: per project, per phase and per month, for all time,
every preset and custom ranges with mid-month ends, with phase and client filters. Generated data
with split documents, overheads, credit notes, voided and draft documents."""

from collections import defaultdict
from datetime import date
from decimal import Decimal

import pytest

from milestone import metrics, seed
from milestone.services import pnl, projects
from milestone.store.pnl import is_month_aligned, split_period
from milestone.validation import UNASSIGNED, Filters
from tests import builders, oracle

ANCHOR = date(2026, 11, 1)
TODAY = date(2026, 11, 14)  # the presets are computed from this day
ZERO = Decimal("0.00")
FIELDS = oracle.FIELDS
PERIODS = {preset: metrics.preset_range(preset, TODAY) for preset in metrics.PRESETS if preset != "Custom"} | {
    "custom, both ends mid-month": (date(2025, 3, 17), date(2026, 2, 10)),
    "custom, inside one month": (date(2026, 3, 5), date(2026, 3, 20)),
    "custom, from mid-month on": (date(2025, 6, 15), None),
    "custom, up to mid-month": (None, date(2024, 9, 9)),
    "custom, aligned start, mid-month end": (date(2025, 1, 1), date(2025, 8, 13)),
}


@pytest.fixture(scope="module")
def ledger(database):
    seed.ensure_demo_users(database.owner)
    seed.load(database.owner, 0.02, seed=5, anchor=ANCHOR, progress=False)
    a, b = database.rows("SELECT id::text AS id FROM milestone.projects ORDER BY name LIMIT 2")
    frame = database.scalar("SELECT id::text FROM milestone.build_phases WHERE name = 'Frame'")
    # overheads and splits on invoices too, mid-month, with something outstanding
    builders.document(
        database,
        "invoices",
        None,
        "1000.00",
        "Authorised",
        on=date(2026, 2, 10),
        amount_due="333.33",
        lines=[("700.01", a["id"], frame), ("199.99", b["id"], None), ("100.00", None, None)],
    )
    builders.document(
        database,
        "invoices",
        None,
        "250.00",
        "Authorised",
        doc_type="credit_note",
        on=date(2025, 3, 17),
        amount_due="100.00",
        lines=[("150.00", None, frame), ("100.00", a["id"], None)],
    )
    builders.document(database, "bills", None, "80.00", "Draft", on=date(2026, 3, 12), lines=[("80.00", None, None)])
    builders.document(
        database, "invoices", None, "90.00", "Voided", on=date(2026, 3, 12), lines=[("90.00", None, None)]
    )
    return database


def _scope(tdb, f: Filters) -> tuple[set[str], bool]:
    """(projects the filters pick, whether overheads are in view)."""
    where, params = ["TRUE"], {}
    if f.clients:
        where.append("client_name = ANY(:c)")
        params["c"] = list(f.clients)
    ids = {
        r["id"]
        for r in tdb.rows(f"SELECT id::text AS id FROM milestone.projects WHERE {' AND '.join(where)}", **params)
    }
    return ids, not f.clients


def _want(tdb, f: Filters) -> dict[tuple, dict[str, Decimal]]:
    """The oracle's (project, phase, month) figures inside the filters."""
    ids, overheads = _scope(tdb, f)
    phases = None if not f.phases else {None if p == UNASSIGNED else p for p in f.phases}
    return {
        k: v
        for k, v in oracle.pnl_rows(tdb, f.date_from, f.date_to).items()
        if (k[0] in ids or (k[0] is None and overheads)) and (phases is None or k[1] in phases)
    }


def _group(rows: dict[tuple, dict[str, Decimal]], key) -> dict:
    out: dict = defaultdict(lambda: dict.fromkeys(FIELDS, ZERO))
    for k, v in rows.items():
        for field in FIELDS:
            out[key(k)][field] += v[field]
    return {k: v for k, v in out.items() if any(v.values())}


def _frame(df, key: str, fields=FIELDS) -> dict:
    return {
        r[key] if isinstance(r[key], (str, date)) else None: {c: Decimal(r[c]) for c in fields}
        for _, r in df.iterrows()
        if any(Decimal(r[c]) for c in fields)
    }


def _filters(ledger, variant: str, date_from, date_to) -> Filters:
    if variant == "phases":
        frame = ledger.scalar("SELECT id::text FROM milestone.build_phases WHERE name = 'Frame'")
        return Filters(date_from=date_from, date_to=date_to, phases=(frame, UNASSIGNED))
    if variant == "client":
        clients = tuple(
            r["c"] for r in ledger.rows("SELECT DISTINCT client_name AS c FROM milestone.projects ORDER BY 1 LIMIT 3")
        )
        return Filters(date_from=date_from, date_to=date_to, clients=clients)
    return Filters(date_from=date_from, date_to=date_to)


@pytest.mark.parametrize("variant", ["none", "phases", "client"])
@pytest.mark.parametrize("period", list(PERIODS))
def test_reads_equal_the_recount_from_the_lines(ledger, period, variant):
    f = _filters(ledger, variant, *PERIODS[period])
    want = _want(ledger, f)
    assert want or period == "This month", "the generated ledger has rows in every other period"
    ids, overheads = _scope(ledger, f)
    # per project (every project the filters pick, zeros included)
    table = pnl.project_table(f)
    assert set(table["id"]) == ids
    by_project = _group({k: v for k, v in want.items() if k[0] is not None}, lambda k: k[0])
    got = {r["id"]: {c: Decimal(r[c]) for c in FIELDS} for _, r in table.iterrows()}
    assert {k: v for k, v in got.items() if any(v.values())} == by_project
    # per month and per phase (the practice's, overheads included while in view)
    month_fields = ("revenue", "costs", "estimate_revenue", "estimate_costs")
    monthly = _frame(pnl.monthly_series(f), "month", month_fields)
    assert monthly == {
        m: {c: v[c] for c in month_fields}
        for m, v in _group(want, lambda k: k[2]).items()
        if any(v[c] for c in month_fields)
    }
    phases = _frame(pnl.phase_breakdown(f), "phase_id", month_fields)
    assert phases == {
        p: {c: v[c] for c in month_fields}
        for p, v in _group(want, lambda k: k[1]).items()
        if any(v[c] for c in month_fields)
    }
    # receivables: the lines' shares of what is due, bucketed by their invoice's due date
    ageing = pnl.receivables_ageing(f, today=TODAY)
    buckets: dict[str, Decimal] = defaultdict(lambda: ZERO)
    phase_ids = None if not f.phases else {None if p == UNASSIGNED else p for p in f.phases}
    for a in oracle.allocations(ledger).values():
        if (
            (a["project"] in ids or (a["project"] is None and overheads))
            and (phase_ids is None or a["phase"] in phase_ids)
            and (not f.date_from or a["date"] >= f.date_from)
            and (not f.date_to or a["date"] <= f.date_to)
        ):
            buckets[metrics.ageing_bucket((TODAY - a["due"]).days)] += a["outstanding"]
    assert {r["bucket"]: Decimal(r["amount"]) for _, r in ageing.iterrows()} == dict(buckets)
    assert sum(buckets.values(), ZERO) == sum((v["outstanding"] for v in want.values()), ZERO)
    # the overheads on their own, and projects + overheads = the practice
    overhead = pnl.unallocated(f)
    # the KPI cards' sums, read in SQL, equal the project table's plus the overheads in view
    assert pnl.totals(f) == pnl.practice_totals(table, overhead)
    if not overheads:
        assert overhead is None
        return
    rows = {k: v for k, v in want.items() if k[0] is None}
    assert (overhead.revenue, overhead.costs, overhead.outstanding) == tuple(
        sum((v[c] for v in rows.values()), ZERO) for c in ("revenue", "costs", "outstanding")
    )
    practice = pnl.practice_totals(table, overhead)
    assert practice.revenue == sum(v["revenue"] for v in monthly.values()) if monthly else practice.revenue == 0
    assert practice.costs == sum((v["costs"] for v in want.values()), ZERO)


@pytest.mark.parametrize("period", list(PERIODS))
def test_projects_plus_unallocated_equal_all_lines_and_the_counted_subtotals(ledger, period):
    date_from, date_to = PERIODS[period]
    f = Filters(date_from=date_from, date_to=date_to)
    practice = pnl.practice_totals(pnl.project_table(f), pnl.unallocated(f))
    inv = oracle._period("issue_date", date_from, date_to)
    bil = oracle._period("date", date_from, date_to)
    subtotals = ledger.rows(f"""
        SELECT (SELECT coalesce(sum(CASE WHEN doc_type = 'credit_note' THEN -subtotal ELSE subtotal END), 0)
                FROM milestone.invoices WHERE status IN ('Authorised', 'Paid') {inv}) AS revenue,
               (SELECT coalesce(sum(CASE WHEN doc_type = 'credit_note' THEN -subtotal ELSE subtotal END), 0)
                FROM milestone.bills WHERE status IN ('Authorised', 'Paid') {bil}) AS costs,
               (SELECT coalesce(sum(CASE WHEN doc_type = 'credit_note' THEN -amount_due ELSE amount_due END), 0)
                FROM milestone.invoices WHERE status = 'Authorised' {inv}) AS outstanding""")[0]
    lines = _group(oracle.pnl_rows(ledger, date_from, date_to), lambda k: "all").get("all", dict.fromkeys(FIELDS, ZERO))
    assert (
        (practice.revenue, practice.costs, practice.outstanding)
        == (lines["revenue"], lines["costs"], lines["outstanding"])
        == (subtotals["revenue"], subtotals["costs"], subtotals["outstanding"])
    )


def test_every_preset_is_month_aligned_and_custom_ends_make_edges():
    for preset in metrics.PRESETS:
        if preset != "Custom":
            date_from, date_to = metrics.preset_range(preset, TODAY)
            assert is_month_aligned(Filters(date_from=date_from, date_to=date_to)), preset
    p = split_period(date(2025, 3, 17), date(2026, 2, 10))
    assert (p.months_from, p.months_to, p.no_months) == (date(2025, 4, 1), date(2026, 2, 1), False)
    assert p.edges == ((date(2025, 3, 17), date(2025, 3, 31)), (date(2026, 2, 1), date(2026, 2, 10)))
    p = split_period(date(2026, 3, 5), date(2026, 3, 20))
    assert p.no_months and p.edges == ((date(2026, 3, 5), date(2026, 3, 20)),)
    p = split_period(date(2026, 3, 1), date(2026, 3, 20))
    assert p.no_months and p.edges == ((date(2026, 3, 1), date(2026, 3, 20)),)
    p = split_period(date(2026, 3, 5), date(2026, 3, 31))
    assert p.no_months and p.edges == ((date(2026, 3, 5), date(2026, 3, 31)),)


def test_a_split_document_shows_each_projects_share_on_its_page(ledger):
    a, b = (r["id"] for r in ledger.rows("SELECT id::text AS id FROM milestone.projects ORDER BY name LIMIT 2"))
    for pid, share in ((a, Decimal("700.01")), (b, Decimal("199.99"))):
        page = projects.project_page(pid, cap=5000)
        row = page.invoices.set_index("number").loc[
            ledger.scalar("SELECT number FROM milestone.invoices WHERE subtotal = 1000 AND issue_date = '2026-02-10'")
        ]
        assert (row["share"], row["subtotal"], bool(row["split"])) == (share, Decimal("1000.00"), True)
        assert page.invoice_count == ledger.scalar(
            "SELECT count(DISTINCT invoice_id) FROM milestone.invoice_lines WHERE project_id = :p", p=pid
        )
        assert page.bill_count == len(projects.project_documents(pid, "bills", limit=10_000)[0])
        whole = page.invoices[~page.invoices["split"].astype(bool)]
        assert all(whole["share"] == whole["subtotal"])
    docs, total = projects.project_documents(a, "invoices", limit=3)
    assert len(docs) == min(3, total)


# ----------------------------------------------------------------------------- generated filters


@pytest.fixture(scope="module")
def recount(ledger):
    """Every counted line and estimate once, signed, with its day: the oracle sums them in Python
    for each generated filter (independent of the rollup, the views and the store's SQL)."""
    items = ledger.rows("""
        SELECT l.project_id::text AS project, l.build_phase_id::text AS phase, i.issue_date AS day, 'revenue' AS field,
               CASE WHEN i.doc_type = 'credit_note' THEN -l.line_amount ELSE l.line_amount END AS amount
        FROM milestone.invoice_lines l JOIN milestone.invoices i ON i.id = l.invoice_id
        WHERE i.status IN ('Authorised', 'Paid')
        UNION ALL
        SELECT l.project_id::text, l.build_phase_id::text, b.date, 'costs',
               CASE WHEN b.doc_type = 'credit_note' THEN -l.line_amount ELSE l.line_amount END
        FROM milestone.bill_lines l JOIN milestone.bills b ON b.id = l.bill_id
        WHERE b.status IN ('Authorised', 'Paid')
        UNION ALL
        SELECT project_id::text, build_phase_id::text, date, 'estimate_' || CASE kind WHEN 'cost' THEN 'costs'
               ELSE 'revenue' END, amount FROM milestone.estimates""")
    shares = [
        {
            "project": a["project"],
            "phase": a["phase"],
            "day": a["date"],
            "field": "outstanding",
            "amount": a["outstanding"],
        }
        for a in oracle.allocations(ledger).values()
    ]
    clients = [r["c"] for r in ledger.rows("SELECT DISTINCT client_name AS c FROM milestone.projects ORDER BY 1")]
    phases = [r["id"] for r in ledger.rows("SELECT id::text AS id FROM milestone.build_phases ORDER BY name")]
    return {"items": list(items) + shares, "clients": clients, "phases": phases}


def test_generated_filters_read_the_same_figures_as_the_recount(ledger, recount):
    """1,000 generated filter sets (any two days from 2023 to 2027, month-aligned or not, phases and
    clients): the project table equals the recount from the lines, project by project, to the penny."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    projects_by_client = {}
    for r in ledger.rows("SELECT id::text AS id, client_name AS c FROM milestone.projects"):
        projects_by_client.setdefault(r["c"], set()).add(r["id"])
    days = st.dates(date(2023, 1, 1), date(2027, 12, 31))

    @settings(
        derandomize=True,
        max_examples=1000,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    )
    @given(
        a=st.one_of(st.none(), days, days.map(lambda d: d.replace(day=1))),
        b=st.one_of(st.none(), days),
        clients=st.lists(st.sampled_from(recount["clients"]), max_size=3, unique=True),
        phases=st.lists(st.sampled_from([*recount["phases"], UNASSIGNED]), max_size=3, unique=True),
    )
    def check(a, b, clients, phases):
        if a and b and b < a:
            a, b = b, a
        f = Filters(date_from=a, date_to=b, clients=tuple(clients), phases=tuple(phases))
        ids = set().union(*(projects_by_client[c] for c in clients)) if clients else None
        picked = {None if p == UNASSIGNED else p for p in phases}
        want: dict[str, dict[str, Decimal]] = defaultdict(lambda: dict.fromkeys(FIELDS, ZERO))
        for it in recount["items"]:
            if (
                it["project"] is not None
                and (ids is None or it["project"] in ids)
                and (not phases or it["phase"] in picked)
                and (a is None or it["day"] >= a)
                and (b is None or it["day"] <= b)
            ):
                want[it["project"]][it["field"]] += it["amount"]
        table = pnl.project_table(f)
        got = {r["id"]: {c: Decimal(r[c]) for c in FIELDS} for _, r in table.iterrows()}
        assert {k: v for k, v in got.items() if any(v.values())} == {k: v for k, v in want.items() if any(v.values())}

    check()

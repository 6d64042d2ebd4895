"""Independent P&L computations for tests, written from the definitions in docs/design.md
and docs/design-notes.md ("Ledger by line item"): plain SQL over lines, documents and estimates, and the outstanding
allocation in Python. Nothing here uses a function, view or query of sql/ or milestone/."""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from decimal import Decimal

ZERO = Decimal("0.00")
FIELDS = ("revenue", "costs", "estimate_revenue", "estimate_costs", "outstanding")


def _period(col: str, date_from: date | None, date_to: date | None) -> str:
    out = ""
    if date_from:
        out += f" AND {col} >= '{date_from.isoformat()}'"
    if date_to:
        out += f" AND {col} <= '{date_to.isoformat()}'"
    return out


def _split_pence(due: int, lines: list[tuple[int, int]]) -> dict[int, int]:
    """Largest remainder: {line_number: pence} for `due` pence over [(line_number, weight pence)]."""
    weights = [w for _, w in lines]
    total = sum(weights)
    if total <= 0:  # no usable weights: equal shares
        weights, total = [1] * len(lines), len(lines)
    exact = [due * w for w in weights]
    parts = [e // total for e in exact]  # floor, also for negative weights
    rest = [e - p * total for e, p in zip(exact, parts, strict=True)]
    order = sorted(range(len(lines)), key=lambda i: (-rest[i], lines[i][0]))
    for i in order[: due - sum(parts)]:
        parts[i] += 1
    return {lines[i][0]: parts[i] for i in range(len(lines))}


def allocations(tdb, where: str = "TRUE") -> dict[tuple[str, int], dict]:
    """{(invoice id, line number): {outstanding, project, phase, date}} for Authorised invoices with
    something due: amount_due split over the lines by line amount, negative for credit notes.
    `where` filters the lines (alias l) before nothing else: a test-written condition."""
    rows = tdb.rows("""
        SELECT i.id::text AS doc, i.doc_type, i.amount_due, i.issue_date, coalesce(i.due_date, i.issue_date) AS due,
               l.line_number, l.line_amount,
               l.project_id::text AS project, l.build_phase_id::text AS phase
        FROM milestone.invoices i JOIN milestone.invoice_lines l ON l.invoice_id = i.id
        WHERE i.status = 'Authorised' AND i.amount_due <> 0
        ORDER BY i.id, l.line_number""")
    docs: dict[str, list] = defaultdict(list)
    for r in rows:
        docs[r["doc"]].append(r)
    out = {}
    for doc, lines in docs.items():
        due = int(lines[0]["amount_due"] * 100)
        parts = _split_pence(due, [(r["line_number"], int(r["line_amount"] * 100)) for r in lines])
        sign = -1 if lines[0]["doc_type"] == "credit_note" else 1
        for r in lines:
            out[(doc, r["line_number"])] = {
                "outstanding": sign * Decimal(parts[r["line_number"]]) / 100,
                "project": r["project"],
                "phase": r["phase"],
                "date": r["issue_date"],
                "due": r["due"],
            }
    if where != "TRUE":
        keep = {
            (r["doc"], r["line_number"])
            for r in tdb.rows(
                f"SELECT l.invoice_id::text AS doc, l.line_number FROM milestone.invoice_lines l WHERE {where}"
            )
        }
        out = {k: v for k, v in out.items() if k in keep}
    return out


def pnl_rows(tdb, date_from: date | None = None, date_to: date | None = None) -> dict[tuple, dict[str, Decimal]]:
    """{(project, phase, first of month): figures} recounted from the lines, nonzero keys only;
    with dates, only documents (and estimates) dated in [date_from, date_to]."""
    inv = _period("i.issue_date", date_from, date_to)
    bil = _period("b.date", date_from, date_to)
    est = _period("date", date_from, date_to)
    out: dict[tuple, dict[str, Decimal]] = defaultdict(lambda: dict.fromkeys(FIELDS, ZERO))
    for r in tdb.rows(f"""
            SELECT l.project_id::text AS p, l.build_phase_id::text AS ph,
                   make_date(extract(year FROM i.issue_date)::int, extract(month FROM i.issue_date)::int, 1) AS m,
                   sum(CASE WHEN i.doc_type = 'credit_note' THEN -l.line_amount ELSE l.line_amount END) AS v,
                   'revenue' AS f
            FROM milestone.invoice_lines l JOIN milestone.invoices i ON i.id = l.invoice_id
            WHERE i.status IN ('Authorised', 'Paid') {inv} GROUP BY 1, 2, 3
            UNION ALL
            SELECT l.project_id::text, l.build_phase_id::text,
                   make_date(extract(year FROM b.date)::int, extract(month FROM b.date)::int, 1),
                   sum(CASE WHEN b.doc_type = 'credit_note' THEN -l.line_amount ELSE l.line_amount END), 'costs'
            FROM milestone.bill_lines l JOIN milestone.bills b ON b.id = l.bill_id
            WHERE b.status IN ('Authorised', 'Paid') {bil} GROUP BY 1, 2, 3
            UNION ALL
            SELECT project_id::text, build_phase_id::text,
                   make_date(extract(year FROM date)::int, extract(month FROM date)::int, 1), sum(amount),
                   CASE kind WHEN 'revenue' THEN 'estimate_revenue' ELSE 'estimate_costs' END
            FROM milestone.estimates WHERE TRUE {est} GROUP BY 1, 2, 3, 5"""):
        out[(r["p"], r["ph"], r["m"])][r["f"]] += Decimal(r["v"])
    for a in allocations(tdb).values():
        if (not date_from or a["date"] >= date_from) and (not date_to or a["date"] <= date_to):
            out[(a["project"], a["phase"], a["date"].replace(day=1))]["outstanding"] += a["outstanding"]
    return {k: v for k, v in out.items() if any(v.values())}


def stored_pnl(tdb) -> dict[tuple, dict[str, Decimal]]:
    rows = tdb.rows("""SELECT project_id::text AS p, build_phase_id::text AS ph, month AS m, revenue, costs,
                              estimate_revenue, estimate_costs, outstanding FROM milestone.pnl_monthly""")
    return {(r["p"], r["ph"], r["m"]): {f: Decimal(r[f]) for f in FIELDS} for r in rows}


def project_sums(
    tdb, date_from: date | None = None, date_to: date | None = None, where: str = "TRUE", phase_sql: str = "TRUE"
) -> dict[str, dict[str, Decimal]]:
    """{project_id: {revenue, costs, estimate_revenue, estimate_costs, outstanding}} from the lines.

    `where` filters projects (alias pr), `phase_sql` filters lines and estimates by a column named
    build_phase_id; both are written by the test itself."""
    inv = _period("i.issue_date", date_from, date_to)
    bil = _period("b.date", date_from, date_to)
    est = _period("date", date_from, date_to)
    rows = tdb.rows(f"""
        SELECT pr.id::text AS id,
          coalesce((SELECT sum(CASE WHEN i.doc_type = 'credit_note' THEN -l.line_amount ELSE l.line_amount END)
                    FROM milestone.invoice_lines l JOIN milestone.invoices i ON i.id = l.invoice_id
                    WHERE l.project_id = pr.id AND i.status IN ('Authorised', 'Paid') AND {phase_sql} {inv}),
                        0) AS revenue,
          coalesce((SELECT sum(CASE WHEN b.doc_type = 'credit_note' THEN -l.line_amount ELSE l.line_amount END)
                    FROM milestone.bill_lines l JOIN milestone.bills b ON b.id = l.bill_id
                    WHERE l.project_id = pr.id AND b.status IN ('Authorised', 'Paid') AND {phase_sql} {bil}),
                        0) AS costs,
          coalesce((SELECT sum(amount) FROM milestone.estimates WHERE project_id = pr.id AND kind = 'revenue'
                    AND {phase_sql} {est}), 0) AS estimate_revenue,
          coalesce((SELECT sum(amount) FROM milestone.estimates WHERE project_id = pr.id AND kind = 'cost'
                    AND {phase_sql} {est}), 0) AS estimate_costs
        FROM milestone.projects pr WHERE {where}""")
    out = {r["id"]: {k: Decimal(r[k]) for k in r if k != "id"} | {"outstanding": ZERO} for r in rows}
    for a in allocations(tdb, where=phase_sql.replace("build_phase_id", "l.build_phase_id")).values():
        if a["project"] in out and (not date_from or a["date"] >= date_from) and (not date_to or a["date"] <= date_to):
            out[a["project"]]["outstanding"] += a["outstanding"]
    return out


def metrics_table(tdb) -> dict[str, dict[str, Decimal]]:
    rows = tdb.rows("""SELECT project_id::text AS id, revenue, costs, estimate_revenue, estimate_costs, outstanding
                       FROM milestone.project_metrics""")
    return {r["id"]: {k: Decimal(r[k]) for k in r if k != "id"} for r in rows}


def stored_phase_sums(tdb) -> dict[tuple[str, str | None], tuple[Decimal, Decimal, Decimal, Decimal]]:
    """What project_phase_metrics holds, keyed and shaped as phase_sums returns it."""
    return {
        (r["p"], r["ph"]): (r["revenue"], r["costs"], r["estimate_revenue"], r["estimate_costs"])
        for r in tdb.rows("""SELECT project_id::text AS p, build_phase_id::text AS ph, revenue, costs,
                                 estimate_revenue, estimate_costs FROM milestone.project_phase_metrics""")
    }


def phase_sums(tdb) -> dict[tuple[str, str | None], tuple[Decimal, Decimal, Decimal, Decimal]]:
    """{(project, phase): (revenue, costs, estimate_revenue, estimate_costs)} from lines and
    estimates, projects only (overhead lines have none), nonzero entries only."""
    out: dict = {}
    for r in tdb.rows("""
            SELECT l.project_id::text AS p, l.build_phase_id::text AS ph, i.status, i.doc_type, l.line_amount
                AS amt, 'inv' AS t
            FROM milestone.invoice_lines l JOIN milestone.invoices i ON i.id = l.invoice_id WHERE l.project_id
                IS NOT NULL
            UNION ALL
            SELECT l.project_id::text, l.build_phase_id::text, b.status, b.doc_type, l.line_amount, 'bill'
            FROM milestone.bill_lines l JOIN milestone.bills b ON b.id = l.bill_id WHERE l.project_id IS NOT NULL
            UNION ALL SELECT project_id::text, build_phase_id::text, kind, NULL, amount, 'est' FROM
                milestone.estimates"""):
        rev, cost, er, ec = out.get((r["p"], r["ph"]), (ZERO,) * 4)
        amt = Decimal(r["amt"])
        if r["t"] == "est":
            er, ec = (er + amt, ec) if r["status"] == "revenue" else (er, ec + amt)
        elif r["status"] in ("Authorised", "Paid"):
            signed = -amt if r["doc_type"] == "credit_note" else amt
            rev, cost = (rev + signed, cost) if r["t"] == "inv" else (rev, cost + signed)
        out[(r["p"], r["ph"])] = (rev, cost, er, ec)
    return {k: v for k, v in out.items() if any(v)}


def ledger_totals(tdb) -> dict[str, Decimal]:
    """The practice's totals three ways: all counted lines, counted subtotals, projects + unallocated."""
    r = tdb.rows("""
        SELECT
          (SELECT coalesce(sum(CASE WHEN i.doc_type = 'credit_note' THEN -l.line_amount ELSE l.line_amount END), 0)
           FROM milestone.invoice_lines l JOIN milestone.invoices i ON i.id = l.invoice_id
           WHERE i.status IN ('Authorised', 'Paid')) AS revenue_lines,
          (SELECT coalesce(sum(CASE WHEN doc_type = 'credit_note' THEN -subtotal ELSE subtotal END), 0)
           FROM milestone.invoices WHERE status IN ('Authorised', 'Paid')) AS revenue_subtotals,
          (SELECT coalesce(sum(CASE WHEN b.doc_type = 'credit_note' THEN -l.line_amount ELSE l.line_amount END), 0)
           FROM milestone.bill_lines l JOIN milestone.bills b ON b.id = l.bill_id
           WHERE b.status IN ('Authorised', 'Paid')) AS costs_lines,
          (SELECT coalesce(sum(CASE WHEN doc_type = 'credit_note' THEN -subtotal ELSE subtotal END), 0)
           FROM milestone.bills WHERE status IN ('Authorised', 'Paid')) AS costs_subtotals,
          (SELECT coalesce(sum(revenue), 0) FROM milestone.project_metrics) AS revenue_projects,
          (SELECT coalesce(sum(costs), 0) FROM milestone.project_metrics) AS costs_projects,
          (SELECT coalesce(sum(revenue), 0) FROM milestone.pnl_monthly WHERE project_id IS NULL) AS revenue_unallocated,
          (SELECT coalesce(sum(costs), 0) FROM milestone.pnl_monthly WHERE project_id IS NULL) AS costs_unallocated""")[
        0
    ]
    return {k: Decimal(v) for k, v in r.items()}


def practice_sums(tdb, table: str, overhead: str) -> dict:
    """Per (phase, month, overhead) the five figures of `table` summed (the rows of a key of the
    pnl_practice journal added up; pnl_monthly summed over projects, with overhead given as
    `project_id IS NULL`), keys whose figures are all zero left out."""
    return {
        (r["ph"], r["month"], r["o"]): (r["r"], r["c"], r["er"], r["ec"], r["out"])
        for r in tdb.rows(f"""
            SELECT build_phase_id::text AS ph, month, {overhead} AS o, sum(revenue) AS r, sum(costs) AS c,
                   sum(estimate_revenue) AS er, sum(estimate_costs) AS ec, sum(outstanding) AS out
            FROM milestone.{table} GROUP BY 1, 2, 3
            HAVING (sum(revenue), sum(costs), sum(estimate_revenue), sum(estimate_costs), sum(outstanding))
                   <> (0, 0, 0, 0, 0)""")
    }


def practice_journal(tdb) -> dict:
    """pnl_practice, its journal rows added up per key."""
    return practice_sums(tdb, "pnl_practice", "overhead")


def practice_from_rollup(tdb) -> dict:
    """What pnl_practice must hold: pnl_monthly summed over projects."""
    return practice_sums(tdb, "pnl_monthly", "project_id IS NULL")

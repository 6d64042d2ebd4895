"""Independent P&L computations for tests: plain SQL written from docs/design.md, sharing no
code or SQL function with milestone/ (correlated subqueries instead of the app's CTEs)."""
from __future__ import annotations

from datetime import date
from decimal import Decimal


def _period(col: str, date_from: date | None, date_to: date | None) -> str:
    out = ""
    if date_from:
        out += f" AND {col} >= '{date_from.isoformat()}'"
    if date_to:
        out += f" AND {col} <= '{date_to.isoformat()}'"
    return out


def project_sums(tdb, date_from: date | None = None, date_to: date | None = None,
                 where: str = "TRUE", phase_sql: str = "TRUE") -> dict[str, dict[str, Decimal]]:
    """{project_id: {revenue, costs, estimate_revenue, estimate_costs, outstanding}}.

    `where` filters projects (alias pr), `phase_sql` filters documents by a column named
    build_phase_id; both are written by the test itself.
    """
    inv = _period("issue_date", date_from, date_to)
    bil = _period("date", date_from, date_to)
    est = _period("date", date_from, date_to)
    rows = tdb.rows(f"""
        SELECT pr.id::text AS id,
          coalesce((SELECT sum(CASE WHEN doc_type = 'credit_note' THEN -subtotal ELSE subtotal END)
                    FROM milestone.invoices WHERE project_id = pr.id AND status IN ('Authorised', 'Paid')
                    AND {phase_sql} {inv}), 0) AS revenue,
          coalesce((SELECT sum(CASE WHEN doc_type = 'credit_note' THEN -subtotal ELSE subtotal END)
                    FROM milestone.bills WHERE project_id = pr.id AND status IN ('Authorised', 'Paid')
                    AND {phase_sql} {bil}), 0) AS costs,
          coalesce((SELECT sum(amount) FROM milestone.estimates WHERE project_id = pr.id AND kind = 'revenue'
                    AND {phase_sql} {est}), 0) AS estimate_revenue,
          coalesce((SELECT sum(amount) FROM milestone.estimates WHERE project_id = pr.id AND kind = 'cost'
                    AND {phase_sql} {est}), 0) AS estimate_costs,
          coalesce((SELECT sum(CASE WHEN doc_type = 'credit_note' THEN -amount_due ELSE amount_due END)
                    FROM milestone.invoices WHERE project_id = pr.id AND status = 'Authorised'
                    AND {phase_sql} {inv}), 0) AS outstanding
        FROM milestone.projects pr WHERE {where}""")
    return {r["id"]: {k: Decimal(r[k]) for k in r if k != "id"} for r in rows}


def metrics_table(tdb) -> dict[str, dict[str, Decimal]]:
    rows = tdb.rows("""SELECT project_id::text AS id, revenue, costs, estimate_revenue, estimate_costs, outstanding
                       FROM milestone.project_metrics""")
    return {r["id"]: {k: Decimal(r[k]) for k in r if k != "id"} for r in rows}


def phase_sums(tdb) -> dict[tuple[str, str | None], tuple[Decimal, Decimal, Decimal, Decimal]]:
    """{(project, phase): (revenue, costs, estimate_revenue, estimate_costs)} from raw rows."""
    out: dict = {}
    for r in tdb.rows("""
            SELECT project_id::text AS p, build_phase_id::text AS ph, status, doc_type, subtotal, 'inv' AS t FROM milestone.invoices
            UNION ALL SELECT project_id::text, build_phase_id::text, status, doc_type, subtotal, 'bill' FROM milestone.bills
            UNION ALL SELECT project_id::text, build_phase_id::text, kind, NULL, amount, 'est' FROM milestone.estimates"""):
        rev, cost, er, ec = out.get((r["p"], r["ph"]), (Decimal(0),) * 4)
        amt = Decimal(r["subtotal"])
        if r["t"] == "est":
            er, ec = (er + amt, ec) if r["status"] == "revenue" else (er, ec + amt)
        elif r["status"] in ("Authorised", "Paid"):
            signed = -amt if r["doc_type"] == "credit_note" else amt
            rev, cost = (rev + signed, cost) if r["t"] == "inv" else (rev, cost + signed)
        out[(r["p"], r["ph"])] = (rev, cost, er, ec)
    return out

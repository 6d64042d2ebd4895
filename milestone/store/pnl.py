"""P&L reads: per-project sums, the monthly series, build phases, receivables ageing, the
unallocated (overhead) totals, the sidebar's options and the data's freshness.

Every figure comes from the lines (sql/010): whole months from the `pnl_monthly` rollup, the
partial edge months of a custom range from the lines themselves, through their
(project_id, doc_date) index. The P&L rules live once, in the SQL functions signed_counted /
signed_outstanding (sql/002) and the view invoice_line_outstanding (sql/010); docs/design.md,
"P&L definitions"."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

import pandas as pd
from sqlalchemy.engine import Connection

from milestone.store._sql import Params, frame, phase_where, project_level, project_where
from milestone.validation import Filters

_NO_ID = "'00000000-0000-0000-0000-000000000000'::uuid"  # how pnl_monthly's index codes a null key


def _month_end(d: date) -> date:
    return (d.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)


@dataclass(frozen=True)
class Period:
    """A period split into whole months (read from pnl_monthly) and partial edge months (read
    from the lines). months_from / months_to (exclusive) None = unbounded; no_months = the
    period has no whole month at all."""

    months_from: date | None
    months_to: date | None
    no_months: bool
    edges: tuple[tuple[date, date], ...]


def split_period(date_from: date | None, date_to: date | None) -> Period:
    """Whole months inside [date_from, date_to] and the partial months at its ends."""
    edges: list[tuple[date, date]] = []
    months_from = months_to = None
    if date_from is not None:
        if date_from.day == 1:
            months_from = date_from
        else:
            months_from = _month_end(date_from) + timedelta(days=1)
            edges.append((date_from, min(_month_end(date_from), date_to or date.max)))
    if date_to is not None:
        if date_to == _month_end(date_to):
            months_to = date_to + timedelta(days=1)
        else:
            months_to = date_to.replace(day=1)
            start = max(date_to.replace(day=1), date_from or date.min)
            if not edges or edges[0] != (start, date_to):  # both ends in one month: one edge
                edges.append((start, date_to))
    no_months = months_from is not None and months_to is not None and months_from >= months_to
    return Period(months_from, months_to, no_months, tuple(edges))


def is_month_aligned(f: Filters) -> bool:
    """True when the filters' period is made of whole months (every preset): pnl_monthly alone answers."""
    return not split_period(f.date_from, f.date_to).edges


def _ledger(
    f: Filters, *, projects: bool = True, overheads: bool | None = None, by_project: bool = False
) -> tuple[str, Params]:
    """CTEs ending in `src`: (project_id, build_phase_id, month, revenue, costs, estimate_revenue,
    estimate_costs, outstanding) for the filters, from the rollups for whole months and from the
    lines for partial edge months. `projects`: rows of the projects the filters pick (CTE `p`);
    `overheads`: rows of Unallocated lines (project null); by default when no project-level
    filter is set.

    Whole months come from pnl_practice (summed over projects: its cost follows phases and
    months only) when every project is picked and the caller does not group by project
    (`by_project`); otherwise from pnl_monthly, the rows of the picked projects. In
    pnl_practice's rows project_id is null: read `overheads` rows only through `projects=False`."""
    if overheads is None:
        overheads = not project_level(f)
    practice = not by_project and not project_level(f)
    pw, params = project_where(f)
    period = split_period(f.date_from, f.date_to)
    parts: list[str] = []
    ctes = [f"p AS (SELECT p.* FROM projects p WHERE {pw}{'' if projects else ' AND FALSE'})"]
    # whole months: the rollup
    if not period.no_months:
        mw, mp = phase_where(f, "m.build_phase_id")
        params |= mp
        if period.months_from:
            mw += " AND m.month >= :months_from"
            params["months_from"] = period.months_from
        if period.months_to:
            mw += " AND m.month < :months_to"
            params["months_to"] = period.months_to
        cols = (
            "m.project_id, m.build_phase_id, m.month, m.revenue, m.costs, m.estimate_revenue, m.estimate_costs,"
            " m.outstanding"
        )
        if practice:
            which = {(True, True): "", (True, False): " AND NOT m.overhead", (False, True): " AND m.overhead"}
            if projects or overheads:
                parts.append(
                    "SELECT NULL::uuid, m.build_phase_id, m.month, m.revenue, m.costs, m.estimate_revenue,"
                    f" m.estimate_costs, m.outstanding FROM pnl_practice m WHERE {mw}{which[projects, overheads]}"
                )
        else:
            if projects:
                parts.append(f"SELECT {cols} FROM pnl_monthly m JOIN p ON p.id = m.project_id WHERE {mw}")
            if overheads:
                parts.append(
                    f"SELECT {cols} FROM pnl_monthly m WHERE coalesce(m.project_id, {_NO_ID}) = {_NO_ID} AND {mw}"
                )
    # partial edge months: the lines of those days, with their documents' status
    for n, (start, end) in enumerate(period.edges):
        params |= {f"edge{n}_from": start, f"edge{n}_to": end}
        when = f"BETWEEN :edge{n}_from AND :edge{n}_to"
        lw, lp = phase_where(f, "l.build_phase_id")
        ew, ep = phase_where(f, "e.build_phase_id")
        params |= lp | ep
        scopes: list[tuple[str, bool]] = []
        if projects:
            scopes.append(("FROM p JOIN {t} l ON l.project_id = p.id AND l.doc_date " + when, True))
        if overheads:
            scopes.append(("FROM {t} l WHERE l.project_id IS NULL AND l.doc_date " + when, False))

        def lines(table: str, lw: str = lw, scopes: list[tuple[str, bool]] = scopes) -> str:
            return " UNION ALL ".join(
                f"SELECT l.* {src.format(t=table)} {'WHERE' if joined else 'AND'} {lw}" for src, joined in scopes
            )

        # a line's doc_date is its document's date (kept so by the foreign key), so the documents
        # are also narrowed to the edge days: the planner then reads them by date, never whole
        ctes.append(f"il{n} AS ({lines('invoice_lines')})")
        ctes.append(f"bl{n} AS ({lines('bill_lines')})")
        ctes.append(
            f"sh{n} AS (SELECT * FROM invoice_outstanding_shares(ARRAY(SELECT DISTINCT invoice_id FROM il{n})))"
        )
        parts.append(f"""
            SELECT l.project_id, l.build_phase_id, date_trunc('month', l.doc_date)::date,
                   signed_counted(i.status, i.doc_type, l.line_amount), 0, 0, 0, coalesce(s.outstanding, 0)
            FROM il{n} l JOIN invoices i ON i.id = l.invoice_id AND i.issue_date {when}
            LEFT JOIN sh{n} s ON s.invoice_id = l.invoice_id AND s.line_number = l.line_number""")
        parts.append(f"""
            SELECT l.project_id, l.build_phase_id, date_trunc('month', l.doc_date)::date,
                   0, signed_counted(b.status, b.doc_type, l.line_amount), 0, 0, 0
            FROM bl{n} l JOIN bills b ON b.id = l.bill_id AND b.date {when}""")
        if projects:  # estimates always have a project
            parts.append(f"""
                SELECT e.project_id, e.build_phase_id, date_trunc('month', e.date)::date, 0, 0,
                       CASE WHEN e.kind = 'revenue' THEN e.amount ELSE 0 END,
                       CASE WHEN e.kind = 'cost' THEN e.amount ELSE 0 END, 0
                FROM p JOIN estimates e ON e.project_id = p.id AND e.date {when} WHERE {ew}""")
    if not parts:  # nothing can match (no projects asked for, no overheads)
        parts.append("SELECT NULL::uuid, NULL::uuid, NULL::date, 0, 0, 0, 0, 0 WHERE FALSE")
    ctes.append(
        "src (project_id, build_phase_id, month, revenue, costs, estimate_revenue, estimate_costs, "
        "outstanding) AS (" + "\nUNION ALL\n".join(parts) + ")"
    )
    return ",\n".join(ctes), params


_SUMS = """sum(revenue) AS revenue, sum(costs) AS costs, sum(estimate_revenue) AS estimate_revenue,
           sum(estimate_costs) AS estimate_costs, sum(outstanding) AS outstanding"""


_PROJECT_COLUMNS = """p.id::text AS id, p.name, p.client_name, p.status, p.start_date, p.end_date,
    p.user_id::text AS owner_id, u.display_name AS owner, p.budget_revenue, p.budget_cost, p.version"""


def project_table(conn: Connection, f: Filters) -> pd.DataFrame:
    """One row per project matching the filters, with its sums for the filtered period/phases
    (its lines' share of split documents; overheads are in no project)."""
    if not f.by_document:
        # All time, all phases: the maintained per-project metrics (sums of pnl_monthly) answer directly.
        pw, params = project_where(f)
        return frame(
            conn,
            "pnl.project_table",
            f"""
            SELECT {_PROJECT_COLUMNS}, m.revenue, m.costs, m.estimate_revenue, m.estimate_costs, m.outstanding
            FROM projects p JOIN project_metrics m ON m.project_id = p.id
            LEFT JOIN app_users u ON u.id = p.user_id
            WHERE {pw} ORDER BY p.client_name, p.name""",
            params,
        )
    ctes, params = _ledger(f, overheads=False, by_project=True)
    return frame(
        conn,
        "pnl.project_table",
        f"""
        WITH {ctes},
        sums AS (SELECT project_id, {_SUMS} FROM src GROUP BY project_id)
        SELECT {_PROJECT_COLUMNS}, coalesce(s.revenue, 0) AS revenue, coalesce(s.costs, 0) AS costs,
               coalesce(s.estimate_revenue, 0) AS estimate_revenue,
               coalesce(s.estimate_costs, 0) AS estimate_costs, coalesce(s.outstanding, 0) AS outstanding
        FROM p LEFT JOIN sums s ON s.project_id = p.id LEFT JOIN app_users u ON u.id = p.user_id
        ORDER BY p.client_name, p.name""",
        params,
    )


def totals(conn: Connection, f: Filters) -> dict[str, Decimal]:
    """The KPI cards' sums in one row: every project the filters pick, plus the overheads while
    no project-level filter is set (the practice's P&L), and the picked projects' budgets. With
    no project-level filter and whole months this reads pnl_practice alone (and the budgets)."""
    ctes, params = _ledger(f)
    row = frame(
        conn,
        "pnl.totals",
        f"""
        WITH {ctes}
        SELECT coalesce(sum(revenue), 0) AS revenue, coalesce(sum(costs), 0) AS costs,
               coalesce(sum(estimate_revenue), 0) AS estimate_revenue,
               coalesce(sum(estimate_costs), 0) AS estimate_costs, coalesce(sum(outstanding), 0) AS outstanding,
               (SELECT coalesce(sum(budget_revenue), 0) FROM p) AS budget_revenue,
               (SELECT coalesce(sum(budget_cost), 0) FROM p) AS budget_cost
        FROM src""",
        params,
    ).iloc[0]
    return {k: Decimal(row[k]) for k in row.index}


def unallocated(conn: Connection, f: Filters) -> dict[str, Decimal] | None:
    """Revenue, costs and outstanding of the lines with no project (overheads) for the filters'
    dates and phases; None when a project-level filter leaves overheads out of the view."""
    if project_level(f):
        return None
    ctes, params = _ledger(f, projects=False, overheads=True)
    row = frame(
        conn,
        "pnl.unallocated",
        f"""
        WITH {ctes}
        SELECT coalesce(sum(revenue), 0) AS revenue, coalesce(sum(costs), 0) AS costs,
               coalesce(sum(outstanding), 0) AS outstanding FROM src""",
        params,
    ).iloc[0]
    return {k: row[k] for k in ("revenue", "costs", "outstanding")}


def monthly_series(conn: Connection, f: Filters) -> pd.DataFrame:
    """Revenue, costs and estimates per calendar month for the filters (with the overheads when
    no project-level filter is set: the practice's months)."""
    ctes, params = _ledger(f)
    return frame(
        conn,
        "pnl.monthly_series",
        f"""
        WITH {ctes}
        SELECT month, sum(revenue) AS revenue, sum(costs) AS costs,
               sum(estimate_revenue) AS estimate_revenue, sum(estimate_costs) AS estimate_costs
        FROM src GROUP BY 1 ORDER BY 1""",
        params,
    )


def phase_breakdown(conn: Connection, f: Filters) -> pd.DataFrame:
    """Revenue, costs and estimates per build phase ('Unassigned' for lines with none), with the
    overheads when no project-level filter is set."""
    if not f.by_document and project_level(f):
        # all time, some projects: their maintained per-phase sums
        pw, params = project_where(f)
        with_clause = ""
        source = f"""SELECT m.build_phase_id, sum(m.revenue) AS revenue, sum(m.costs) AS costs,
                            sum(m.estimate_revenue) AS estimate_revenue, sum(m.estimate_costs) AS estimate_costs
                     FROM project_phase_metrics m JOIN projects p ON p.id = m.project_id
                     WHERE {pw} GROUP BY m.build_phase_id"""
    else:
        ctes, params = _ledger(f)
        with_clause = f"WITH {ctes}"
        source = """SELECT build_phase_id, sum(revenue) AS revenue, sum(costs) AS costs,
                           sum(estimate_revenue) AS estimate_revenue, sum(estimate_costs) AS estimate_costs
                    FROM src GROUP BY build_phase_id"""
    return frame(
        conn,
        "pnl.phase_breakdown",
        f"""
        {with_clause}
        SELECT coalesce(bp.name, 'Unassigned') AS phase, s.build_phase_id::text AS phase_id,
               coalesce(bp.colour, '#BBBBBB') AS colour, s.revenue, s.costs, s.estimate_revenue, s.estimate_costs
        FROM ({source}) s LEFT JOIN build_phases bp ON bp.id = s.build_phase_id
        WHERE (s.revenue, s.costs, s.estimate_revenue, s.estimate_costs) <> (0, 0, 0, 0)
        ORDER BY bp.display_order NULLS LAST, phase""",
        params,
    )


_BUCKETS = """CASE WHEN d <= 0 THEN 'Current' WHEN d <= 30 THEN '1-30' WHEN d <= 60 THEN '31-60'
                   WHEN d <= 90 THEN '61-90' ELSE '90+' END"""


def receivables_ageing(conn: Connection, f: Filters, today: date) -> pd.DataFrame:
    """Outstanding (Authorised) receivables by days past due as of `today`: each invoice line's
    share of its invoice's amount due (invoice_line_outstanding), for the lines the filters pick
    (their project, phase and document date; overheads when no project-level filter is set).

    With no project-level or phase filter every line of an invoice is picked, so its shares add
    up to its amount due: for whole months the practice's journal of amounts due answers
    (receivables_practice, sql/013); for other dates the invoices are read alone, through their
    partial index of unpaid invoices. With a project-level or phase filter the picked lines are
    found through the lines' (project_id, doc_date) index and only their invoices' shares are
    computed."""
    params: Params = {"today": today}
    dates = ""
    if f.date_from:
        dates += " AND {col} >= :date_from"
        params["date_from"] = f.date_from
    if f.date_to:
        dates += " AND {col} <= :date_to"
        params["date_to"] = f.date_to
    if not project_level(f) and not f.phases and is_month_aligned(f):
        # every invoice, whole months: the practice's amounts due by (issue month, due date)
        months = split_period(f.date_from, f.date_to)
        where = "TRUE"
        if months.months_from:
            where += " AND issue_month >= :months_from"
            params["months_from"] = months.months_from
        if months.months_to:
            where += " AND issue_month < :months_to"
            params["months_to"] = months.months_to
        return frame(
            conn,
            "pnl.receivables_ageing",
            f"""
            SELECT {_BUCKETS} AS bucket, sum(amount) AS amount, sum(invoices)::bigint AS invoices
            FROM (SELECT :today - due AS d, amount, invoices FROM receivables_practice WHERE {where}) x
            GROUP BY 1 HAVING sum(invoices) <> 0 OR sum(amount) <> 0""",
            params,
        )
    if not project_level(f) and not f.phases:
        return frame(
            conn,
            "pnl.receivables_ageing",
            f"""
            SELECT {_BUCKETS} AS bucket, sum(amount) AS amount, count(*) AS invoices
            FROM (SELECT :today - coalesce(i.due_date, i.issue_date) AS d,
                         signed_outstanding(i.status, i.doc_type, i.amount_due) AS amount
                  FROM invoices i
                  WHERE i.status = 'Authorised' AND i.amount_due <> 0 {dates.format(col="i.issue_date")}) x
            GROUP BY 1""",
            params,
        )
    pw, pp = project_where(f)
    lw, lp = phase_where(f, "l.build_phase_id")
    params |= pp | lp
    scopes = [
        f"SELECT l.invoice_id, l.line_number FROM p JOIN invoice_lines l ON l.project_id = p.id "
        f"WHERE {lw} {dates.format(col='l.doc_date')}"
    ]
    if not project_level(f):
        scopes.append(
            f"SELECT l.invoice_id, l.line_number FROM invoice_lines l WHERE l.project_id IS NULL "
            f"AND {lw} {dates.format(col='l.doc_date')}"
        )
    return frame(
        conn,
        "pnl.receivables_ageing",
        f"""
        WITH p AS (SELECT p.id FROM projects p WHERE {pw}),
        picked AS ({" UNION ALL ".join(scopes)}),
        unpaid AS (SELECT DISTINCT k.invoice_id FROM picked k JOIN invoices i ON i.id = k.invoice_id
                   WHERE i.status = 'Authorised' AND i.amount_due <> 0),
        shares AS (SELECT * FROM invoice_outstanding_shares(ARRAY(SELECT invoice_id FROM unpaid)))
        SELECT {_BUCKETS} AS bucket, sum(amount) AS amount, count(DISTINCT invoice_id) AS invoices
        FROM (SELECT :today - coalesce(i.due_date, i.issue_date) AS d, s.outstanding AS amount, s.invoice_id
              FROM picked k JOIN shares s ON (s.invoice_id, s.line_number) = (k.invoice_id, k.line_number)
              JOIN invoices i ON i.id = s.invoice_id) x
        GROUP BY 1""",
        params,
    )


def filter_options(conn: Connection) -> dict[str, pd.DataFrame]:
    """Everything the sidebar filters offer: clients, phases, owners, projects."""
    return {
        "clients": frame(conn, "pnl.filter_options", "SELECT DISTINCT client_name FROM projects ORDER BY 1"),
        "phases": frame(
            conn,
            "pnl.filter_options",
            "SELECT id::text AS id, name, colour FROM build_phases WHERE active ORDER BY display_order, name",
        ),
        "owners": frame(
            conn,
            "pnl.filter_options",
            """SELECT DISTINCT u.id::text AS id, u.display_name FROM app_users u
                                 JOIN projects p ON p.user_id = u.id ORDER BY 2""",
        ),
        "projects": frame(
            conn,
            "pnl.filter_options",
            "SELECT id::text AS id, name, client_name FROM projects ORDER BY client_name, name",
        ),
    }

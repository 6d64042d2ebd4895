"""P&L reads: per-project sums, the monthly series, build phases, receivables ageing, the
sidebar's options and the data's freshness. The P&L definitions live in the SQL functions
signed_counted / signed_outstanding (sql/002_triggers.sql) and in docs/design.md."""
from __future__ import annotations

from datetime import date

import pandas as pd
from sqlalchemy.engine import Connection

from milestone.store._sql import Params, doc_where, frame, project_where
from milestone.validation import Filters


def _filtered_documents(f: Filters) -> tuple[str, Params]:
    """CTEs `p` (filtered projects) and `docs` (one signed money row per counted document or
    estimate, with its project, phase and date). The P&L definitions live in the SQL functions
    signed_counted / signed_outstanding (sql/002_triggers.sql)."""
    pw, params = project_where(f)
    iw, ip = doc_where(f, "i", "issue_date")
    bw, bp = doc_where(f, "b", "date")
    ew, ep = doc_where(f, "e", "date")
    params.update(ip | bp | ep)
    sql = f"""
        p AS (SELECT p.* FROM projects p WHERE {pw}),
        docs AS (
            SELECT i.project_id, i.build_phase_id, i.issue_date AS date,
                   signed_counted(i.status, i.doc_type, i.subtotal) AS revenue, 0::numeric AS costs,
                   0::numeric AS estimate_revenue, 0::numeric AS estimate_costs,
                   signed_outstanding(i.status, i.doc_type, i.amount_due) AS outstanding
            FROM invoices i JOIN p ON p.id = i.project_id WHERE {iw}
            UNION ALL
            SELECT b.project_id, b.build_phase_id, b.date, 0, signed_counted(b.status, b.doc_type, b.subtotal), 0, 0, 0
            FROM bills b JOIN p ON p.id = b.project_id WHERE {bw}
            UNION ALL
            SELECT e.project_id, e.build_phase_id, e.date, 0, 0,
                   CASE WHEN e.kind = 'revenue' THEN e.amount ELSE 0 END,
                   CASE WHEN e.kind = 'cost' THEN e.amount ELSE 0 END, 0
            FROM estimates e JOIN p ON p.id = e.project_id WHERE {ew}
        )"""
    return sql, params


_PROJECT_COLUMNS = """p.id::text AS id, p.name, p.client_name, p.status, p.start_date, p.end_date,
    p.user_id::text AS owner_id, u.display_name AS owner, p.budget_revenue, p.budget_cost, p.version"""

def project_table(conn: Connection, f: Filters) -> pd.DataFrame:
    """One row per project matching the filters, with its sums for the filtered period/phases."""
    if not f.by_document:
        # All time, all phases: the maintained per-project metrics answer directly.
        pw, params = project_where(f)
        return frame(conn, "pnl.project_table", f"""
            SELECT {_PROJECT_COLUMNS}, m.revenue, m.costs, m.estimate_revenue, m.estimate_costs, m.outstanding
            FROM projects p JOIN project_metrics m ON m.project_id = p.id
            LEFT JOIN app_users u ON u.id = p.user_id
            WHERE {pw} ORDER BY p.client_name, p.name""", params)
    ctes, params = _filtered_documents(f)
    return frame(conn, "pnl.project_table", f"""
        WITH {ctes},
        sums AS (SELECT project_id, sum(revenue) AS revenue, sum(costs) AS costs,
                        sum(estimate_revenue) AS estimate_revenue, sum(estimate_costs) AS estimate_costs,
                        sum(outstanding) AS outstanding
                 FROM docs GROUP BY project_id)
        SELECT {_PROJECT_COLUMNS}, coalesce(s.revenue, 0) AS revenue, coalesce(s.costs, 0) AS costs,
               coalesce(s.estimate_revenue, 0) AS estimate_revenue,
               coalesce(s.estimate_costs, 0) AS estimate_costs, coalesce(s.outstanding, 0) AS outstanding
        FROM p LEFT JOIN sums s ON s.project_id = p.id LEFT JOIN app_users u ON u.id = p.user_id
        ORDER BY p.client_name, p.name""", params)


def monthly_series(conn: Connection, f: Filters) -> pd.DataFrame:
    """Revenue, costs and estimates per calendar month for the filters."""
    ctes, params = _filtered_documents(f)
    return frame(conn, "pnl.monthly_series", f"""
        WITH {ctes}
        SELECT date_trunc('month', date)::date AS month, sum(revenue) AS revenue, sum(costs) AS costs,
               sum(estimate_revenue) AS estimate_revenue, sum(estimate_costs) AS estimate_costs
        FROM docs GROUP BY 1 ORDER BY 1""", params)


def phase_breakdown(conn: Connection, f: Filters) -> pd.DataFrame:
    """Revenue, costs and estimates per build phase ('Unassigned' for documents with none)."""
    if not f.by_document:
        pw, params = project_where(f)
        source = f"""SELECT m.build_phase_id, sum(m.revenue) AS revenue, sum(m.costs) AS costs,
                            sum(m.estimate_revenue) AS estimate_revenue, sum(m.estimate_costs) AS estimate_costs
                     FROM project_phase_metrics m JOIN projects p ON p.id = m.project_id
                     WHERE {pw} GROUP BY m.build_phase_id"""
        with_clause = ""
    else:
        ctes, params = _filtered_documents(f)
        with_clause = f"WITH {ctes}"
        source = """SELECT build_phase_id, sum(revenue) AS revenue, sum(costs) AS costs,
                           sum(estimate_revenue) AS estimate_revenue, sum(estimate_costs) AS estimate_costs
                    FROM docs GROUP BY build_phase_id"""
    return frame(conn, "pnl.phase_breakdown", f"""
        {with_clause}
        SELECT coalesce(bp.name, 'Unassigned') AS phase, s.build_phase_id::text AS phase_id,
               coalesce(bp.colour, '#BBBBBB') AS colour, s.revenue, s.costs, s.estimate_revenue, s.estimate_costs
        FROM ({source}) s LEFT JOIN build_phases bp ON bp.id = s.build_phase_id
        ORDER BY bp.display_order NULLS LAST, phase""", params)


def receivables_ageing(conn: Connection, f: Filters, today: date) -> pd.DataFrame:
    """Outstanding (Authorised) receivables by days past due as of `today`."""
    pw, params = project_where(f)
    iw, ip = doc_where(f, "i", "issue_date")
    params |= ip | {"today": today}
    return frame(conn, "pnl.receivables_ageing", f"""
        SELECT CASE WHEN d <= 0 THEN 'Current' WHEN d <= 30 THEN '1-30' WHEN d <= 60 THEN '31-60'
                    WHEN d <= 90 THEN '61-90' ELSE '90+' END AS bucket,
               sum(amount) AS amount, count(*) AS invoices
        FROM (SELECT :today - coalesce(i.due_date, i.issue_date) AS d,
                     signed_outstanding(i.status, i.doc_type, i.amount_due) AS amount
              FROM invoices i JOIN projects p ON p.id = i.project_id
              WHERE i.status = 'Authorised' AND {pw} AND {iw}) x
        GROUP BY 1""", params)


def filter_options(conn: Connection) -> dict[str, pd.DataFrame]:
    """Everything the sidebar filters offer: clients, phases, owners, projects."""
    return {
        "clients": frame(conn, "pnl.filter_options", "SELECT DISTINCT client_name FROM projects ORDER BY 1"),
        "phases": frame(conn, "pnl.filter_options", "SELECT id::text AS id, name, colour FROM build_phases WHERE active ORDER BY display_order, name"),
        "owners": frame(conn, "pnl.filter_options", """SELECT DISTINCT u.id::text AS id, u.display_name FROM app_users u
                                 JOIN projects p ON p.user_id = u.id ORDER BY 2"""),
        "projects": frame(conn, "pnl.filter_options", "SELECT id::text AS id, name, client_name FROM projects ORDER BY client_name, name"),
    }

"""P&L reads for the dashboard, the projects list and the reports, each in one snapshot."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pandas as pd

from milestone import db, metrics
from milestone.store import operations, pnl, sync_requests
from milestone.store.sync_requests import SyncStatus
from milestone.validation import EVERYTHING, Filters


def project_table(f: Filters = EVERYTHING) -> pd.DataFrame:
    """One row per project matching the filters, with its sums for the filtered period/phases."""
    with db.snapshot() as conn:
        return pnl.project_table(conn, f)


def monthly_series(f: Filters = EVERYTHING) -> pd.DataFrame:
    with db.snapshot() as conn:
        return pnl.monthly_series(conn, f)


def phase_breakdown(f: Filters = EVERYTHING) -> pd.DataFrame:
    with db.snapshot() as conn:
        return pnl.phase_breakdown(conn, f)


def unallocated(f: Filters = EVERYTHING) -> metrics.Totals | None:
    """The overheads (lines with no project, "Unallocated") for the filters' dates and phases, as
    Totals (revenue, costs, outstanding); None when a project-level filter (client, status,
    owner, project) is set, which leaves overheads out of the view."""
    with db.snapshot() as conn:
        row = pnl.unallocated(conn, f)
    return None if row is None else metrics.Totals(**row)


def practice_totals(projects: pd.DataFrame, overheads: metrics.Totals | None) -> metrics.Totals:
    """The KPI cards' figures: the projects' sums, plus the overheads when they are in view
    (no project-level filter), so the cards are the practice's P&L as Xero reports it."""
    totals = metrics.totals_of(projects)
    return totals if overheads is None else totals.plus(overheads)


def totals(f: Filters = EVERYTHING) -> metrics.Totals:
    """The KPI cards' figures for the filters, summed in SQL: the projects the filters pick, plus
    the overheads while no project-level filter is set (as practice_totals adds them)."""
    with db.snapshot() as conn:
        return metrics.Totals(**pnl.totals(conn, f))


def receivables_ageing(f: Filters = EVERYTHING, today: date | None = None) -> pd.DataFrame:
    with db.snapshot() as conn:
        return pnl.receivables_ageing(conn, f, today or date.today())


@dataclass(frozen=True)
class Breakdowns:
    """What the dashboard draws beside the project table, read in one snapshot."""

    monthly: pd.DataFrame
    phases: pd.DataFrame
    ageing: pd.DataFrame
    unallocated: metrics.Totals | None  # None when a project-level filter leaves overheads out


def breakdowns(f: Filters, today: date | None = None) -> Breakdowns:
    with db.snapshot() as conn:
        overheads = pnl.unallocated(conn, f)
        return Breakdowns(
            pnl.monthly_series(conn, f),
            pnl.phase_breakdown(conn, f),
            pnl.receivables_ageing(conn, f, today or date.today()),
            None if overheads is None else metrics.Totals(**overheads),
        )


def filter_options() -> dict[str, pd.DataFrame]:
    """Everything the sidebar filters offer: clients, phases, owners, projects."""
    with db.snapshot() as conn:
        return pnl.filter_options(conn)


def sync_status() -> SyncStatus:
    with db.snapshot() as conn:
        return sync_requests.sync_status(conn)


def counts() -> dict[str, int]:
    """Row counts of the main tables."""
    with db.snapshot() as conn:
        return operations.counts(conn)

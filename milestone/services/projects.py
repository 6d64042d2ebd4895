"""Projects: one project's page, and creating or editing a project."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from milestone import db
from milestone.services.access import may_write
from milestone.store import pnl, projects
from milestone.store.projects import ProjectHeader
from milestone.store.users import User
from milestone.validation import Filters


def project_header(project_id: str) -> ProjectHeader | None:
    with db.snapshot() as conn:
        return projects.project_header(conn, project_id)


def project_documents(project_id: str, kind: str, limit: int = 200) -> tuple[pd.DataFrame, int]:
    """A project's invoices or bills ('invoices' or 'bills'), newest first, capped; and their count."""
    with db.snapshot() as conn:
        return projects.project_documents(conn, project_id, kind, limit)


def project_audit(project_id: str, limit: int = 200) -> pd.DataFrame:
    with db.snapshot() as conn:
        return projects.project_audit(conn, project_id, limit)


def create_project(user: User, values: dict[str, Any]) -> str:
    """Create a project owned by `user` from validated values (validation.ProjectInput)."""
    may_write(user, "create projects")

    def create() -> str:
        with db.transaction(user.username) as conn:
            return projects.create_project(conn, user.id, values)

    return db.retried(create)


def update_project(user: User, project_id: str, version: int, values: dict[str, Any]) -> int:
    """Save validated changes if nobody changed the project since `version` (else StaleEdit)."""
    may_write(user, "edit projects")

    def update() -> int:
        with db.transaction(user.username) as conn:
            return projects.update_project(conn, project_id, version, values)

    return db.retried(update)


@dataclass(frozen=True)
class ProjectPage:
    """Everything the Project P&L page reads about one project, from one snapshot."""

    totals: pd.DataFrame  # one row: the project's sums (project_table's columns)
    phases: pd.DataFrame
    monthly: pd.DataFrame
    invoices: pd.DataFrame  # newest first, at most `cap`
    invoice_count: int
    bills: pd.DataFrame
    bill_count: int


def project_page(project_id: str, cap: int = 200) -> ProjectPage:
    only = Filters(project_ids=(project_id,))
    with db.snapshot() as conn:
        invoices, n_invoices = projects.project_documents(conn, project_id, "invoices", cap)
        bills, n_bills = projects.project_documents(conn, project_id, "bills", cap)
        return ProjectPage(
            pnl.project_table(conn, only),
            pnl.phase_breakdown(conn, only),
            pnl.monthly_series(conn, only),
            invoices,
            n_invoices,
            bills,
            n_bills,
        )

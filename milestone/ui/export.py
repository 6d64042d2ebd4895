"""Download buttons beside a table: the same export as the Export page, with the table's filters."""
from __future__ import annotations

import streamlit as st

from milestone.services import exports
from milestone.ui.common import current_user
from milestone.validation import Filters


def export_buttons(table: str, filters: Filters, *, key: str) -> None:
    """CSV and Excel downloads of `table` for `filters`; built only when clicked, and logged."""
    user = current_user()
    with st.container(horizontal=True, gap="small"):
        for fmt, label in (("csv", "CSV"), ("xlsx", "Excel")):
            st.download_button(
                label, icon=":material/download:", key=f"{key}_{fmt}", width="content",
                file_name=exports.file_name(table, filters, fmt),
                mime="text/csv" if fmt == "csv" else
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                data=lambda fmt=fmt: exports.export_bytes(table, filters, fmt, user))


def pdf_button(kind: str, *, key: str, filters: Filters | None = None, project_id: str | None = None,
               project_name: str = "") -> None:
    """A printable PDF report: the portfolio for `filters`, or one project; built only when clicked."""
    from milestone.services import reports

    user = current_user()
    if kind == "portfolio":
        name, build = reports.portfolio_file_name(filters), lambda: reports.portfolio_pdf(filters, user)
    else:
        name = reports.project_file_name(project_name, project_id)
        build = lambda: reports.project_pdf(project_id, user)  # noqa: E731
    st.download_button("PDF report", icon=":material/picture_as_pdf:", key=key, width="content", file_name=name,
                       mime="application/pdf", data=build,
                       help="A printable report (A4, readable in black and white) of what this page shows.")

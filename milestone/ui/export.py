"""Download buttons beside a table: the same export as the Export page, with the table's filters."""
from __future__ import annotations

import streamlit as st

from milestone import exports
from milestone.ui.common import current_user, engine
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
                data=lambda fmt=fmt: exports.export_bytes(table, filters, fmt, user, eng=engine()))

"""Export: take the numbers out as CSV or Excel, with the filters applied."""

from datetime import date

import streamlit as st
from pydantic import ValidationError

from milestone.services import exports, pnl
from milestone.ui.common import current_user, date_range
from milestone.validation import Filters, describe_errors, phase_choices

st.title("Export")
user = current_user()
opts = pnl.filter_options()
c1, c2 = st.columns(2)
table = c1.selectbox("What", list(exports.TABLES), format_func=lambda t: exports.TABLES[t], key="exp_table")
fmt = c2.radio(
    "Format",
    ["csv", "xlsx"],
    format_func=lambda f: {"csv": "CSV", "xlsx": "Excel (.xlsx)"}[f],
    horizontal=True,
    key="exp_format",
)
c1, c2 = st.columns(2)
no_dates: tuple[date, date] | tuple[()] = ()  # an empty range: nothing chosen, all time
period = c1.date_input(
    "Between (by each document's own date; leave empty for all time)",
    value=no_dates,  # type: ignore[arg-type]  # Streamlit takes () for an open range; its stubs list only dates
    key="exp_dates",
    format="DD/MM/YYYY",
)
clients = c2.multiselect("Clients", list(opts["clients"]["client_name"]), key="exp_clients", placeholder="All clients")
phase_names = phase_choices(opts["phases"]["id"], opts["phases"]["name"])
phases = c2.multiselect(
    "Build phases",
    list(phase_names),
    format_func=lambda p: phase_names[p],
    key="exp_phases",
    placeholder="All phases",
    disabled=table == "audit",
    help="Lines and estimates by their phase; invoices and bills that have a line in these "
    "phases, with those lines' sum as 'allocated'; projects and the monthly series count "
    "only lines in these phases. The audit log has no phase.",
)
excel_friendly = fmt == "csv" and st.checkbox(
    "Excel-friendly CSV",
    key="exp_excel",
    help="Adds a byte-order mark so Excel reads £ and accents. Every CSV puts an apostrophe before text that "
    "starts like a formula (= + - @, a tab) so a spreadsheet cannot run it; the command line's --raw "
    "keeps such text exactly.",
)
date_from, date_to = date_range(period)
try:
    filters = Filters(
        date_from=date_from, date_to=date_to, clients=tuple(clients), phases=() if table == "audit" else tuple(phases)
    )
except ValidationError as exc:
    st.error(" ".join(describe_errors(exc)))
    st.stop()
if table is None or fmt is None:  # radio and selectbox always hold a choice here
    st.stop()

name = exports.file_name(table, filters, fmt)
too_large = fmt == "xlsx" and exports.xlsx_too_large(table, filters, user)
if too_large:
    st.warning(too_large)
st.download_button(
    f"Download {name}",
    type="primary",
    icon=":material/download:",
    file_name=name,
    key="exp_download",
    disabled=bool(too_large),
    mime="text/csv" if fmt == "csv" else "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    # built only when clicked, straight from the database (COPY for CSV)
    data=lambda: exports.export_bytes(table, filters, fmt, user, excel_friendly=excel_friendly),
)
st.caption(
    "Invoices and bills: one row per document; 'allocated' is the sum of its lines that the filters pick "
    "(a client filter: that client's projects' share of a split document; no filter: the whole subtotal). "
    "Lines: one row per line item, 'Unallocated' for overheads (no project). "
    "CSV: UTF-8, ISO dates (YYYY-MM-DD), amounts as plain numbers with two decimals, a header row. "
    "Excel: real number and date cells, a frozen header row. Every export is recorded."
)

if user.role == "admin":
    st.subheader("Recent exports")
    history = exports.history(user, 100)
    if history.empty:
        st.info("Nothing exported yet.")
    else:
        st.dataframe(
            history,
            hide_index=True,
            width="stretch",
            column_config={
                "exported_at": st.column_config.DatetimeColumn("When", format="DD/MM/YYYY HH:mm"),
                "username": "Who",
                "table_name": "What",
                "format": "Format",
                "filters": "Filters",
                "row_count": "Rows",
            },
        )

"""Estimates: the money projects still expect, kept current by finance staff."""
import streamlit as st

from milestone.formatting import project_labels
from milestone.services import pnl
from milestone.ui.common import date_range, freshness_banner
from milestone.ui.estimates import render_estimates_editor, render_history
from milestone.ui.export import export_buttons
from milestone.validation import Filters

st.title("Estimates")
freshness_banner()
opts = pnl.filter_options()
projects = opts["projects"]
labels = project_labels(projects["id"], projects["client_name"], projects["name"])
c1, c2, c3, c4 = st.columns([2, 2, 1, 2])
clients = c1.multiselect("Clients", list(opts["clients"]["client_name"]), key="est_clients", placeholder="All clients")
project = c2.selectbox("Project", [None] + list(labels), format_func=lambda p: "All projects" if p is None else labels[p],
                       key="est_project")
kind = c3.selectbox("Kind", [None, "revenue", "cost"], format_func=lambda k: "Both" if k is None else k.title(),
                    key="est_kind")
period = c4.date_input("Expected between", value=(), key="est_dates", format="DD/MM/YYYY")
date_from, date_to = date_range(period)
filters = Filters(clients=tuple(clients), project_ids=(project,) if project else (), date_from=date_from,
                  date_to=date_to)

tab_edit, tab_history = st.tabs(["Edit", "History"])
with tab_edit:
    st.caption("Edit cells, add rows at the bottom, select rows and press Delete to remove them; "
               "nothing is written until you press Save changes.")
    render_estimates_editor(filters, kind=kind)
    export_buttons("estimates", filters, key="est_export")
with tab_history:
    render_history()

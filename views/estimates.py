"""Estimates: the money projects still expect, kept current by finance staff."""
from datetime import date, timedelta

import streamlit as st

from milestone import metrics

from milestone.formatting import project_labels
from milestone.services import pnl
from milestone.ui.common import current_user, date_range, freshness_banner
from milestone.ui.estimates import render_estimates_editor, render_history
from milestone.ui.export import export_buttons
from milestone.validation import OPEN_STATUSES, Filters

st.title("Estimates")
freshness_banner()
opts = pnl.filter_options()
projects = opts["projects"]
labels = project_labels(projects["id"], projects["client_name"], projects["name"])
user = current_user()
# Opens on what finance staff update at each month end: their own open projects' estimates
# expected from the start of this month to three months ahead. Every filter widens it.
today = date.today()
horizon = (today.replace(day=1), metrics.preset_range("This month", today + timedelta(days=92))[1])
mine = st.toggle("Only my open projects", value=True, key="est_mine",
                 help="Projects you own that are not Completed. Turn off to see everyone's.")
c1, c2, c3, c4 = st.columns([2, 2, 1, 2])
clients = c1.multiselect("Clients", list(opts["clients"]["client_name"]), key="est_clients", placeholder="All clients")
project = c2.selectbox("Project", [None] + list(labels), format_func=lambda p: "All projects" if p is None else labels[p],
                       key="est_project")
kind = c3.selectbox("Kind", [None, "revenue", "cost"], format_func=lambda k: "Both" if k is None else k.title(),
                    key="est_kind")
period = c4.date_input("Expected between (clear for any date)", value=horizon, key="est_dates", format="DD/MM/YYYY")
date_from, date_to = date_range(period)
filters = Filters(clients=tuple(clients), project_ids=(project,) if project else (), date_from=date_from,
                  date_to=date_to, owners=(user.id,) if mine else (), statuses=OPEN_STATUSES if mine else ())

tab_edit, tab_history = st.tabs(["Edit", "History"])
with tab_edit:
    st.caption("Edit cells, add rows at the bottom, select rows and press Delete to remove them; "
               "nothing is written until you press Save changes.")
    render_estimates_editor(filters, kind=kind)
    export_buttons("estimates", filters, key="est_export")
with tab_history:
    render_history()

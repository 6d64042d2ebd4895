"""Dashboard: the practice's P&L across all projects, for the filters in the sidebar."""

from datetime import date

import plotly.graph_objects as go
import streamlit as st

from milestone import charts, metrics
from milestone.formatting import money
from milestone.services import pnl
from milestone.ui.common import freshness_banner, load_projects
from milestone.ui.export import export_buttons, pdf_button
from milestone.ui.filters import sidebar_filters
from milestone.ui.tables import kpi_cards, project_table
from milestone.validation import Filters


@st.cache_data(ttl=300, max_entries=32)
def load_views(filters: Filters, today: date):
    views = pnl.breakdowns(filters, today)  # one snapshot
    return metrics.with_cumulative_profit(views.monthly), views.phases, views.ageing, views.unallocated


@st.cache_data(ttl=300, max_entries=32)
def load_totals(filters: Filters):
    """The KPI cards' sums for one filter set, summed in SQL (one row, whatever the practice's size)."""
    return pnl.totals(filters)


@st.cache_resource(ttl=300, max_entries=32, show_spinner=False)
def figures(filters: Filters, today: date) -> dict[str, go.Figure]:
    """Every chart for one filter set, built once and shared by everyone looking at the same
    filters (plotly figures are only read when drawn). clear_caches() empties it after a write."""
    projects = load_projects(filters)
    monthly, phases, ageing, _ = load_views(filters, today)
    return {
        "monthly": charts.monthly_revenue_costs(monthly),
        "cumulative": charts.cumulative_profit(monthly),
        "ageing": charts.receivables_ageing(ageing),
        "margin": charts.margin_by_project(projects),
        "clients": charts.profit_by_client(projects),
        "budget": charts.budget_vs_actual(projects),
        "phases": charts.by_phase(phases),
        "status": charts.projects_by_status(projects),
    }


st.title("Dashboard")
freshness_banner()
filters = sidebar_filters()
projects = load_projects(filters)
if projects.empty:
    if pnl.counts()["projects"] == 0:
        st.info("No projects yet. Run `python -m milestone seed` for demo data, or wait for the first Xero sync.")
    else:
        st.info("No project matches these filters. Widen the period or clear a filter in the sidebar.")
    st.stop()

# The KPI cards are the practice's P&L as Xero reports it: the projects plus the overheads
# (lines with no project) while no client, status, owner or project filter is set.
overheads = load_views(filters, date.today())[3]
previous, period_label = None, ""
if filters.date_from and filters.date_to:
    if before := metrics.previous_period(filters.date_from, filters.date_to):
        prev_from, prev_to = before
        prev_filters = filters.model_copy(update={"date_from": prev_from, "date_to": prev_to})
        previous = load_totals(prev_filters)
        period_label = f"{prev_from:%d %b %Y} to {prev_to:%d %b %Y}"
kpi_cards(load_totals(filters), previous, period_label)
if overheads is not None:
    st.caption(
        f"Unallocated (overheads): revenue {money(overheads.revenue)}, costs {money(overheads.costs)}, "
        f"outstanding {money(overheads.outstanding)} — included in the practice totals above and in the "
        "monthly, phase and ageing charts; the project table and project charts leave them out."
    )
else:
    st.caption(
        "Projects only: a client, status, owner or project filter leaves the overheads "
        "(lines with no project) out of these figures."
    )
pdf_button("portfolio", filters=filters, key="dash_pdf")

figs = figures(filters, date.today())
st.plotly_chart(figs["monthly"], width="stretch")
export_buttons("monthly", filters, key="dash_export_monthly")
left, right = st.columns(2)
left.plotly_chart(figs["cumulative"], width="stretch")
right.plotly_chart(figs["ageing"], width="stretch")
left, right = st.columns(2)
left.plotly_chart(figs["margin"], width="stretch")
right.plotly_chart(figs["clients"], width="stretch")
st.plotly_chart(figs["budget"], width="stretch")
left, right = st.columns([2, 1])
left.plotly_chart(figs["phases"], width="stretch")
right.plotly_chart(figs["status"], width="stretch")

st.subheader("Projects")
export_buttons("projects", filters, key="dash_export_projects")
st.caption("Click a column heading to sort; select a row to open the project.")
project_table(
    projects,
    {
        "name": "Project",
        "client_name": "Client",
        "status": "Status",
        "revenue": "Revenue",
        "costs": "Costs",
        "profit": "Profit",
        "margin": "Margin",
        "revenue_variance": "Revenue vs budget",
        "cost_variance": "Costs vs budget",
        "forecast_profit": "Forecast profit",
        "forecast_margin": "Forecast margin",
    },
    key="dash_projects",
    height=420,
)

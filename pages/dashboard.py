"""Dashboard: the practice's P&L across all projects."""
import streamlit as st

from milestone import charts, metrics, repository
from milestone.formatting import money, pct
from milestone.ui.common import engine, freshness_banner
from milestone.validation import Filters

st.title("Dashboard")
freshness_banner()


@st.cache_data(ttl=300, max_entries=32)
def load(filters: Filters):
    return repository.project_table(filters, engine()), repository.monthly_series(filters, engine())


filters = Filters()
projects, monthly = load(filters)
if projects.empty:
    st.info("No projects yet. Run `python -m milestone seed` for demo data, or wait for the first Xero sync.")
    st.stop()
totals = metrics.totals_of(projects)
cards = totals.kpis()
cols = st.columns(len(cards))
for col, (label, value) in zip(cols, cards.items()):
    col.metric(label, pct(value) if "margin" in label.lower() else money(value))
st.plotly_chart(charts.monthly_revenue_costs(monthly), width="stretch")

"""Project P&L: one project's budget, actuals, forecast, phases, documents and history."""

import streamlit as st

from milestone import charts, metrics
from milestone.formatting import as_text, money, project_labels
from milestone.services import pnl, preferences
from milestone.services import projects as project_service
from milestone.ui.common import current_user, freshness_banner
from milestone.ui.estimates import render_estimates_editor
from milestone.ui.export import export_buttons, pdf_button
from milestone.ui.tables import kpi_cards, money_table
from milestone.validation import Filters

DOCUMENT_CAP = 200


@st.cache_data(ttl=300, max_entries=64)
def load(project_id: str):
    page = project_service.project_page(project_id, DOCUMENT_CAP)
    return (
        metrics.with_pnl(page.totals),
        metrics.with_pnl(page.phases),
        page.monthly,
        (page.invoices, page.invoice_count),
        (page.bills, page.bill_count),
    )


@st.cache_data(ttl=300, max_entries=4)
def project_choices():
    return pnl.filter_options()["projects"]


st.title("Project P&L")
freshness_banner()
choices = project_choices()
if choices.empty:
    st.info("No projects yet.")
    st.stop()
labels = project_labels(choices["id"], choices["client_name"], choices["name"])
wanted = st.query_params.get("project")
ids = list(labels)
start = ids.index(wanted) if wanted in labels else 0
chosen = st.selectbox("Project", ids, format_func=lambda p: labels[p], key="pnl_project", index=start)
if chosen is None:  # the list is never empty (checked above); this tells the type checker
    st.stop()
project_id: str = chosen
if wanted and wanted not in labels:
    st.warning("The project in the link no longer exists (or the link is wrong); showing the first project instead.")
if st.query_params.get("project") != project_id:
    st.query_params["project"] = project_id

found = project_service.project_header(project_id)
if found is None:
    st.warning("That project was deleted a moment ago. Choose another.")
    st.stop()
header = found
totals, phases, monthly, (invoices, n_invoices), (bills, n_bills) = load(project_id)
row = totals.iloc[0]
user = current_user()
favourites = preferences.preferences(user.id).favourite_projects
fav = st.toggle("★ Favourite", value=project_id in favourites, key=f"pnl_fav_{project_id}")
if fav != (project_id in favourites):
    preferences.set_favourite(user, project_id, fav)

dates = " to ".join(f"{d:%d %b %Y}" for d in (header.start_date, header.end_date) if d) or "no dates set"
st.markdown(
    f"**{as_text(header.client_name)}** · {header.status} · {dates} · owner: {as_text(header.owner or 'nobody yet')}"
)
kpi_cards(metrics.totals_of(totals))
pdf_button("project", project_id=project_id, project_name=header.name, key="pnl_pdf")

left, right = st.columns([1, 2])
left.plotly_chart(
    charts.budget_actual_forecast(
        row["budget_revenue"],
        row["revenue"],
        row["forecast_revenue"],
        row["budget_cost"],
        row["costs"],
        row["forecast_costs"],
    ),
    width="stretch",
)
right.plotly_chart(charts.monthly_revenue_costs(monthly), width="stretch")
if row["budget_revenue"] is None or row["budget_revenue"] != row["budget_revenue"]:
    st.caption("This project has no budget, so there is no budget variance.")
else:
    st.caption(f"Revenue vs budget: {money(row['revenue_variance'])} · Costs vs budget: {money(row['cost_variance'])}")

st.subheader("P&L by build phase")
if phases.empty:
    st.info("No invoices, bills or estimates for this project yet.")
else:
    money_table(
        phases,
        {
            "phase": "Build phase",
            "revenue": "Revenue",
            "costs": "Costs",
            "profit": "Profit",
            "margin": "Margin",
            "estimate_revenue": "Estimated revenue",
            "estimate_costs": "Estimated costs",
            "forecast_profit": "Forecast profit",
            "forecast_margin": "Forecast margin",
        },
        key="pnl_phases",
    )

tab_inv, tab_bills, tab_est, tab_hist = st.tabs(
    [f"Invoices ({n_invoices:,})", f"Bills ({n_bills:,})", "Estimates", "History"]
)
for tab, frame, total, what in ((tab_inv, invoices, n_invoices, "invoices"), (tab_bills, bills, n_bills, "bills")):
    with tab:
        if frame.empty:
            st.info(f"No {what} for this project yet.")
            continue
        if total > len(frame):
            st.caption(f"Showing the newest {len(frame):,} of {total:,} {what}: the downloads have all of them.")
        if frame["split"].any():
            st.caption(
                f"Split: {int(frame['split'].sum()):,} of these {what} also have lines on other projects or "
                "on overheads; this project's share is shown beside the document's subtotal."
            )
        export_buttons(what, Filters(project_ids=(project_id,)), key=f"pnl_export_{what}")
        shown = frame.assign(
            **{c: [float(v) for v in frame[c]] for c in ("share", "subtotal", "total_tax", "total", "amount_due")}
        )
        shown["split"] = ["Split: this project's share shown" if v else "" for v in frame["split"]]
        st.dataframe(
            shown,
            hide_index=True,
            width="stretch",
            column_config={
                "party": "Customer" if what == "invoices" else "Supplier",
                "phase": "Phase",
                "split": "Split",
                "share": st.column_config.NumberColumn("This project (ex tax)", format="£%,.2f"),
                "doc_type": "Type",
                "subtotal": st.column_config.NumberColumn("Subtotal", format="£%,.2f"),
                "total_tax": st.column_config.NumberColumn("Tax", format="£%,.2f"),
                "total": st.column_config.NumberColumn("Total", format="£%,.2f"),
                "amount_due": st.column_config.NumberColumn("Due", format="£%,.2f"),
                "date": st.column_config.DateColumn("Date", format="DD/MM/YYYY"),
                "due_date": st.column_config.DateColumn("Due date", format="DD/MM/YYYY"),
            },
        )

with tab_est:
    render_estimates_editor(key="project_estimates_editor", project_id=project_id)
    export_buttons("estimates", Filters(project_ids=(project_id,)), key="pnl_export_estimates")

with tab_hist:
    history = project_service.project_audit(project_id)
    if history.empty:
        st.info("No recorded changes to this project or its estimates.")
    else:
        export_buttons("audit", Filters(project_ids=(project_id,)), key="pnl_export_audit")
        st.dataframe(
            history,
            hide_index=True,
            width="stretch",
            column_config={
                "changed_at": st.column_config.DatetimeColumn("When", format="DD/MM/YYYY HH:mm"),
                "user": "Who",
                "table_name": "What",
                "operation": "Change",
                "old_data": "Before",
                "new_data": "After",
            },
        )

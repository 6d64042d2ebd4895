"""Projects: find a project, open it, and (admin, finance) create or edit one."""

import streamlit as st
from pydantic import ValidationError

from milestone.errors import MilestoneError
from milestone.formatting import amount_text, as_text
from milestone.services import projects as project_service
from milestone.services.access import WRITE_ROLES
from milestone.ui.common import clear_caches, current_user, freshness_banner, load_projects, show_problems
from milestone.ui.export import export_buttons
from milestone.ui.filters import sidebar_filters
from milestone.ui.tables import project_table
from milestone.validation import PROJECT_LABELS, PROJECT_STATUSES, ProjectInput


def project_form(key: str, current=None) -> dict | None:
    """The create/edit form; returns validated values, or None (errors already shown per field)."""
    with st.form(key, clear_on_submit=False):
        c1, c2 = st.columns(2)
        name = c1.text_input("Name", value=current.name if current else "", max_chars=255)
        client = c2.text_input("Client", value=current.client_name if current else "", max_chars=255)
        c1, c2, c3 = st.columns(3)
        status = c1.selectbox("Status", PROJECT_STATUSES,
                              index=PROJECT_STATUSES.index(current.status) if current else 0)
        start = c2.date_input("Start date", value=current.start_date if current else None, format="DD/MM/YYYY")
        end = c3.date_input("End date", value=current.end_date if current else None, format="DD/MM/YYYY")
        c1, c2 = st.columns(2)
        budget_revenue = c1.text_input("Revenue budget (£)", value=amount_text(current.budget_revenue if current else None),
                                       placeholder="e.g. 125000.00")
        budget_cost = c2.text_input("Cost budget (£)", value=amount_text(current.budget_cost if current else None),
                                    placeholder="e.g. 98000.00")
        if not st.form_submit_button("Save project" if current else "Create project", type="primary"):
            return None
    try:
        return ProjectInput(name=name, client_name=client, status=status, start_date=start, end_date=end,
                            budget_revenue=budget_revenue.replace(",", "").replace("£", "").strip() or None,
                            budget_cost=budget_cost.replace(",", "").replace("£", "").strip() or None).model_dump()
    except ValidationError as exc:
        show_problems(exc, PROJECT_LABELS)
        return None


def edit_form(chosen) -> None:
    """The edit form of the project picked in the table (drawn inside the table's fragment)."""
    header = project_service.project_header(chosen["id"])
    if header is None:
        st.warning("That project was deleted meanwhile.")
        return
    st.subheader(f"Edit {as_text(header.name)}")
    values = project_form(f"proj_edit_{header.id}_{header.version}", header)
    if values is not None:
        try:
            project_service.update_project(user, header.id, header.version, values)
        except MilestoneError as exc:
            st.error(as_text(exc))
            return
        clear_caches()
        st.session_state["proj_saved"] = f"Saved {as_text(values['name'])}."
        st.rerun()  # the whole page, so the table shows the new values


st.title("Projects")
freshness_banner()
user = current_user()
filters = sidebar_filters()
if note := st.session_state.pop("proj_saved", None):
    st.success(note)
projects = load_projects(filters)
search = st.text_input("Search projects", placeholder="Name or client", key="proj_search")
if search:
    needle = search.casefold()
    projects = projects[[needle in f"{n} {c}".casefold() for n, c in zip(projects["name"], projects["client_name"])]]

if projects.empty:
    st.info("No project matches. Clear the search or the sidebar filters" +
            (", or create one below." if user.role in WRITE_ROLES else "."))
else:
    st.caption(f"{len(projects):,} projects. Select a row to open or edit it.")
    export_buttons("projects", filters, key="proj_export")
    project_table(projects, {"name": "Project", "client_name": "Client", "status": "Status", "owner": "Owner",
                             "revenue": "Revenue", "costs": "Costs", "profit": "Profit", "margin": "Margin",
                             "budget_revenue": "Revenue budget", "budget_cost": "Cost budget"},
                  key="proj_table", height=380, on_pick=edit_form if user.role in WRITE_ROLES else None)

if user.role in WRITE_ROLES:
    with st.expander("New project", icon=":material/add:"):
        values = project_form("proj_new")
        if values is not None:
            try:
                project_service.create_project(user, values)
                clear_caches()
                st.success(f"Created {as_text(values['name'])} for {as_text(values['client_name'])}.")
            except MilestoneError as exc:
                st.error(as_text(exc))
else:
    st.caption("You have read-only access: ask an admin or finance colleague to create or change projects.")

"""Milestone: the entry point. Page registry, sign-in gate and the shared sidebar."""
import streamlit as st

from milestone import observability, repository
from milestone.ui.common import engine

st.set_page_config(page_title="Milestone", page_icon=":bar_chart:", layout="wide")

# Sign-in is filled in by the users-and-roles work; until then the app acts as the admin.
if "user" not in st.session_state:
    st.session_state["user"] = repository.get_user("admin", engine())

user = st.session_state["user"]
PAGES = {
    "Dashboard": st.Page("pages/dashboard.py", title="Dashboard", icon=":material/dashboard:", default=True),
    "Projects": st.Page("pages/projects.py", title="Projects", icon=":material/folder:"),
    "Project": st.Page("pages/project.py", title="Project P&L", icon=":material/request_quote:", url_path="project"),
    "Estimates": st.Page("pages/estimates.py", title="Estimates", icon=":material/edit_note:"),
    "Export": st.Page("pages/export.py", title="Export", icon=":material/download:"),
    "Admin": st.Page("pages/admin.py", title="Admin", icon=":material/admin_panel_settings:"),
    "Monitoring": st.Page("pages/monitoring.py", title="Monitoring", icon=":material/monitor_heart:"),
}
ROLE_PAGES = {
    "admin": list(PAGES),
    "finance": ["Dashboard", "Projects", "Project", "Estimates", "Export"],
    "viewer": ["Dashboard", "Projects", "Project", "Export"],
}
role = user.role if user else "viewer"
nav = st.navigation([PAGES[name] for name in ROLE_PAGES[role]])
with st.sidebar:
    if user:
        st.caption(f"Signed in as **{user.display_name}** ({user.role})")
with observability.page_timer(nav.title):
    nav.run()

"""Milestone: the entry point. Page registry, sign-in gate and the shared sidebar."""

import streamlit as st

from milestone import observability
from milestone.ui.auth import require_user, sign_out
from milestone.ui.common import plain_when_database_down

st.set_page_config(page_title="Milestone", page_icon=":bar_chart:", layout="wide")
user = None
with plain_when_database_down():
    user = require_user()  # nobody sees anything before signing in
if user is None:  # the database did not answer: the message is drawn
    st.stop()
PAGES = {
    "Dashboard": st.Page("views/dashboard.py", title="Dashboard", icon=":material/dashboard:", default=True),
    "Projects": st.Page("views/projects.py", title="Projects", icon=":material/folder:"),
    "Project": st.Page("views/project.py", title="Project P&L", icon=":material/request_quote:", url_path="project"),
    "Estimates": st.Page("views/estimates.py", title="Estimates", icon=":material/edit_note:"),
    "Export": st.Page("views/export.py", title="Export", icon=":material/download:"),
    "Import": st.Page("views/import_xero.py", title="Import", icon=":material/upload:", url_path="import"),
    "Users": st.Page("views/users.py", title="Users", icon=":material/manage_accounts:", url_path="users"),
    "Monitoring": st.Page("views/monitoring.py", title="Monitoring", icon=":material/monitor_heart:"),
}
ROLE_PAGES = {
    "admin": list(PAGES),
    "finance": ["Dashboard", "Projects", "Project", "Estimates", "Export", "Import"],
    "viewer": ["Dashboard", "Projects", "Project", "Export"],
}
nav = st.navigation([PAGES[name] for name in ROLE_PAGES[user.role]])
with st.sidebar:
    st.caption(f"Signed in as **{user.display_name}** ({user.role})")
    if st.button(
        "Sign out", key="sign_out", icon=":material/logout:", help="Ends your sessions in every tab and browser"
    ):
        sign_out()
with observability.page_timer(nav.title), plain_when_database_down():
    nav.run()

"""Users (admins only): create users, change roles, disable, reset passwords, read sign-ins."""
import streamlit as st
from pydantic import ValidationError

from milestone import auth
from milestone.errors import MilestoneError
from milestone.formatting import as_text
from milestone.services import users as user_service
from milestone.ui.common import current_user, show_problems
from milestone.validation import USER_LABELS, NewUser

st.title("Users")
me = current_user()
if me.role != "admin":  # the page registry hides this page; this is the belt to its braces
    st.error("Only admins can manage users.")
    st.stop()

done = st.session_state.pop("users_done", None)  # kept across the rerun that redraws the table
if done:
    st.success(done)
users = user_service.list_users()
st.dataframe(users, hide_index=True, width="stretch", column_config={
    "username": "Username", "display_name": "Name", "email": "Email", "role": "Role", "disabled": "Disabled",
    "must_change_password": "Must change password",
    "last_login": st.column_config.DatetimeColumn("Last sign-in", format="DD/MM/YYYY HH:mm")})


def _show_password_once(username: str, password: str) -> None:
    st.success(f"Done. Give {username} this one-time password: `{password}` "
               "(shown once; they choose their own at first sign-in).")


tab_new, tab_change, tab_logins = st.tabs(["New user", "Change a user", "Sign-ins"])
with tab_new, st.form("users_new", clear_on_submit=True):
    c1, c2 = st.columns(2)
    username = c1.text_input("Username", placeholder="e.g. jsmith", key="users_new_username")
    display_name = c2.text_input("Name", placeholder="e.g. Jo Smith", key="users_new_name")
    email = c1.text_input("Email (optional)", key="users_new_email")
    role = c2.selectbox("Role", ["viewer", "finance", "admin"])
    if st.form_submit_button("Create user", type="primary"):
        try:
            new = NewUser(username=username.lower(), display_name=display_name, email=email, role=role)
            password = auth.generate_password()
            user_service.add_user(me, new.username, new.display_name, new.role, auth.hash_password(password),
                                  new.email)
            _show_password_once(new.username, password)
        except ValidationError as exc:
            show_problems(exc, USER_LABELS)
        except MilestoneError as exc:  # not allowed, or the username is taken
            st.error(as_text(exc))

with tab_change:
    who = st.selectbox("User", list(users["username"]), key="users_pick")
    row = users[users["username"] == who].iloc[0]
    c1, c2, c3 = st.columns(3)
    new_role = c1.selectbox("Role", ["viewer", "finance", "admin"], key=f"users_role_{who}",
                            index=["viewer", "finance", "admin"].index(row["role"]))
    try:
        if c1.button("Change role", key="users_role_btn", disabled=new_role == row["role"]):
            user_service.update_user(me, who, role=new_role)
            st.session_state["users_done"] = f"{who} is now {new_role}."
            st.rerun()
        label = "Enable" if row["disabled"] else "Disable"
        if c2.button(f"{label} {who}", key="users_disable_btn"):
            user_service.update_user(me, who, disabled=not row["disabled"])
            st.session_state["users_done"] = f"{who} is {'enabled' if row['disabled'] else 'disabled and signed out'}."
            st.rerun()
        if c3.button(f"Reset {who}'s password", key="users_reset_btn"):
            password = auth.generate_password()
            user_service.set_password(me, who, auth.hash_password(password), must_change=True)
            _show_password_once(who, password)
    except MilestoneError as exc:
        st.error(as_text(exc))

with tab_logins:
    st.caption("Sign-in attempts, newest first. Passwords are never recorded.")
    st.dataframe(user_service.recent_logins(200), hide_index=True, width="stretch", column_config={
        "at": st.column_config.DatetimeColumn("When", format="DD/MM/YYYY HH:mm:ss"), "username": "Username typed",
        "success": "Signed in", "reason": "Result"})

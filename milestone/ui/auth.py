"""Sign-in, sign-out, first-login password change and idle expiry.

Passwords are checked against app_users (bcrypt) with the lock-out counted in the database
(users.authenticate). streamlit-authenticator's cookie controller keeps a signed JWT in
the browser so a reload does not sign the person out. The cookie lives as long as the idle
timeout and is renewed while the person is active; signing out (or being disabled or reset)
invalidates every cookie issued before that moment, in the database.
"""
from __future__ import annotations

import time

import streamlit as st

from milestone import auth, config
from milestone.formatting import as_text
from milestone.services import users
from milestone.store.users import User

COOKIE_NAME = "milestone_auth"
_RENEW_EVERY_S = 300
_RUN_CONTROLLER = "_cookie_controller"


def _cookies():
    """The cookie controller of this run (its browser component may be drawn once per run)."""
    from streamlit_authenticator.controllers import CookieController

    st.session_state.setdefault("logout", False)  # the controller reads this key
    ctrl = CookieController(COOKIE_NAME, config.cookie_key(), config.idle_minutes() / (24 * 60))
    st.session_state[_RUN_CONTROLLER] = ctrl
    return ctrl


def _set_cookie(ctrl, username: str) -> None:
    st.session_state["username"] = username  # the controller signs this name
    ctrl.set_cookie()
    st.session_state["cookie_renewed"] = time.time()


def sign_out(message: str | None = None) -> None:
    """End the session here and everywhere, then show the sign-in form (stops the script)."""
    user = st.session_state.get("user")
    if user:
        users.end_sessions(user.username)
    ctrl = st.session_state.get(_RUN_CONTROLLER)
    for key in list(st.session_state):
        del st.session_state[key]
    st.session_state["logout"] = True
    # kept until the next sign-in: the cookie component's reply reruns the script
    st.session_state["signed_out_message"] = message
    if ctrl is not None:
        ctrl.delete_cookie()
    st.navigation([st.Page(_no_page, title="Sign in", url_path="signin", default=True)], position="hidden")
    _login_form(ctrl, message)
    st.stop()


def _login_form(ctrl, note: str | None = None) -> User | None:
    """Draw the sign-in form; on success start the session and return the user."""
    box = st.empty()
    note = note or st.session_state.get("signed_out_message")
    with box.container():
        st.title("Milestone")
        st.caption("Project P&L for the practice. Sign in to continue.")
        if note:
            st.info(note)
        with st.form("login"):
            username = st.text_input("Username", autocomplete="username")
            password = st.text_input("Password", type="password", autocomplete="current-password")
            submitted = st.form_submit_button("Sign in", type="primary")
        if not submitted:
            return None
        if not username.strip() or not password:
            st.error("Enter your username and password.")
            return None
        result = users.authenticate(username, password)
        if result.user is None:
            st.error(result.message)
            return None
    box.empty()
    st.session_state.pop("signed_out_message", None)
    st.session_state.update(user=result.user, last_seen=time.time(), logout=False)
    if ctrl is not None:
        _set_cookie(ctrl, result.user.username)
    return result.user


def _change_password_form(user: User) -> None:
    st.title("Choose a new password")
    st.write(f"Welcome, {as_text(user.display_name)}. Your password was set by an admin: choose your own to continue.")
    with st.form("new_password"):
        first = st.text_input("New password", type="password", autocomplete="new-password")
        second = st.text_input("New password again", type="password", autocomplete="new-password")
        if not st.form_submit_button("Save password", type="primary"):
            return
    problems = auth.password_problems(first, user.username)
    if first != second:
        problems.append("the two passwords differ")
    if problems:
        st.error("The password " + "; ".join(problems) + ".")
        return
    users.set_password(user, user.username, auth.hash_password(first), must_change=False)
    st.session_state["user"] = users.get_user(user.username)
    st.rerun()


def _no_page() -> None:
    """The sign-in 'page' draws nothing itself: require_user draws the form."""


def _from_cookie(ctrl) -> User | None:
    token = ctrl.get_cookie()
    if not token or not token.get("username"):
        return None
    issued_at = token["exp_date"] - config.idle_minutes() * 60
    if not users.session_still_valid(token["username"], issued_at):
        return None
    return users.get_user(token["username"])


def require_user() -> User:
    """Return the signed-in user, or draw the sign-in form and stop the script."""
    try:
        ctrl = _cookies()
    except config.ConfigError as exc:
        st.error(f"Milestone is not configured safely: {exc}")
        st.stop()
    user = st.session_state.get("user")
    if user is None:
        user = _from_cookie(ctrl)
        if user:
            st.session_state.update(user=user, last_seen=time.time(), cookie_renewed=time.time())
    if user is None:
        # Register only a hidden sign-in page, so the sidebar lists nothing before sign-in
        # (the page scripts live in views/, which Streamlit never registers by itself).
        st.navigation([st.Page(_no_page, title="Sign in", url_path="signin", default=True)], position="hidden")
        user = _login_form(ctrl)
        if user is None:
            st.stop()

    if time.time() - st.session_state.get("last_seen", time.time()) > config.idle_minutes() * 60:
        sign_out(f"You were signed out after {config.idle_minutes()} minutes without activity.")
    # Re-read the account on every run: a disabled user or a changed role takes effect at once.
    fresh = users.get_user(user.username)
    if fresh is None or fresh.disabled:
        sign_out("Your account is disabled. Ask an admin.")
    st.session_state.update(user=fresh, last_seen=time.time())
    if "cookie_renewed" in st.session_state and time.time() - st.session_state["cookie_renewed"] > _RENEW_EVERY_S:
        _set_cookie(ctrl, fresh.username)
    if fresh.must_change_password:
        _change_password_form(fresh)
        st.stop()
    return fresh

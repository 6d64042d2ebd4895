"""The sign-in gate of every page: the server-side session named by the HttpOnly cookie.

Signing in happens on the server's own /signin route (milestone/signin.py), which sets the
cookie; a Streamlit script cannot. On every run the page reads the cookie through
`st.context.cookies` and looks the session up in the database (one indexed query that also
re-reads the account), so a sign-out, "sign out everywhere", a disabled account, a role change
or a password reset takes effect in every open tab at its next click. Without a live session the
page draws nothing but a link to the sign-in page and sends the browser there.
"""

from __future__ import annotations

import html
import json
from typing import NoReturn

import streamlit as st

from milestone import auth, config
from milestone.formatting import as_text
from milestone.services import sessions, users
from milestone.services.sessions import COOKIE_NAME
from milestone.store.users import User

__all__ = ["COOKIE_NAME", "require_user", "sign_out"]

_NOTES = {
    "signed_out": "You have signed out.",
    "idle": "You were signed out after {idle} minutes without activity.",
    "expired": "Your session has ended.",
    "revoked": "You were signed out.",
    "disabled": "You were signed out.",
}


def _base() -> str:
    return config.settings().base_path.rstrip("/")


def _in_apptest() -> bool:
    """True only under streamlit.testing's AppTest, whose runtime is a mock. The running server
    never has one, so the test seam below cannot be reached in production."""
    from unittest.mock import NonCallableMock

    from streamlit.runtime import Runtime

    return isinstance(getattr(Runtime, "_instance", None), NonCallableMock)


def _no_page() -> None:
    """The only page registered before sign-in: it draws nothing itself."""


def _leave(target: str, note: str | None) -> NoReturn:
    """Draw only a note and a link, send the browser to `target`, and stop the script."""
    st.navigation([st.Page(_no_page, title="Sign in", url_path="signin", default=True)], position="hidden")
    st.title("Milestone")
    if note:
        st.info(note)
    st.markdown(f'<a href="{html.escape(target)}" target="_self">Sign in</a>', unsafe_allow_html=True)
    if not _in_apptest():
        st.html(f"<script>window.location.replace({json.dumps(target)});</script>", unsafe_allow_javascript=True)
    st.stop()


def _token() -> str | None:
    if _in_apptest():
        return None
    try:
        return st.context.cookies.get(COOKIE_NAME)
    except Exception:  # noqa: BLE001 - no request context (AppTest): no cookie
        return None


def sign_out(reason: str = "signed_out") -> None:
    """Sign out everywhere: revoke this session and the user's others now (so every open tab
    drops out at its next click), then let /signout clear this browser's cookie."""
    sessions.end(_token())
    user = st.session_state.get("user")
    if user is not None:  # the same, by name (also where there is no cookie: AppTest)
        users.end_sessions(user.username)
    st.session_state.clear()
    _leave(f"{_base()}/signout?m={reason}", _NOTES.get(reason))


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
    st.rerun()


def require_user() -> User:
    """Return the signed-in user, or send the browser to the sign-in page and stop the script."""
    if _in_apptest() and st.session_state.get("user") is not None:
        # tests/apptest.py `app_as`: the account is still re-read, as a session lookup would.
        user, why = users.get_user(st.session_state["user"].username), "disabled"
        if user is not None and user.disabled:
            user = None
    else:
        user, why = sessions.current(_token())
    if user is None:
        st.session_state.clear()
        note = _NOTES.get(why, "").format(idle=config.idle_minutes()) or None
        _leave(f"{_base()}/signin" + (f"?m={why}" if why in _NOTES else ""), note)
    st.session_state["user"] = user
    if user.must_change_password:
        _change_password_form(user)
        st.stop()
    return user

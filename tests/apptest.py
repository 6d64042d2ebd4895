"""AppTest helpers: run the real app in-process as a given demo user."""
from __future__ import annotations

from streamlit.testing.v1 import AppTest

from milestone.services import users
from milestone.config import PROJECT_ROOT


def app_as(username: str | None = "admin", timeout: float = 60) -> AppTest:
    """The app with `username` already signed in (None: nobody signed in)."""
    at = AppTest.from_file(str(PROJECT_ROOT / "app.py"), default_timeout=timeout)
    if username:
        at.session_state["user"] = users.get_user(username)
    return at

"""No page shows a stack trace or an internal message to anyone, signed in or not."""

import tomllib
from pathlib import Path

import pytest
from streamlit import config as st_config

from milestone import seed
from tests.apptest import app_as

ROOT = Path(__file__).resolve().parents[2]


def test_every_runner_hides_error_details():
    conf = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert conf["client"]["showErrorDetails"] == "none"  # in 1.67, false still means "stacktrace"
    from milestone import server

    server.create_app()
    assert st_config.get_option("client.showErrorDetails") == "none"


@pytest.mark.parametrize("role", ["admin", "viewer"])
def test_a_crashing_page_shows_no_trace_or_message(database, monkeypatch, role):
    seed.ensure_demo_users(database.owner)
    from milestone.services import pnl

    def boom(*a, **k):
        raise RuntimeError("password=hunter2 at /work/secret/path.py line 42")

    for name in [n for n in dir(pnl) if not n.startswith("_") and callable(getattr(pnl, n))]:
        monkeypatch.setattr(pnl, name, boom)
    at = app_as(role).run()
    shown = " ".join(str(e.proto) for e in at.exception) + " ".join(str(e.value) for e in at.error)
    assert at.exception, "the page was expected to crash"
    assert "hunter2" not in shown and "secret/path" not in shown and "Traceback" not in shown
    assert not any(e.stack_trace for e in at.exception)

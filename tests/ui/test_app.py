"""Every page renders (AppTest, in-process) on demo data and on an empty database."""

import pytest
from streamlit.testing.v1 import AppTest  # noqa: F401

from milestone import seed
from tests.apptest import app_as

PAGES = [
    "views/dashboard.py",
    "views/projects.py",
    "views/project.py",
    "views/estimates.py",
    "views/export.py",
    "views/import_xero.py",
    "views/users.py",
    "views/monitoring.py",
]


def _app() -> AppTest:
    return app_as("admin")


@pytest.fixture(scope="module")
def demo(database):
    seed.ensure_demo_users(database.owner)
    seed.load(database.owner, 0.01, 1, progress=False)
    return database


@pytest.mark.parametrize("page", PAGES)
def test_each_page_renders_on_demo_data(demo, page):
    at = _app().run()
    if page != PAGES[0]:
        at.switch_page(page).run()
    assert not at.exception, at.exception


def test_dashboard_shows_the_kpi_cards_in_money(demo):
    at = _app().run()
    labels = [m.label for m in at.metric]
    assert labels[:7] == ["Revenue", "Costs", "Profit", "Margin", "Forecast profit", "Forecast margin", "Outstanding"]
    values = {m.label: m.value for m in at.metric}
    assert values["Revenue"].startswith("£") and values["Margin"].endswith("%")


def test_dashboard_on_an_empty_database_is_friendly(fresh_database):
    seed.ensure_demo_users(fresh_database.owner)
    at = _app().run()
    assert not at.exception
    assert any("No projects yet" in i.value for i in at.info)


def test_a_database_that_does_not_answer_gets_a_plain_message_and_the_app_recovers(demo, monkeypatch):
    """Sign in, lose the database (a URL where nothing listens), then get it back."""
    import streamlit as st

    from milestone import db

    at = _app().run()
    assert not at.exception

    def point_at(url: str | None) -> None:
        if url:
            monkeypatch.setenv("DATABASE_URL", url)
        else:
            monkeypatch.undo()
        db.engine.cache_clear()
        st.cache_resource.clear()
        st.cache_data.clear()

    point_at("postgresql://postgres@127.0.0.1:9/nothing?connect_timeout=2")
    at.run()
    assert not at.exception, at.exception
    assert any("The database is not answering" in e.value for e in at.error)
    point_at(None)
    at.run()
    assert not at.exception and not any("not answering" in e.value for e in at.error)
    assert [m.label for m in at.metric][:1] == ["Revenue"]

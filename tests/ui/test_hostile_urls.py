"""Hand-made URLs with SQL, script and Markdown payloads in every query parameter, through the
real pages in-process (AppTest): no exception, no traceback, the page still draws (its filters
drop what they do not know), and nothing reaches the database as SQL (the tables are intact)."""

from datetime import date

import pytest

from milestone import seed
from tests.apptest import app_as

SQL = "'; DROP TABLE milestone.projects; --"
SCRIPT = "<script>alert(1)</script>"
QUERIES = [
    {"client": [SQL, SCRIPT], "status": [SQL], "phase": [SCRIPT, "unassigned"], "owner": [SQL], "fav": SQL},
    {"period": SQL, "from": SCRIPT, "to": "[x](https://evil.example)"},
    {"period": "Custom", "from": "2026-01-01'; --", "to": "2026-02-01\x00"},
    {"client": ["x" * 5000], "phase": ["00000000-0000-0000-0000-000000000000"], "fav": "1"},
]


@pytest.fixture(scope="module")
def demo(database):
    seed.ensure_demo_users(database.owner)
    seed.load(database.owner, 0.01, 1, anchor=date(2026, 11, 1), progress=False)
    return database


@pytest.mark.parametrize("query", QUERIES, ids=["lists", "period", "custom", "huge"])
@pytest.mark.parametrize("page", ["views/dashboard.py", "views/projects.py", "views/estimates.py"])
def test_hostile_query_parameters_never_crash_a_page(demo, page, query):
    at = app_as("finance")
    for key, value in query.items():
        at.query_params[key] = value
    at.run()
    if page != "views/dashboard.py":
        at.switch_page(page).run()
    assert not at.exception, at.exception
    assert not [e.value for e in at.error], [e.value for e in at.error]
    assert demo.scalar("SELECT count(*) FROM milestone.projects") > 0


@pytest.mark.parametrize("project", [SQL, SCRIPT, "00000000-0000-0000-0000-000000000000", "x" * 5000])
def test_a_hostile_project_id_in_the_url_is_a_plain_page(demo, project):
    at = app_as("viewer")
    at.query_params["project"] = project
    at.run()
    at.switch_page("views/project.py").run()
    assert not at.exception, at.exception
    assert any("no longer exists" in w.value for w in at.warning), [w.value for w in at.warning]
    assert demo.scalar("SELECT count(*) FROM milestone.projects") > 0

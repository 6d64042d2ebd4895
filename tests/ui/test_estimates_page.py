"""The Estimates page driven through the editor's edit state, as the grid would set it."""
from datetime import date

import pytest

from milestone import seed
from tests import builders
from tests.apptest import app_as


@pytest.fixture(scope="module")
def demo(database):
    seed.ensure_demo_users(database.owner)
    pid = builders.project(database, "Editor project", client="Aardvark Ltd")  # sorts first
    for i in range(3):
        builders.estimate(database, pid, f"{100 + i}.00", description=f"Existing {i}")
    return {"db": database, "pid": pid}


def _page(role="finance"):
    at = app_as(role).run()
    at.switch_page("views/estimates.py").run()
    assert not at.exception, at.exception
    return at


def _save(at, state):
    at.session_state["estimates_editor"] = {"edited_rows": {}, "added_rows": [], "deleted_rows": []} | state
    at.run()
    at.button(key="estimates_editor__save").click().run()
    return at


def _snapshot(tdb):
    return tdb.rows("SELECT id, description, amount, version FROM milestone.estimates ORDER BY id")


def test_a_valid_batch_is_saved_with_the_user_in_the_audit(demo):
    tdb = demo["db"]
    at = _page()
    label = "Aardvark Ltd — Editor project"
    at = _save(at, {"edited_rows": {0: {"amount": 150.5}},
                    "added_rows": [{"project_label": label, "kind": "cost", "description": "Scaffold hire",
                                    "amount": 999.99, "date": "2026-12-01"}]})
    assert not at.exception
    assert [s.value for s in at.success] == ["Saved 2 changes: 1 updated, 1 added."]
    assert tdb.scalar("SELECT count(*) FROM milestone.estimates WHERE description LIKE 'Existing %' AND amount = 150.50") == 1
    assert tdb.scalar("SELECT count(*) FROM milestone.estimates WHERE description = 'Scaffold hire'") == 1
    assert tdb.scalar("""SELECT user_id FROM milestone.audit_log WHERE table_name = 'estimates'
                         ORDER BY id DESC LIMIT 1""") == "finance"


def test_an_invalid_batch_lists_every_problem_and_writes_nothing(demo):
    tdb = demo["db"]
    before = _snapshot(tdb)
    at = _save(_page(), {"edited_rows": {1: {"amount": 0}, 2: {"description": ""}},
                         "added_rows": [{"kind": "cost", "description": "x" * 501, "amount": "abc"}]})
    text = at.error[0].value
    assert "Nothing was saved" in text
    for expected in ("Row 2, Amount: must be greater than 0", "Row 3, Description: must not be empty",
                     "New row 1, Project: is required", "New row 1, Description: is too long",
                     "New row 1, Amount: must be a number, not 'abc'", "New row 1, Date: is required"):
        assert expected in text, expected
    assert _snapshot(tdb) == before
    assert at.session_state["estimates_editor"]["edited_rows"]  # the edits are still there to fix


def test_a_viewer_sees_estimates_read_only_on_the_project_page(demo):
    at = app_as("viewer").run()
    at.switch_page("views/project.py").run()
    assert not at.exception
    assert not [b for b in at.button if b.label == "Save changes"]


def test_history_lists_saves_and_offers_undo_to_their_author(demo):
    at = _page()
    at.tabs[1]  # the History tab renders with the page
    assert any("finance" in e.label for e in at.expander)
    assert [b for b in at.button if b.label == "Undo this save"]

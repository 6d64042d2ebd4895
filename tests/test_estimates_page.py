"""The Estimates page driven through the editor's edit state, as the grid would set it."""

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


def _page(role="finance", everything=True):
    at = app_as(role).run()
    at.switch_page("views/estimates.py").run()
    if everything:  # widen the default (my open projects, the next three months) to every estimate
        at.toggle(key="est_mine").set_value(False)
        at.date_input(key="est_dates").set_value(())
        at.run()
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


def test_two_projects_with_the_same_client_and_name_keep_their_own_rows(fresh_database):
    tdb = fresh_database
    seed.ensure_demo_users(tdb.owner)
    first = builders.project(tdb, "Barn", client="Aardvark Twins")
    second = builders.project(tdb, "Barn", client="Aardvark Twins")
    builders.estimate(tdb, second, "10.00", description="Second's row")
    labels = {pid: f"Aardvark Twins — Barn (#{pid[:8]})" for pid in (first, second)}
    at = _page()
    row = list(at.session_state["estimates_editor__loaded"][1]["description"]).index("Second's row")
    at = _save(at, {"edited_rows": {row: {"amount": 12.5}},
                    "added_rows": [{"project_label": labels[first], "kind": "cost", "description": "First's new row",
                                    "amount": 5, "date": "2026-12-01"}]})
    assert [s.value for s in at.success] == ["Saved 2 changes: 1 updated, 1 added."], [e.value for e in at.error]
    owner = {r["description"]: r["project_id"]
             for r in tdb.rows("SELECT description, project_id::text AS project_id FROM milestone.estimates")}
    assert owner == {"Second's row": second, "First's new row": first}


def test_the_page_opens_on_my_open_projects_for_the_next_three_months(fresh_database):
    from datetime import date, timedelta

    tdb = fresh_database
    seed.ensure_demo_users(tdb.owner)
    finance_id = tdb.scalar("SELECT id::text FROM milestone.app_users WHERE username = 'finance'")
    soon = (date.today() + timedelta(days=20)).isoformat()
    mine = builders.project(tdb, "Mine", user_id=finance_id)
    done = builders.project(tdb, "Mine but done", user_id=finance_id, status="Completed")
    theirs = builders.project(tdb, "Theirs")
    for pid, text in ((mine, "mine soon"), (done, "done soon"), (theirs, "theirs soon")):
        builders.estimate(tdb, pid, "10.00", description=text, on=date.fromisoformat(soon))
    builders.estimate(tdb, mine, "10.00", description="mine in two years", on=date(2028, 12, 1))
    at = _page(everything=False)
    assert list(at.session_state["estimates_editor__loaded"][1]["description"]) == ["mine soon"]


def test_a_grid_holds_at_most_its_limit_and_says_how_to_narrow(fresh_database, monkeypatch):
    from milestone.ui import estimates as grid

    tdb = fresh_database
    seed.ensure_demo_users(tdb.owner)
    pid = builders.project(tdb, "Busy")
    for i in range(5):
        builders.estimate(tdb, pid, "1.00", description=f"e{i}")
    monkeypatch.setattr(grid, "MAX_GRID_ROWS", 3)
    at = _page()
    assert len(at.session_state["estimates_editor__loaded"][1]) == 3
    assert any("5 estimates match; the grid holds the first 3" in w.value for w in at.warning)

"""Project writes: role checks, optimistic concurrency, audit."""

from decimal import Decimal

import pytest

from milestone import seed
from milestone.errors import PermissionDenied, StaleEdit
from milestone.services import preferences, projects, users
from tests import builders


@pytest.fixture(scope="module")
def people(database):
    seed.ensure_demo_users(database.owner)
    return {u: users.get_user(u) for u in ("admin", "finance", "viewer")}


VALUES = {
    "name": "New build",
    "client_name": "Client",
    "status": "Planning",
    "start_date": None,
    "end_date": None,
    "budget_revenue": Decimal("10.00"),
    "budget_cost": None,
}


def test_a_viewer_cannot_create_or_edit_projects(database, people):
    before = database.scalar("SELECT count(*) FROM milestone.projects")
    with pytest.raises(PermissionDenied):
        projects.create_project(people["viewer"], VALUES)
    pid = builders.project(database, "Viewer target")
    with pytest.raises(PermissionDenied):
        projects.update_project(people["viewer"], pid, 1, {"status": "Completed"})
    assert database.scalar("SELECT count(*) FROM milestone.projects") == before + 1
    assert database.scalar("SELECT status FROM milestone.projects WHERE id = :p", p=pid) == "In Progress"


def test_finance_creates_a_project_it_owns(database, people):
    pid = projects.create_project(people["finance"], VALUES)
    assert database.scalar("SELECT user_id::text FROM milestone.projects WHERE id = :p", p=pid) == people["finance"].id
    assert database.scalar("SELECT count(*) FROM milestone.project_metrics WHERE project_id = :p", p=pid) == 1


def test_an_edit_based_on_an_old_version_is_refused_and_names_who_changed_it(database, people):
    pid = projects.create_project(people["finance"], VALUES)
    v2 = projects.update_project(people["admin"], pid, 1, {"status": "In Progress"})
    assert v2 == 2
    with pytest.raises(StaleEdit, match="changed by admin"):
        projects.update_project(people["finance"], pid, 1, {"status": "On Hold"})
    assert database.scalar("SELECT status FROM milestone.projects WHERE id = :p", p=pid) == "In Progress"


def test_saved_views_and_favourites_round_trip(database, people):
    u = people["viewer"]
    preferences.save_view(u, "Loss makers", {"period": "This financial year"}, make_default=True)
    preferences.save_view(u, "Harper", {"client": ["Harper Homes"]})
    prefs = preferences.preferences(u.id)
    assert prefs.saved_views["Harper"] == {"client": ["Harper Homes"]} and prefs.default_view == "Loss makers"
    preferences.delete_view(u, "Loss makers")
    assert preferences.preferences(u.id).default_view is None
    pid = builders.project(database, "Starred")
    preferences.set_favourite(u, pid, True)
    preferences.set_favourite(u, pid, True)
    assert preferences.preferences(u.id).favourite_projects == (pid,)
    preferences.set_favourite(u, pid, False)
    assert preferences.preferences(u.id).favourite_projects == ()

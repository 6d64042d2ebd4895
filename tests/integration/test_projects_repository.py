"""Project writes: role checks, optimistic concurrency, audit."""
from decimal import Decimal

import pytest

from milestone import repository, seed
from milestone.repository import PermissionDenied, StaleEdit
from tests import builders


@pytest.fixture(scope="module")
def users(database):
    seed.ensure_demo_users(database.owner)
    return {u: repository.get_user(u, database.app) for u in ("admin", "finance", "viewer")}


VALUES = {"name": "New build", "client_name": "Client", "status": "Planning", "start_date": None, "end_date": None,
          "budget_revenue": Decimal("10.00"), "budget_cost": None}


def test_a_viewer_cannot_create_or_edit_projects(database, users):
    before = database.scalar("SELECT count(*) FROM milestone.projects")
    with pytest.raises(PermissionDenied):
        repository.create_project(users["viewer"], VALUES, database.app)
    pid = builders.project(database, "Viewer target")
    with pytest.raises(PermissionDenied):
        repository.update_project(users["viewer"], pid, 1, {"status": "Completed"}, database.app)
    assert database.scalar("SELECT count(*) FROM milestone.projects") == before + 1
    assert database.scalar("SELECT status FROM milestone.projects WHERE id = :p", p=pid) == "In Progress"


def test_finance_creates_a_project_it_owns(database, users):
    pid = repository.create_project(users["finance"], VALUES, database.app)
    assert database.scalar("SELECT user_id::text FROM milestone.projects WHERE id = :p", p=pid) == users["finance"].id
    assert database.scalar("SELECT count(*) FROM milestone.project_metrics WHERE project_id = :p", p=pid) == 1


def test_an_edit_based_on_an_old_version_is_refused_and_names_who_changed_it(database, users):
    pid = repository.create_project(users["finance"], VALUES, database.app)
    v2 = repository.update_project(users["admin"], pid, 1, {"status": "In Progress"}, database.app)
    assert v2 == 2
    with pytest.raises(StaleEdit, match="changed by admin"):
        repository.update_project(users["finance"], pid, 1, {"status": "On Hold"}, database.app)
    assert database.scalar("SELECT status FROM milestone.projects WHERE id = :p", p=pid) == "In Progress"


def test_saved_views_and_favourites_round_trip(database, users):
    u = users["viewer"]
    repository.save_view(u, "Loss makers", {"period": "This financial year"}, make_default=True, eng=database.app)
    repository.save_view(u, "Harper", {"client": ["Harper Homes"]}, eng=database.app)
    prefs = repository.preferences(u.id, database.app)
    assert prefs.saved_views["Harper"] == {"client": ["Harper Homes"]} and prefs.default_view == "Loss makers"
    repository.delete_view(u, "Loss makers", database.app)
    assert repository.preferences(u.id, database.app).default_view is None
    pid = builders.project(database, "Starred")
    repository.set_favourite(u, pid, True, database.app)
    repository.set_favourite(u, pid, True, database.app)
    assert repository.preferences(u.id, database.app).favourite_projects == (pid,)
    repository.set_favourite(u, pid, False, database.app)
    assert repository.preferences(u.id, database.app).favourite_projects == ()

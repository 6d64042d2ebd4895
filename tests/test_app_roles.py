"""What each role sees and may do in the running app (AppTest)."""
import pytest

from milestone import seed
from tests.apptest import app_as


@pytest.fixture(scope="module")
def passwords(database):
    pw = seed.ensure_demo_users(database.owner)
    seed.load(database.owner, 0.01, 2, progress=False)
    return pw


def _pages(at) -> set[str]:
    """Titles of the pages the navigation registered for this session."""
    return {info.get("page_name") for info in at._registered_pages.values()}


@pytest.mark.parametrize("role,pages", [
    ("admin", {"Dashboard", "Projects", "Project P&L", "Estimates", "Export", "Import", "Users", "Monitoring"}),
    ("finance", {"Dashboard", "Projects", "Project P&L", "Estimates", "Export", "Import"}),
    ("viewer", {"Dashboard", "Projects", "Project P&L", "Export"}),
])
def test_each_role_sees_only_its_pages(passwords, role, pages):
    at = app_as(role).run()
    assert not at.exception
    assert _pages(at) == pages


def test_nobody_sees_data_before_signing_in(passwords):
    at = app_as(None).run()
    assert not at.exception
    assert [t.value for t in at.title] == ["Milestone"] and not at.metric
    assert _pages(at) == {"Sign in"}  # not even the names of the pages


def test_signing_in_through_the_form(passwords):
    at = app_as(None).run()
    at.text_input[0].input("finance")
    at.text_input[1].input(passwords["finance"])
    at.button[0].click().run()
    assert not at.exception
    assert at.session_state["user"].username == "finance"
    assert "Dashboard" in [t.value for t in at.title]


def test_a_wrong_password_is_refused_with_a_message(passwords):
    at = app_as(None).run()
    at.text_input[0].input("finance")
    at.text_input[1].input("not it")
    at.button[0].click().run()
    assert [e.value for e in at.error] == ["Username or password is incorrect."]
    assert not at.metric


def test_a_user_with_a_reset_password_must_choose_a_new_one_first(passwords, database):
    database.execute("UPDATE milestone.app_users SET must_change_password = true WHERE username = 'priya'")
    at = app_as("priya").run()
    assert [t.value for t in at.title] == ["Choose a new password"] and not at.metric
    at.text_input[0].input("short")
    at.text_input[1].input("short")
    at.button[0].click().run()
    assert "at least 12 characters" in at.error[0].value
    at.text_input[0].input("a much longer passphrase")
    at.text_input[1].input("a much longer passphrase")
    at.button[0].click().run()
    assert not database.scalar("SELECT must_change_password FROM milestone.app_users WHERE username = 'priya'")


def test_a_viewer_cannot_reach_the_users_page(passwords):
    at = app_as("viewer").run()
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        at.switch_page("views/users.py")


def test_admin_creates_a_user_with_a_one_time_password(passwords, database):
    at = app_as("admin").run()
    at.switch_page("views/users.py").run()
    assert not at.exception, at.exception
    at.text_input(key="users_new_username").input("Jo Smith")  # not a valid username
    at.text_input(key="users_new_name").input("Jo Smith")
    at.button(key="FormSubmitter:users_new-Create user").click().run()
    assert "Username: use 2 to 64 lower-case letters" in at.error[0].value
    at.text_input(key="users_new_username").input("jsmith")
    at.text_input(key="users_new_name").input("Jo Smith")
    at.button(key="FormSubmitter:users_new-Create user").click().run()
    assert not at.error, [e.value for e in at.error]
    assert "one-time password" in at.success[0].value
    assert database.scalar("SELECT must_change_password FROM milestone.app_users WHERE username = 'jsmith'")


def test_a_role_change_on_the_users_page_says_so_after_the_table_redraws(fresh_database):
    seed.ensure_demo_users(fresh_database.owner)
    at = app_as("admin").run()
    at.switch_page("views/users.py").run()
    at.selectbox(key="users_pick").select("viewer").run()
    at.selectbox(key="users_role_viewer").select("finance").run()
    at.button(key="users_role_btn").click().run()
    assert not at.exception
    assert [s.value for s in at.success] == ["viewer is now finance."]
    assert fresh_database.scalar("SELECT role FROM milestone.app_users WHERE username = 'viewer'") == "finance"

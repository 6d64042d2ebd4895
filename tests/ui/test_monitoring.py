"""The monitoring page: admins see health, backups and errors; others are refused."""
from pathlib import Path

from milestone import seed
from milestone.services import backup


def test_admin_sees_health_and_last_backup(fresh_database, tmp_path: Path):
    seed.ensure_demo_users(fresh_database.owner)
    backup.backup(tmp_path, url=fresh_database.url)
    from streamlit.testing.v1 import AppTest
    from milestone.services import users
    at = AppTest.from_file(str(Path(__file__).resolve().parents[2] / "views" / "monitoring.py"), default_timeout=60)
    at.session_state["user"] = users.get_user("admin")
    at.run()
    assert not at.exception
    labels = {m.label: m.value for m in at.metric}
    assert labels["Health"] == "OK"
    assert "Page render p95" in labels and "Active sessions" in labels
    assert any("milestone-" in m.value for m in at.markdown)


def test_viewer_is_refused(fresh_database):
    from streamlit.testing.v1 import AppTest
    from milestone.services import users
    seed.ensure_demo_users(fresh_database.owner)
    at = AppTest.from_file(str(Path(__file__).resolve().parents[2] / "views" / "monitoring.py"), default_timeout=60)
    at.session_state["user"] = users.get_user("viewer")
    at.run()
    assert any("only admins" in e.value for e in at.error)

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
    assert any(s.value.startswith("Ledger reconciles: OK") for s in at.success)


def test_the_ledger_checks_name_a_failing_check(fresh_database):
    from milestone.services import monitoring, users

    seed.ensure_demo_users(fresh_database.owner)
    admin = users.get_user("admin")
    assert monitoring.ledger_checks(admin)["ok"].all()
    # a rollup row no line explains (written by hand, as a bug would)
    fresh_database.execute("INSERT INTO milestone.pnl_monthly (month, costs) VALUES ('2026-01-01', 5)")
    failing = monitoring.ledger_checks(admin).query("not ok")
    assert "costs: pnl_monthly = all bill lines" in set(failing["check_name"])


def test_viewer_is_refused(fresh_database):
    from streamlit.testing.v1 import AppTest

    from milestone.services import users

    seed.ensure_demo_users(fresh_database.owner)
    at = AppTest.from_file(str(Path(__file__).resolve().parents[2] / "views" / "monitoring.py"), default_timeout=60)
    at.session_state["user"] = users.get_user("viewer")
    at.run()
    assert any("only admins" in e.value for e in at.error)

"""Least privilege: what each database role may and may not do."""

import pytest
import sqlalchemy as sa

from milestone import db
from tests import builders


def _as(database, role: str, sql: str, **params):
    with database.owner.connect() as conn:
        with conn.begin():
            conn.execute(sa.text(f"SET LOCAL ROLE {role}"))
            conn.execute(sa.text("SET LOCAL search_path = milestone"))
            return conn.execute(sa.text(sql), params)


@pytest.fixture(scope="module")
def project_id(database):
    pid = builders.project(database, "Roles")
    builders.estimate(database, pid, "10.00")
    return pid


@pytest.mark.parametrize(
    "sql",
    [
        "INSERT INTO invoices (xero_id, issue_date, status, subtotal, total) VALUES ('R1', now(), 'Paid', 1, 1)",
        "INSERT INTO invoice_lines (invoice_id, line_number, line_amount) SELECT id, 9, 1 FROM invoices LIMIT 1",
        "UPDATE projects SET name = 'x'",
        "DELETE FROM estimates",
        "UPDATE project_metrics SET revenue = 0",
    ],
)
def test_xero_reader_cannot_write(database, project_id, sql):
    with pytest.raises(sa.exc.ProgrammingError, match="permission denied"):
        _as(database, "xero_reader", sql)


def test_xero_reader_can_read_the_pnl_but_not_password_hashes(database, project_id):
    assert _as(database, "xero_reader", "SELECT count(*) FROM project_metrics").scalar() >= 1
    with pytest.raises(sa.exc.ProgrammingError, match="permission denied"):
        _as(database, "xero_reader", "SELECT password_hash FROM app_users")


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE audit_log SET user_id = 'someone else'",
        "DELETE FROM audit_log",
        "INSERT INTO audit_log (table_name, operation) VALUES ('projects', 'INSERT')",
    ],
)
def test_the_app_cannot_rewrite_the_audit_log(database, project_id, sql):
    with pytest.raises(sa.exc.ProgrammingError, match="permission denied"):
        _as(database, "milestone_app", sql)


def test_the_app_role_still_writes_audit_rows_through_the_trigger(database, project_id):
    before = database.scalar("SELECT count(*) FROM milestone.audit_log")
    with db.transaction("fran", database.app) as conn:
        conn.execute(sa.text("UPDATE projects SET status = 'On Hold' WHERE id = :p"), {"p": project_id})
    assert database.scalar("SELECT count(*) FROM milestone.audit_log") == before + 1


def test_the_app_engine_logs_in_as_the_app_login_with_milestone_app_rights(database):
    with database.app.connect() as conn:
        assert conn.scalar(sa.text("SELECT session_user")) == "milestone_web"
        assert conn.scalar(sa.text("SELECT pg_has_role('milestone_app', 'MEMBER')"))


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE projects SET budget_revenue = 1",
        "UPDATE projects SET status = 'Completed'",
        "DELETE FROM estimates",
        "SELECT * FROM estimates",
        "SELECT * FROM app_users",
        "DELETE FROM audit_log",
        "DELETE FROM projects",
    ],
)
def test_xero_sync_cannot_touch_app_owned_data(database, project_id, sql):
    with pytest.raises(sa.exc.ProgrammingError, match="permission denied"):
        _as(database, "xero_sync", sql)


def test_xero_sync_writes_documents_and_xero_owned_project_columns(database, project_id):
    _as(database, "xero_sync", "UPDATE projects SET name = 'Renamed in Xero' WHERE id = :p", p=project_id)
    _as(
        database,
        "xero_sync",
        "INSERT INTO projects (name, client_name, xero_tracking_id) VALUES ('New', 'C', 'TRK-sync')",
    )
    _as(
        database,
        "xero_sync",
        """WITH d AS (INSERT INTO invoices (xero_id, issue_date, status, subtotal, total)
                                             VALUES ('SYNC-1', '2026-01-01', 'Paid', 10, 12) RETURNING id)
                                  INSERT INTO invoice_lines (invoice_id, line_number, line_amount, project_id)
                                  SELECT id, 1, 10, :p FROM d""",
        p=project_id,
    )
    _as(database, "xero_sync", "INSERT INTO sync_runs (status) VALUES ('COMPLETED')")
    assert database.scalar("SELECT revenue FROM milestone.project_metrics WHERE project_id = :p", p=project_id) == 10

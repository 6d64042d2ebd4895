"""The database boundary, attacked from the app's own connection and from the other roles."""

import uuid

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from milestone import db
from tests import builders


@pytest.fixture(scope="module")
def project_id(database):
    return builders.project(database, "Boundary")


def _fails(conn, sql: str, match: str = "permission denied") -> None:
    with pytest.raises(sa.exc.ProgrammingError, match=match):
        with conn.begin_nested():
            conn.execute(sa.text(sql))


def test_the_app_login_is_neither_superuser_nor_owner(database):
    assert db.check_app_login(database.app) == []
    assert db.check_app_login(database.owner)  # the check does bite: the owner's login fails it
    owner = database.scalar("SELECT nspowner::regrole::text FROM pg_namespace WHERE nspname = 'milestone'")
    with database.app.connect() as conn:
        assert conn.scalar(sa.text("SELECT session_user")) == "milestone_web"
        assert not conn.scalar(sa.text("SELECT pg_has_role(session_user, :o, 'MEMBER')"), {"o": owner})
        assert not conn.scalar(
            sa.text(
                "SELECT rolsuper OR rolcreaterole OR rolcreatedb OR rolbypassrls "
                "FROM pg_roles WHERE rolname = session_user"
            )
        )


def test_the_app_connection_cannot_become_anyone_else(database):
    owner = database.scalar("SELECT nspowner::regrole::text FROM pg_namespace WHERE nspname = 'milestone'")
    superusers = [r["rolname"] for r in database.rows("SELECT rolname FROM pg_roles WHERE rolsuper")]
    with database.app.connect() as conn:
        for role in {owner, *superusers, "xero_sync", "xero_reader", "pg_write_all_data", "pg_read_server_files"}:
            _fails(conn, f'SET ROLE "{role}"')
            _fails(conn, f'SET SESSION AUTHORIZATION "{role}"')
        conn.rollback()


@pytest.mark.parametrize(
    "sql",
    [
        "DELETE FROM audit_log",
        "UPDATE audit_log SET user_id = 'someone else'",
        "TRUNCATE audit_log",
        "INSERT INTO audit_log (table_name, operation) VALUES ('projects', 'INSERT')",
        "ALTER TABLE audit_log DISABLE TRIGGER ALL",
        "DROP TABLE audit_log",
        "ALTER FUNCTION audit_user() RENAME TO x",
    ],
)
def test_the_app_connection_cannot_rewrite_the_audit_log(database, project_id, sql):
    with db.transaction("fran", database.app) as conn:
        conn.execute(sa.text("UPDATE projects SET status = 'On Hold' WHERE id = :p"), {"p": project_id})
    before = database.scalar("SELECT count(*) FROM milestone.audit_log")
    with database.app.connect() as conn:
        _fails(conn, sql, "permission denied|must be owner")
        conn.rollback()
    assert database.scalar("SELECT count(*) FROM milestone.audit_log") == before


def _definer_functions(database):
    return database.rows("""
        SELECT p.oid::regprocedure::text AS sig, p.proname, p.proconfig, p.prorettype = 'trigger'::regtype AS trig,
               pg_get_function_identity_arguments(p.oid) AS args,
               array(SELECT format_type(t, NULL) FROM unnest(p.proargtypes) t) AS arg_types
        FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
        WHERE n.nspname = 'milestone' AND p.prosecdef""")


def test_every_definer_function_has_a_search_path_and_no_public_execute(database):
    funcs = _definer_functions(database)
    assert {"refresh_project_metrics", "audit_statement"} <= {f["proname"] for f in funcs}
    for f in funcs:
        assert any(c.startswith("search_path=") for c in f["proconfig"] or []), f["sig"]
        for role in ("public", "xero_reader"):
            assert not database.scalar("SELECT has_function_privilege(:r, :f, 'EXECUTE')", r=role, f=f["sig"]), (
                role,
                f["sig"],
            )


def test_xero_reader_cannot_execute_any_definer_function(database, project_id):
    with database.owner.connect() as conn:
        for f in _definer_functions(database):
            if f["trig"]:
                continue  # a trigger function cannot be called directly by anyone
            args = ", ".join(f"NULL::{t}" for t in f["arg_types"])  # typed, so the call finds the function
            with conn.begin():
                conn.execute(sa.text("SET LOCAL ROLE xero_reader"))
                _fails(conn, f"SELECT milestone.{f['proname']}({args})")


def test_the_triggers_still_work_for_the_app_and_the_sync(database, project_id):
    with db.transaction("fran", database.app) as conn:
        doc = conn.execute(
            sa.text(
                "INSERT INTO invoices (xero_id, issue_date, status, subtotal, total) "
                "VALUES (:x, '2026-01-01', 'Paid', 10, 12) RETURNING id"
            ),
            {"x": uuid.uuid4().hex},
        ).scalar()
        conn.execute(
            sa.text(
                "INSERT INTO invoice_lines (invoice_id, line_number, line_amount, project_id) VALUES (:d, 1, 10, :p)"
            ),
            {"d": doc, "p": project_id},
        )
    assert database.scalar("SELECT revenue FROM milestone.project_metrics WHERE project_id = :p", p=project_id) >= 10


@pytest.fixture()
def sync_login(database):
    """A login like n8n's (docs/xero-sync.md): a member of xero_sync that acts as it."""
    name = f"n8n_test_{uuid.uuid4().hex[:8]}"
    database.execute(f"CREATE ROLE {name} LOGIN IN ROLE xero_sync")
    url = make_url(database.url).set(username=name, password=None)
    eng = sa.create_engine(
        url, poolclass=sa.NullPool, connect_args={"options": "-c search_path=milestone -c role=xero_sync"}
    )
    yield name, eng
    eng.dispose()
    database.execute(f"DROP ROLE {name}")


def test_a_sync_write_with_a_spoofed_user_is_audited_as_the_sync(database, project_id, sync_login):
    name, eng = sync_login
    with eng.begin() as conn:
        conn.execute(sa.text("SELECT set_config('app.current_user_id', 'admin', true)"))
        conn.execute(sa.text("UPDATE projects SET name = 'Renamed by n8n' WHERE id = :p"), {"p": project_id})
    who = database.scalar(
        "SELECT user_id FROM milestone.audit_log WHERE table_name = 'projects' "
        "AND row_id = :p ORDER BY id DESC LIMIT 1",
        p=project_id,
    )
    assert who == f"db:{name}"


def test_the_app_login_names_the_person(database, project_id):
    with db.transaction("fran", database.app) as conn:
        conn.execute(sa.text("UPDATE projects SET name = 'Renamed by Fran' WHERE id = :p"), {"p": project_id})
    assert (
        database.scalar(
            "SELECT user_id FROM milestone.audit_log WHERE table_name = 'projects' "
            "AND row_id = :p ORDER BY id DESC LIMIT 1",
            p=project_id,
        )
        == "fran"
    )


def test_serve_refuses_a_superuser_login_outside_local_mode(database):
    import os
    import secrets
    import subprocess
    import sys

    from milestone.config import PROJECT_ROOT

    env = {k: v for k, v in os.environ.items() if k != "MILESTONE_LOCAL"}
    env.update(
        DATABASE_URL=database.url,
        MILESTONE_APP_DATABASE_URL=database.url,  # the owner's login
        MILESTONE_COOKIE_KEY=secrets.token_urlsafe(48),
    )
    res = subprocess.run(
        [sys.executable, "-m", "milestone", "serve", "--port", "1"],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert res.returncode == 2 and "Refusing to serve" in res.stderr and "owns the schema" in res.stderr, res.stderr


def test_an_external_database_needs_the_app_logins_credentials_outside_local_mode(monkeypatch):
    from milestone import config

    monkeypatch.delenv("MILESTONE_LOCAL", raising=False)
    monkeypatch.setenv("DATABASE_URL", "postgresql://owner:pw@db.example/milestone")
    monkeypatch.delenv("MILESTONE_APP_DATABASE_URL", raising=False)
    monkeypatch.delenv("MILESTONE_APP_DB_PASSWORD", raising=False)
    with pytest.raises(config.ConfigError, match="MILESTONE_APP_DB_PASSWORD"):
        config.check_app_login_settings()
    monkeypatch.setenv("MILESTONE_APP_DB_PASSWORD", "s3cret/with@odd:chars")
    config.check_app_login_settings()
    url = make_url(db.app_url())
    assert (url.username, url.password, url.host, url.database) == (
        "milestone_web",
        "s3cret/with@odd:chars",
        "db.example",
        "milestone",
    )

import hashlib
import shutil
import subprocess
import threading
import uuid

import pytest
import sqlalchemy as sa

from milestone import db
from milestone.migrate import EARLIER_RAW_CHECKSUMS, SQL_DIR, MigrationError, discover, migrate, normalise


def test_every_migration_is_recorded_with_its_checksum(database):
    recorded = {
        r["name"]: r["checksum"] for r in database.rows("SELECT name, checksum FROM milestone.schema_migrations")
    }
    assert recorded == {m.name: m.checksum for m in discover()}


def test_running_migrate_again_changes_nothing(database):
    before = database.scalar("SELECT count(*) FROM milestone.schema_migrations")
    assert migrate(database.owner) == []
    assert database.scalar("SELECT count(*) FROM milestone.schema_migrations") == before


def _copy_sql(tmp_path):
    sql_dir = tmp_path / "sql"
    shutil.copytree(SQL_DIR, sql_dir)
    return sql_dir, sorted(sql_dir.glob("001_*.sql"))[0]


def _recorded(tdb) -> dict[str, str]:
    return {r["name"]: r["checksum"] for r in tdb.rows("SELECT name, checksum FROM milestone.schema_migrations")}


EDITED_STATEMENT = (
    "CREATE INDEX estimates_date_idx ON estimates (date);",
    "CREATE INDEX estimates_date_idx ON estimates (date DESC);",
)


def test_an_edited_applied_migration_is_refused(fresh_database, tmp_path):
    sql_dir, first = _copy_sql(tmp_path)
    text = first.read_text()
    assert EDITED_STATEMENT[0] in text
    first.write_text(text.replace(*EDITED_STATEMENT))
    with pytest.raises(MigrationError, match="001_schema.sql was changed after it was applied"):
        migrate(fresh_database.owner, sql_dir)


def test_a_comment_or_whitespace_change_is_not_a_change(fresh_database, tmp_path):
    sql_dir, first = _copy_sql(tmp_path)
    before = _recorded(fresh_database)
    text = first.read_text()
    edited = (
        "-- 001, reworded: a comment fixed after the file was applied.\n/* and a block\n   comment */\n"
        + text.split("\n", 1)[1].replace("    ", "\t").replace(";\n", " ;  -- trailing note\n\n")
    )
    first.write_text(edited)
    assert discover(sql_dir)[0].checksum == discover()[0].checksum
    assert migrate(fresh_database.owner, sql_dir) == []
    assert _recorded(fresh_database) == before


def test_a_database_recorded_with_raw_file_checksums_is_adopted_once(fresh_database, tmp_path):
    """Databases migrated before checksums were normalised hold SHA-256 of the raw files."""
    fresh_database.execute("INSERT INTO milestone.projects (name, client_name) VALUES ('Kept', 'Client')")
    for m in discover():
        fresh_database.execute(
            "UPDATE milestone.schema_migrations SET checksum = :c WHERE name = :n", c=m.raw_checksum, n=m.name
        )
    applied_at = {
        r["name"]: r["applied_at"]
        for r in fresh_database.rows("SELECT name, applied_at FROM milestone.schema_migrations")
    }
    assert migrate(fresh_database.owner) == []
    assert _recorded(fresh_database) == {m.name: m.checksum for m in discover()}
    assert {
        r["name"]: r["applied_at"]
        for r in fresh_database.rows("SELECT name, applied_at FROM milestone.schema_migrations")
    } == applied_at
    assert fresh_database.scalar("SELECT count(*) FROM milestone.projects WHERE name = 'Kept'") == 1
    assert migrate(fresh_database.owner) == []


def test_a_raw_checksum_of_an_earlier_comment_only_revision_is_adopted(fresh_database, tmp_path, monkeypatch):
    sql_dir, first = _copy_sql(tmp_path)
    old = first.read_text()
    old_raw = hashlib.sha256(old.encode()).hexdigest()
    fresh_database.execute(
        "UPDATE milestone.schema_migrations SET checksum = :c WHERE name = :n", c=old_raw, n=first.name
    )
    first.write_text("-- the first comment, corrected\n" + old.split("\n", 1)[1])
    with pytest.raises(MigrationError, match="was changed after it was applied"):
        migrate(fresh_database.owner, sql_dir)  # an unknown old checksum is not trusted
    monkeypatch.setitem(
        EARLIER_RAW_CHECKSUMS, first.name, {old_raw: hashlib.sha256(normalise(old).encode()).hexdigest()}
    )
    assert migrate(fresh_database.owner, sql_dir) == []
    assert _recorded(fresh_database)[first.name] == discover(sql_dir)[0].checksum


def test_a_changed_statement_is_refused_from_a_raw_checksum_too(fresh_database, tmp_path, monkeypatch):
    sql_dir, first = _copy_sql(tmp_path)
    old = first.read_text()
    old_raw = hashlib.sha256(old.encode()).hexdigest()
    monkeypatch.setitem(
        EARLIER_RAW_CHECKSUMS, first.name, {old_raw: hashlib.sha256(normalise(old).encode()).hexdigest()}
    )
    for m in discover():
        fresh_database.execute(
            "UPDATE milestone.schema_migrations SET checksum = :c WHERE name = :n",
            c=m.raw_checksum if m.name != first.name else old_raw,
            n=m.name,
        )
    before = _recorded(fresh_database)
    first.write_text(old.replace(*EDITED_STATEMENT))
    with pytest.raises(MigrationError, match="001_schema.sql was changed after it was applied"):
        migrate(fresh_database.owner, sql_dir)
    assert _recorded(fresh_database) == before  # nothing adopted when any file is refused


def test_earlier_raw_checksums_are_comment_only_revisions_of_todays_files():
    """Each listed checksum is a revision in git history that normalises to today's file."""
    git = ["git", "-C", str(SQL_DIR.parent)]
    if shutil.which("git") is None or subprocess.run(git + ["rev-parse"], capture_output=True).returncode:
        pytest.skip("no git history here to check EARLIER_RAW_CHECKSUMS against")
    today = {m.name: m for m in discover()}
    for name, earlier in EARLIER_RAW_CHECKSUMS.items():
        commits = subprocess.run(
            git + ["log", "--format=%H", "--", f"sql/{name}"], capture_output=True, text=True, check=True
        ).stdout.split()
        revisions = {}
        for commit in commits:
            text = subprocess.run(git + ["show", f"{commit}:sql/{name}"], capture_output=True, text=True).stdout
            revisions[hashlib.sha256(text.encode()).hexdigest()] = text
        for raw, normalised in earlier.items():
            assert raw in revisions, f"{name}: no revision in git history has checksum {raw[:12]}"
            assert hashlib.sha256(normalise(revisions[raw]).encode()).hexdigest() == normalised
            assert normalised == today[name].checksum


@pytest.mark.parametrize(
    "sql, expected",
    [
        ("SELECT 1;  -- one\n\n\tSELECT 2;", "SELECT 1;SELECT 2;"),
        ("SELECT /* a /* nested */ comment */ 1", "SELECT 1"),
        ("CREATE TABLE t (\n    a int ,\n    b text\n) ;\n", "CREATE TABLE t(a int,b text);"),
        ("SELECT $1  ,  foo$bar", "SELECT $1,foo$bar"),
        # quoted text is kept exactly, comment-like text and spaces included
        (
            "SELECT '--  not a comment' AS \"a  -- name\", 'it''s  /* kept */'",
            "SELECT '--  not a comment' AS \"a  -- name\",'it''s  /* kept */'",
        ),
        ("SELECT E'\\'  -- still a string'  ,  2", "SELECT E'\\'  -- still a string',2"),
        (
            "CREATE FUNCTION f() RETURNS int LANGUAGE sql AS $$\n  SELECT 1 -- kept: the body is stored\n$$;",
            "CREATE FUNCTION f()RETURNS int LANGUAGE sql AS $$\n  SELECT 1 -- kept: the body is stored\n$$;",
        ),
        ("DO $body$ BEGIN  PERFORM 1; END $body$ ;", "DO $body$ BEGIN  PERFORM 1; END $body$;"),
    ],
)
def test_normalise_removes_comments_and_whitespace_outside_quoted_text(sql, expected):
    assert normalise(sql) == expected


def test_a_comment_inside_a_function_body_is_a_change():
    body = "CREATE FUNCTION f() RETURNS int LANGUAGE sql AS $$ SELECT 1 -- %s\n$$;"
    assert normalise(body % "one") != normalise(body % "two")


@pytest.mark.parametrize("sql", ["SELECT 'open", "SELECT $$ open", "SELECT /* open"])
def test_normalise_refuses_unterminated_text(sql):
    with pytest.raises(MigrationError, match="unterminated"):
        normalise(sql)


def test_a_new_migration_file_is_applied_once(fresh_database, tmp_path):
    sql_dir = tmp_path / "sql"
    shutil.copytree(SQL_DIR, sql_dir)
    (sql_dir / "900_extra.sql").write_text("CREATE TABLE milestone.extra (id int);")
    assert migrate(fresh_database.owner, sql_dir) == ["900_extra.sql"]
    assert migrate(fresh_database.owner, sql_dir) == []


def test_a_failing_migration_leaves_nothing_behind(fresh_database, tmp_path):
    sql_dir = tmp_path / "sql"
    shutil.copytree(SQL_DIR, sql_dir)
    (sql_dir / "901_broken.sql").write_text("CREATE TABLE milestone.half (id int);\nSELECT no_such_function();")
    with pytest.raises(MigrationError, match="901_broken.sql failed"):
        migrate(fresh_database.owner, sql_dir)
    assert fresh_database.scalar("SELECT to_regclass('milestone.half')") is None
    assert fresh_database.scalar("SELECT count(*) FROM milestone.schema_migrations WHERE name = '901_broken.sql'") == 0


def test_concurrent_migrations_wait_for_each_other(fresh_database, tmp_path):
    sql_dir = tmp_path / "sql"
    shutil.copytree(SQL_DIR, sql_dir)
    (sql_dir / "902_slow.sql").write_text("SELECT pg_sleep(0.5); CREATE TABLE milestone.slow (id int);")
    results, errors = [], []

    def run():
        eng = db.make_engine(fresh_database.url, app_role=False)
        try:
            results.append(migrate(eng, sql_dir))
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)
        finally:
            eng.dispose()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert sorted(results) == [[], ["902_slow.sql"]]


def test_schema_has_the_designed_tables_and_indexes(database):
    tables = {
        r["t"]
        for r in database.rows("SELECT table_name AS t FROM information_schema.tables WHERE table_schema = 'milestone'")
    }
    assert {
        "projects",
        "build_phases",
        "invoices",
        "bills",
        "invoice_lines",
        "bill_lines",
        "pnl_monthly",
        "estimates",
        "project_metrics",
        "project_phase_metrics",
        "audit_log",
        "sync_runs",
        "export_log",
        "user_preferences",
        "app_users",
        "schema_migrations",
    } <= tables
    indexes = {
        r["i"]: r["d"]
        for r in database.rows("SELECT indexname AS i, indexdef AS d FROM pg_indexes WHERE schemaname = 'milestone'")
    }
    assert "(user_id, status)" in indexes["projects_user_status_idx"]
    assert "(start_date, end_date)" in indexes["projects_dates_idx"]
    assert "(project_id, doc_date)" in indexes["invoice_lines_project_date_idx"]
    assert "(project_id, doc_date)" in indexes["bill_lines_project_date_idx"]
    assert "(issue_date)" in indexes["invoices_issue_date_idx"] and "(date)" in indexes["bills_date_idx"]
    assert (
        "NULLS NOT DISTINCT" in indexes["pnl_monthly_key"] and "(month, project_id)" in indexes["pnl_monthly_month_idx"]
    )
    assert "(project_id)" in indexes["estimates_project_idx"]
    assert "WHERE" in indexes["projects_active_idx"]
    assert "WHERE" in indexes["invoices_unpaid_idx"] and "Authorised" in indexes["invoices_unpaid_idx"]
    assert "INCLUDE" in indexes["project_metrics_covering_idx"]


DROPPED_IN_009 = {
    ("app_users", "failed_logins"),
    ("app_users", "first_failed_at"),
    ("app_users", "locked_until"),
    ("user_preferences", "date_format"),
}


def _columns(tdb_or_engine, tables=("app_users", "user_preferences")) -> set[tuple[str, str]]:
    with tdb_or_engine.connect() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT table_name, column_name FROM information_schema.columns"
                " WHERE table_schema = 'milestone' AND table_name = ANY(:t)"
            ),
            {"t": list(tables)},
        ).all()
    return {(r.table_name, r.column_name) for r in rows}


def test_the_unused_columns_are_gone(database):
    columns = _columns(database.owner)
    assert not columns & DROPPED_IN_009
    assert {
        ("app_users", "password_hash"),
        ("app_users", "sessions_valid_after"),
        ("user_preferences", "saved_views"),
        ("user_preferences", "favourite_projects"),
    } <= columns


def test_009_drops_the_columns_of_a_database_in_use_and_keeps_its_rows(server_url, tmp_path):
    """Upgrade path: a database at 008 with values in the old columns migrates to 009."""
    from tests.conftest import _admin, _with_database  # the same server the other tests use

    sql_dir = tmp_path / "sql"
    shutil.copytree(SQL_DIR, sql_dir)
    (sql_dir / "009_drop_unused.sql").unlink()
    name = f"ms_test_009_{uuid.uuid4().hex[:10]}"
    admin = _admin(server_url)
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    eng = db.make_engine(_with_database(server_url, name), app_role=False)
    try:
        assert "008_audit_users.sql" in migrate(eng, sql_dir)
        with eng.begin() as conn:
            user_id = conn.execute(
                sa.text(
                    "INSERT INTO milestone.app_users (username, display_name, password_hash, role, failed_logins,"
                    " first_failed_at, locked_until) VALUES ('olduser', 'Old User', 'x', 'viewer', 3, now(), now())"
                    " RETURNING id"
                )
            ).scalar()
            conn.execute(
                sa.text(
                    "INSERT INTO milestone.user_preferences (user_id, saved_views, date_format)"
                    " VALUES (:u, '{\"mine\": {}}', '%Y-%m-%d')"
                ),
                {"u": user_id},
            )
        assert DROPPED_IN_009 <= _columns(eng)
        assert migrate(eng) == ["009_drop_unused.sql"]
        assert not _columns(eng) & DROPPED_IN_009
        with eng.connect() as conn:
            assert conn.execute(
                sa.text(
                    "SELECT u.display_name, p.saved_views FROM milestone.app_users u"
                    " JOIN milestone.user_preferences p ON p.user_id = u.id WHERE u.username = 'olduser'"
                )
            ).one() == ("Old User", {"mine": {}})
    finally:
        eng.dispose()
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))

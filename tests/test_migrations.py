import shutil
import threading

import pytest
import sqlalchemy as sa

from milestone import db
from milestone.migrate import MigrationError, SQL_DIR, discover, migrate


def test_every_migration_is_recorded_with_its_checksum(database):
    recorded = {r["name"]: r["checksum"] for r in database.rows("SELECT name, checksum FROM milestone.schema_migrations")}
    assert recorded == {m.name: m.checksum for m in discover()}


def test_running_migrate_again_changes_nothing(database):
    before = database.scalar("SELECT count(*) FROM milestone.schema_migrations")
    assert migrate(database.owner) == []
    assert database.scalar("SELECT count(*) FROM milestone.schema_migrations") == before


def test_an_edited_applied_migration_is_refused(fresh_database, tmp_path):
    sql_dir = tmp_path / "sql"
    shutil.copytree(SQL_DIR, sql_dir)
    first = sorted(sql_dir.glob("001_*.sql"))[0]
    first.write_text(first.read_text() + "\n-- an innocent looking edit\n")
    with pytest.raises(MigrationError, match="was changed after it was applied"):
        migrate(fresh_database.owner, sql_dir)


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
    tables = {r["t"] for r in database.rows(
        "SELECT table_name AS t FROM information_schema.tables WHERE table_schema = 'milestone'")}
    assert {"projects", "build_phases", "invoices", "bills", "invoice_lines", "bill_lines", "pnl_monthly",
            "estimates", "project_metrics",
            "project_phase_metrics", "audit_log", "sync_runs", "export_log", "user_preferences",
            "app_users", "schema_migrations"} <= tables
    indexes = {r["i"]: r["d"] for r in database.rows(
        "SELECT indexname AS i, indexdef AS d FROM pg_indexes WHERE schemaname = 'milestone'")}
    assert "(user_id, status)" in indexes["projects_user_status_idx"]
    assert "(start_date, end_date)" in indexes["projects_dates_idx"]
    assert "(project_id, doc_date)" in indexes["invoice_lines_project_date_idx"]
    assert "(project_id, doc_date)" in indexes["bill_lines_project_date_idx"]
    assert "(issue_date)" in indexes["invoices_issue_date_idx"] and "(date)" in indexes["bills_date_idx"]
    assert "NULLS NOT DISTINCT" in indexes["pnl_monthly_key"] and "(month, project_id)" in indexes["pnl_monthly_month_idx"]
    assert "(project_id)" in indexes["estimates_project_idx"]
    assert "WHERE" in indexes["projects_active_idx"]
    assert "WHERE" in indexes["invoices_unpaid_idx"] and "Authorised" in indexes["invoices_unpaid_idx"]
    assert "INCLUDE" in indexes["project_metrics_covering_idx"]

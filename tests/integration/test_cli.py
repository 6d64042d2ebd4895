"""The command line, run as a person runs it (a subprocess), against the test database."""

import os
import subprocess
import sys

from milestone.config import PROJECT_ROOT


def run(*args, env=None):
    return subprocess.run(
        [sys.executable, "-m", "milestone", *args],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=300,
    )


def test_migrate_reports_an_up_to_date_schema(database):
    out = run("migrate")
    assert out.returncode == 0 and "up to date" in out.stdout


def test_seed_rejects_a_bad_scale_with_a_clear_message(database):
    out = run("seed", "--scale", "lots")
    assert out.returncode == 2 and "--scale must be a number" in out.stderr
    out = run("seed", "--scale", "-1")
    assert out.returncode == 2 and "greater than 0" in out.stderr


def test_seed_prints_passwords_once_and_loads_data(fresh_database):
    out = run("seed", "--scale", "0.01", "--quiet")
    assert out.returncode == 0, out.stderr
    assert "admin" in out.stdout and "shown this once" in out.stdout and "1,000 invoices" in out.stdout
    again = run("seed", "--scale", "0.01", "--if-empty")
    assert again.returncode == 0 and "shown this once" not in again.stdout and "not seeding" in again.stdout


def test_db_url_prints_the_database_in_use(database):
    out = run("db", "url")
    assert out.returncode == 0 and out.stdout.strip().startswith("postgresql+psycopg://")


def test_a_bad_database_url_is_explained(database):
    out = run("migrate", env={"DATABASE_URL": "mysql://nope"})
    assert out.returncode == 1 and "DATABASE_URL must be a postgresql:// URL" in out.stderr

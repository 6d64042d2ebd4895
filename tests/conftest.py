"""Test databases: one real PostgreSQL per test session, a fresh database per test module.

With DATABASE_URL unset the server is a private embedded one in a temporary directory (so
tests never touch the data of `make run`); with DATABASE_URL set, databases are created on
that server. Each module's database is cloned from a migrated template, which is fast.
Nothing starts until a test asks for a database (tests/unit never do).

Under pytest-xdist each worker is its own session: its own embedded server in its own
temporary directory (Unix socket only, no port), or its own uuid-named databases on
DATABASE_URL's server; the browser tests' served app and Chromium are per worker too, and
servers pick their ports through tests/serving.py. `make test` runs `--dist loadfile`, so a
module's tests share its module fixtures on one worker.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine, make_url

from milestone import db
from milestone.migrate import migrate

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"


@dataclass
class TestDB:
    url: str
    owner: Engine  # schema owner: fixtures, oracle queries, role switching
    app: Engine  # acts as milestone_app, like the running app

    def scalar(self, sql: str, **params):
        with self.owner.connect() as conn:
            return conn.execute(sa.text(sql), params).scalar()

    def rows(self, sql: str, **params):
        with self.owner.connect() as conn:
            return conn.execute(sa.text(sql), params).mappings().all()

    def execute(self, sql: str, user: str | None = None, **params) -> None:
        with db.transaction(user, self.owner) as conn:
            conn.execute(sa.text(sql), params)


def _with_database(url: str, name: str) -> str:
    return make_url(url).set(database=name).render_as_string(hide_password=False)


@pytest.fixture(scope="session", autouse=True)
def generous_write_limit():
    """Tests save faster than people do; tests of the limit itself set it back to 10."""
    os.environ.setdefault("MILESTONE_WRITES_PER_MINUTE", "100000")


@pytest.fixture(scope="session", autouse=True)
def cookie_key():
    """A real-looking signing key for the app under test (production refuses a missing one)."""
    import secrets

    saved = os.environ.get("MILESTONE_COOKIE_KEY")
    os.environ["MILESTONE_COOKIE_KEY"] = secrets.token_urlsafe(48)
    yield os.environ["MILESTONE_COOKIE_KEY"]
    if saved is None:
        os.environ.pop("MILESTONE_COOKIE_KEY", None)
    else:
        os.environ["MILESTONE_COOKIE_KEY"] = saved


@pytest.fixture(scope="session")
def server_url():
    """Admin URL of the PostgreSQL server the tests use."""
    external = os.environ.get("DATABASE_URL")
    if external:
        os.environ["MILESTONE_TEST_EXTERNAL"] = external
        yield (
            make_url(external.replace("postgres://", "postgresql://", 1))
            .set(drivername="postgresql+psycopg")
            .render_as_string(hide_password=False)
        )
        os.environ["DATABASE_URL"] = external
        return
    tmp = Path(tempfile.mkdtemp(prefix="ms-test-"))
    server = db.EmbeddedServer(tmp)
    # xdist workers start their servers one at a time: as root, the first start may create the
    # OS user the server runs as, and two `useradd`s at once would fail.
    with open(Path(tempfile.gettempdir()) / "milestone-test-embedded-start.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        server.start()
    yield server.url("postgres")
    server.stop()
    shutil.rmtree(tmp, ignore_errors=True)


def _admin(server_url: str) -> Engine:
    return sa.create_engine(server_url, isolation_level="AUTOCOMMIT", poolclass=sa.NullPool)


@pytest.fixture(scope="session")
def template_db(server_url):
    """A migrated database that each module's database is cloned from."""
    name = f"ms_tmpl_{uuid.uuid4().hex[:8]}"
    admin = _admin(server_url)
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    eng = db.make_engine(_with_database(server_url, name), app_role=False)
    # Roles are the whole server's, not one database's: two xdist workers migrating their template
    # databases on one server (DATABASE_URL) would race to create the same role. One at a time.
    with open(Path(tempfile.gettempdir()) / "milestone-test-migrate.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        migrate(eng)
    eng.dispose()
    yield name
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def _fresh_database(server_url: str, template: str):
    name = f"ms_test_{uuid.uuid4().hex[:10]}"
    admin = _admin(server_url)
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
    url = _with_database(server_url, name)
    tdb = TestDB(url=url, owner=db.make_engine(url, app_role=False), app=db.make_engine(url))
    # Code under test that calls db.engine() (the app, the CLI) must reach this database.
    saved = os.environ.get("DATABASE_URL")
    os.environ["DATABASE_URL"] = url
    db.engine.cache_clear()
    db.owner_engine.cache_clear()
    _clear_streamlit_caches()  # cached engines and reads would point at the previous database
    try:
        yield tdb
    finally:
        tdb.owner.dispose()
        tdb.app.dispose()
        for cached in (db.engine, db.owner_engine):
            if cached.cache_info().currsize:
                cached().dispose()
            cached.cache_clear()
        _clear_streamlit_caches()
        if saved is None:
            os.environ.pop("DATABASE_URL", None)
        else:
            os.environ["DATABASE_URL"] = saved
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def _clear_streamlit_caches() -> None:
    import streamlit as st

    st.cache_data.clear()
    st.cache_resource.clear()


@pytest.fixture(scope="module")
def database(server_url, template_db):
    """A migrated, empty database for this test module."""
    yield from _fresh_database(server_url, template_db)


@pytest.fixture()
def fresh_database(server_url, template_db):
    """A migrated, empty database for one test that must start clean."""
    yield from _fresh_database(server_url, template_db)


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS

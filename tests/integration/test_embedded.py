"""The embedded server: idempotent start, recovery from a crash, stop."""

import os
import shutil
import signal
import tempfile
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from milestone import db

pytestmark = pytest.mark.skipif(
    bool(os.environ.get("DATABASE_URL")), reason="embedded-server tests run only on the default (embedded) setup"
)


@pytest.fixture()
def server():
    tmp = Path(tempfile.mkdtemp(prefix="ms-emb-"))
    srv = db.EmbeddedServer(tmp)
    yield srv
    srv.stop()
    shutil.rmtree(tmp, ignore_errors=True)


def _select_one(srv) -> int:
    eng = sa.create_engine(srv.url(), poolclass=sa.NullPool)
    with eng.connect() as conn:
        return conn.scalar(sa.text("SELECT 1"))


def test_starting_twice_is_harmless(server):
    assert "started" in server.start()
    assert "already running" in server.start()
    assert _select_one(server) == 1


def test_a_stale_lock_after_a_crash_is_recovered_with_a_message(server):
    server.start()
    os.kill(server.running_pid(), signal.SIGKILL)
    for _ in range(50):
        if not server.running_pid():
            break
        time.sleep(0.1)
    message = server.start()
    assert "stale lock" in message
    assert _select_one(server) == 1


def test_stop_stops_and_says_so(server):
    server.start()
    assert server.stop() == "Embedded PostgreSQL stopped."
    assert server.running_pid() is None
    assert server.stop() == "Embedded PostgreSQL is not running."

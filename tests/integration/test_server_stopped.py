"""The database server stopped in the middle of a write (about 6 s, in `make test`): on a private embedded
PostgreSQL, each write is held on a lock another connection holds, the server is stopped
(`pg_ctl stop -m fast`, which ends every backend) while it waits, and started again. Then: the
person's error is the app's plain message, nothing is half-written (every row of the touched
tables compared), and the same write succeeds on the same process and pool, without a restart."""

from __future__ import annotations

import fcntl
import io
import os
import shutil
import tempfile
import threading
import time
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa

from milestone import db, seed
from milestone.errors import MilestoneError
from milestone.migrate import migrate
from milestone.services import backup, estimates, exports, imports, projects, users
from milestone.validation import EVERYTHING, EstimateChanges, EstimateRow
from tests import builders
from tests.conftest import TestDB as Database
from tests.integration.test_faults import WATCHED, Held, _waiting
from tests.integration.test_input_properties import fingerprint
from tests.xero_files import line, render


@pytest.fixture(scope="module")
def private():
    tmp = Path(tempfile.mkdtemp(prefix="ms-stop-"))
    server = db.EmbeddedServer(tmp)
    # as tests/conftest.py: one start at a time (the first may create the OS user, as root)
    with open(Path(tempfile.gettempdir()) / "milestone-test-embedded-start.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        server.start()
    url = server.url()
    owner = db.make_engine(url, app_role=False)
    migrate(owner)
    seed.ensure_demo_users(owner)
    saved = os.environ.get("DATABASE_URL")
    os.environ["DATABASE_URL"] = url
    db.engine.cache_clear()
    tdb = Database(url=url, owner=owner, app=db.make_engine(url))
    pid = builders.project(tdb, "Stopped", client="Stopped client", xero_tracking_id="TRK-STOP")
    for i in range(20):
        builders.estimate(tdb, pid, f"{i + 1}.00")
    try:
        yield {"server": server, "db": tdb, "project": pid, "finance": users.get_user("finance")}
    finally:
        tdb.owner.dispose()
        tdb.app.dispose()
        db.engine().dispose()
        db.engine.cache_clear()
        if saved is None:
            os.environ.pop("DATABASE_URL", None)
        else:
            os.environ["DATABASE_URL"] = saved
        server.stop()
        shutil.rmtree(tmp, ignore_errors=True)


def stop_mid_write(ctx, lock_sql: str, action, **params):
    tdb, server = ctx["db"], ctx["server"]
    before = fingerprint(tdb, WATCHED)
    held = Held(tdb, lock_sql, **params)
    box: dict = {}

    def run():
        try:
            box["result"] = action()
        except BaseException as exc:  # noqa: BLE001 - inspected below
            box["error"] = exc

    t = threading.Thread(target=run, daemon=True)
    t.start()
    _waiting(tdb, held.pid)
    t_stop = time.perf_counter()
    server.stop()
    t.join(60)
    try:
        held.release()
    except sa.exc.SQLAlchemyError:
        pass  # its connection went with the server
    server.start()
    down = time.perf_counter() - t_stop
    tdb.owner.dispose()  # the test's own pool; the app's pool (db.engine) is left to recover by itself
    assert fingerprint(tdb, WATCHED) == before, "a write cut by the server's stop left something behind"
    err = box.get("error")
    assert isinstance(err, MilestoneError), repr(err)
    assert "Traceback" not in str(err) and "psycopg" not in str(err)
    return err, down


LOCK_METRICS = "SELECT 1 FROM milestone.project_metrics WHERE project_id = :p FOR UPDATE"


def test_an_estimates_save_with_the_server_stopped_mid_write(private):
    p = private["project"]
    rows = private["db"].rows("SELECT id::text AS id, version FROM milestone.estimates ORDER BY id")
    row = EstimateRow(project_id=p, kind="cost", description="Stopped", amount=Decimal("2.50"), date=date(2026, 4, 1))
    changes = EstimateChanges(
        updates=[(r["id"], r["version"], row) for r in rows[:10]],
        inserts=[(None, row) for _ in range(200)],
        deletes=[(r["id"], r["version"]) for r in rows[10:]],
    )
    err, down = stop_mid_write(
        private, LOCK_METRICS, lambda: estimates.save_estimate_changes(changes, private["finance"]), p=p
    )
    estimates.save_estimate_changes(changes, private["finance"])  # the same process and pool
    assert private["db"].scalar("SELECT count(*) FROM milestone.estimates WHERE description = 'Stopped'") == 210


def test_a_project_save_with_the_server_stopped_mid_write(private):
    p = private["project"]
    version = private["db"].scalar("SELECT version FROM milestone.projects WHERE id = :p", p=p)
    stop_mid_write(
        private,
        "SELECT 1 FROM milestone.projects WHERE id = :p FOR UPDATE",
        lambda: projects.update_project(private["finance"], p, version, {"name": "Renamed"}),
        p=p,
    )
    assert projects.update_project(private["finance"], p, version, {"name": "Renamed"}) == version + 1


def test_an_import_with_the_server_stopped_mid_write(private):
    data = render([line(f"STOP-{i}", "TRK-STOP") for i in range(100)])
    stop_mid_write(
        private,
        LOCK_METRICS,
        lambda: imports.import_file(data, "stop.csv", private["finance"], dry_run=False),
        p=private["project"],
    )
    assert imports.import_file(data, "stop.csv", private["finance"], dry_run=False).created == 100


def test_an_export_and_a_backup_with_the_server_stopped(private, tmp_path):
    stop_mid_write(
        private,
        "LOCK TABLE milestone.invoices IN ACCESS EXCLUSIVE MODE",
        lambda: exports.export("invoices", EVERYTHING, "csv", io.BytesIO(), private["finance"]),
    )
    assert exports.export("invoices", EVERYTHING, "csv", io.BytesIO(), private["finance"]) >= 100
    stop_mid_write(
        private,
        "LOCK TABLE milestone.estimates IN ACCESS EXCLUSIVE MODE",
        lambda: backup.backup(tmp_path, url=private["db"].url),
    )
    assert list(tmp_path.iterdir()) == []
    assert backup.backup(tmp_path, url=private["db"].url).exists()

"""Restore drill (make reliability): back up the scale-1 demo database, destroy it (its server
stopped and its data directory deleted), restore onto a fresh embedded server and onto
PostgreSQL 15 (RELIABILITY_PG15_URL, default postgresql://postgres@127.0.0.1:5432/test; a
uniquely named database is created there and dropped after), then compare every table's row
count and checksum, sign in and read the same KPIs. Times go to test-artifacts/restore-drill.json
and docs/reliability.md; the recovery-time objective is in docs/operations.md."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from milestone import db, seed
from milestone.migrate import migrate
from milestone.services import backup, pnl, users
from milestone.validation import EVERYTHING

pytestmark = pytest.mark.reliability
PG15 = os.environ.get("RELIABILITY_PG15_URL", "postgresql://postgres@127.0.0.1:5432/test")


def checksums(url: str) -> dict[str, tuple[int, str]]:
    """(rows, md5 of every row in a fixed order) of every table of the milestone schema."""
    eng = sa.create_engine(url, poolclass=sa.NullPool)
    with eng.connect() as conn:
        names = conn.scalars(sa.text("SELECT tablename FROM pg_tables WHERE schemaname = 'milestone' ORDER BY 1")).all()
        out = {}
        for n in names:
            count, digest = conn.execute(
                sa.text(
                    "SELECT count(*), md5(coalesce(string_agg(t::text, E'\\n' ORDER BY t::text), ''))"
                    f' FROM milestone."{n}" t'
                )
            ).one()
            out[n] = (int(count), digest)
    eng.dispose()
    return out


def signed_in_kpis(url: str, password: str) -> tuple:
    """Sign in as admin through the service and read the Dashboard's all-time KPI figures."""
    saved = os.environ.get("DATABASE_URL")
    os.environ["DATABASE_URL"] = url
    db.engine.cache_clear()
    try:
        result = users.authenticate("admin", password)
        assert result.user is not None, result.message
        t = pnl.practice_totals(pnl.project_table(EVERYTHING), pnl.unallocated(EVERYTHING))
        return (t.revenue, t.costs, t.outstanding, t.estimate_revenue, t.estimate_costs)
    finally:
        db.engine().dispose()
        db.engine.cache_clear()
        if saved is None:
            os.environ.pop("DATABASE_URL", None)
        else:
            os.environ["DATABASE_URL"] = saved


def _as_psycopg(url: str) -> str:
    return make_url(url).set(drivername="postgresql+psycopg").render_as_string(hide_password=False)


def test_restore_drill(artifacts, tmp_path):
    from bench.common import private_database
    from bench.load import _demo_passwords

    figures: dict = {"load_before": os.getloadavg()}
    dumps = tmp_path / "backups"
    t0 = time.perf_counter()
    with _demo_passwords(seed) as passwords, private_database(1.0) as (owner, url):
        figures["seed_s"] = round(time.perf_counter() - t0, 1)
        want_kpis = signed_in_kpis(url, passwords["admin"])  # a sign-in writes login_events: before the sums
        want_sums = checksums(url)
        t = time.perf_counter()
        dump = backup.backup(dumps, url=url)
        figures["backup_s"] = round(time.perf_counter() - t, 1)
        figures["backup_mb"] = round(dump.stat().st_size / 2**20, 1)
    # destroyed: private_database stopped the server and deleted its data directory
    figures["rows"] = sum(n for n, _ in want_sums.values())
    figures["tables"] = len(want_sums)

    # 1. a fresh embedded server (roles first: a scratch database migrated once, as the runbook says)
    tmp = Path(tempfile.mkdtemp(prefix="ms-drill-"))
    server = db.EmbeddedServer(tmp)
    try:
        t = time.perf_counter()
        server.start()
        admin = sa.create_engine(server.url("postgres"), isolation_level="AUTOCOMMIT", poolclass=sa.NullPool)
        with admin.connect() as conn:
            conn.execute(sa.text("CREATE DATABASE roles_scratch"))
        scratch = db.make_engine(server.url("roles_scratch"), app_role=False)
        migrate(scratch)
        scratch.dispose()
        backup.restore(dump, url=server.url())
        figures["embedded_restore_s"] = round(time.perf_counter() - t, 1)
        assert checksums(server.url()) == want_sums
        assert signed_in_kpis(server.url(), passwords["admin"]) == want_kpis
        figures["embedded_total_s"] = round(time.perf_counter() - t, 1)
    finally:
        server.stop()
        shutil.rmtree(tmp, ignore_errors=True)

    # 2. PostgreSQL 15, a database of our own on the shared server
    name = f"ms_drill_{uuid.uuid4().hex[:10]}"
    base = _as_psycopg(PG15)
    admin = sa.create_engine(base, isolation_level="AUTOCOMMIT", poolclass=sa.NullPool)
    try:
        with admin.connect() as conn:
            figures["pg15_version"] = conn.scalar(sa.text("SHOW server_version"))
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    except sa.exc.OperationalError as exc:
        pytest.skip(f"PostgreSQL 15 at {PG15} is not reachable: {exc}")
    target = make_url(base).set(database=name).render_as_string(hide_password=False)
    try:
        t = time.perf_counter()
        # the roles are the server's: a scratch database migrated once creates them if missing
        roles_db = f"{name}_roles"
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{roles_db}"'))
        scratch = db.make_engine(
            make_url(base).set(database=roles_db).render_as_string(hide_password=False), app_role=False
        )
        migrate(scratch)
        scratch.dispose()
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE "{roles_db}" WITH (FORCE)'))
        backup.restore(dump, url=target)
        figures["pg15_restore_s"] = round(time.perf_counter() - t, 1)
        assert checksums(target) == want_sums
        assert signed_in_kpis(target, passwords["admin"]) == want_kpis
        figures["pg15_total_s"] = round(time.perf_counter() - t, 1)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    figures["kpis"] = [str(x) for x in want_kpis]
    (artifacts / "restore-drill.json").write_text(json.dumps(figures, indent=1))
    print(figures)

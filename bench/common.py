"""A private embedded PostgreSQL for a benchmark: started, migrated and seeded, then removed."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy.engine import Engine

from milestone import db, seed
from milestone.migrate import migrate


@contextmanager
def private_database(
    scale: float | None = None, seed_number: int = 42, practice_scale: float | None = None
) -> Iterator[tuple[Engine, str]]:
    """Yield (owner engine, url) of a migrated database with demo users, seeded at `scale`
    (None: not seeded, for benchmarks that time the seeding itself); `practice_scale` sets the
    number of projects and clients apart from the ledger's size."""
    tmp = Path(tempfile.mkdtemp(prefix="ms-bench-"))
    server = db.EmbeddedServer(tmp)
    try:
        server.start()
        owner = db.make_engine(server.url(), app_role=False)
        migrate(owner)
        seed.ensure_demo_users(owner)
        if scale is not None:
            seed.load(owner, scale, seed_number, progress=False, practice_scale=practice_scale)
            with owner.connect() as conn:  # statistics for every table, as autovacuum gives a database in use
                conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("VACUUM ANALYZE")
        # the services reach this database through db.engine(), as the app does
        saved = os.environ.get("DATABASE_URL")
        os.environ["DATABASE_URL"] = server.url()
        db.engine.cache_clear()
        try:
            yield owner, server.url()
        finally:
            owner.dispose()
            db.engine.cache_clear()
            if saved is None:
                os.environ.pop("DATABASE_URL", None)
            else:
                os.environ["DATABASE_URL"] = saved
    finally:
        server.stop()
        shutil.rmtree(tmp, ignore_errors=True)

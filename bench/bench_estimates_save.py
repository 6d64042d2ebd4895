"""Time save_estimate_changes for 1, 100 and 500 changed rows (updates of existing estimates),
on a private embedded PostgreSQL seeded at scale 1.

    .venv/bin/python bench/bench_estimates_save.py
"""
from __future__ import annotations

import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from milestone import db, repository, seed  # noqa: E402
from milestone.migrate import migrate  # noqa: E402
from milestone.validation import EstimateChanges, EstimateRow, Filters  # noqa: E402


def main() -> None:
    tmp = Path(tempfile.mkdtemp(prefix="ms-bench-"))
    server = db.EmbeddedServer(tmp)
    try:
        server.start()
        owner = db.make_engine(server.url(), app_role=False)
        migrate(owner)
        seed.ensure_demo_users(owner)
        seed.load(owner, 1, 42, progress=False)
        app = db.make_engine(server.url())
        user = repository.get_user("finance", app)
        results = {}
        for n in (1, 100, 500):
            runs = []
            for attempt in range(5):
                rows = repository.list_estimates(Filters(), eng=app).head(n)
                changes = EstimateChanges(updates=[
                    (r.id, int(r.version), EstimateRow(project_id=r.project_id, kind=r.kind,
                                                       build_phase_id=r.build_phase_id if isinstance(r.build_phase_id, str) else None,
                                                       description=r.description, amount=r.amount + 1, date=r.date))
                    for r in rows.itertuples()])
                t0 = time.perf_counter()
                repository.save_estimate_changes(changes, user, app)
                runs.append(time.perf_counter() - t0)
            results[n] = statistics.median(runs) * 1000
            print(f"save {n:>3} changed rows: median {results[n]:7.1f} ms over 5 saves")
        print(f"500 rows / 1 row = {results[500] / results[1]:.1f}x (target < 10x)")
        app.dispose()
        owner.dispose()
    finally:
        server.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()

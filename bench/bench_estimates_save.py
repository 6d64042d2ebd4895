"""Time save_estimate_changes for 1, 100 and 500 changed rows (updates of existing estimates),
on a private embedded PostgreSQL seeded at scale 1. Reports the minimum (the cost with the
least interference from other work on the machine) and the median of 15 saves.

    .venv/bin/python bench/bench_estimates_save.py
"""
from __future__ import annotations

import os
import statistics
import time

from common import private_database

from milestone.services import estimates, users
from milestone.validation import EstimateChanges, EstimateRow, Filters


def main() -> None:
    os.environ["MILESTONE_WRITES_PER_MINUTE"] = "1000000"  # 45 saves in a minute: more than a person's 10
    with private_database(1) as (_, url):
        user = users.get_user("finance")
        results = {}
        for n in (1, 100, 500):
            runs = []
            for attempt in range(15):
                rows = estimates.list_estimates(Filters()).head(n)
                changes = EstimateChanges(updates=[
                    (r.id, int(r.version), EstimateRow(project_id=r.project_id, kind=r.kind,
                                                       build_phase_id=r.build_phase_id if isinstance(r.build_phase_id, str) else None,
                                                       description=r.description, amount=r.amount + 1, date=r.date))
                    for r in rows.itertuples()])
                t0 = time.perf_counter()
                estimates.save_estimate_changes(changes, user)
                runs.append(time.perf_counter() - t0)
            results[n] = (min(runs) * 1000, statistics.median(runs) * 1000)
            print(f"save {n:>3} changed rows: min {results[n][0]:7.1f} ms, median {results[n][1]:7.1f} ms over 15 saves")
        print(f"500 rows / 1 row = {results[500][0] / results[1][0]:.1f}x by min, "
              f"{results[500][1] / results[1][1]:.1f}x by median (target < 10x)")


if __name__ == "__main__":
    main()

"""Time the dashboard's repository reads on the database in use (run `make run` first, or
set DATABASE_URL). Each read is timed cold once and then as the median of 5 runs.

    .venv/bin/python -m bench.bench_dashboard
"""
from __future__ import annotations

import statistics
import time
from datetime import date

from milestone import db, metrics, repository
from milestone.validation import Filters


def timed(fn) -> tuple[float, float]:
    t0 = time.perf_counter()
    fn()
    cold = time.perf_counter() - t0
    runs = []
    for _ in range(5):
        t0 = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - t0)
    return cold * 1000, statistics.median(runs) * 1000


def main() -> None:
    db.ensure_database()
    eng = db.engine()
    counts = repository.counts(eng)
    print(f"data: {counts['projects']:,} projects, {counts['invoices']:,} invoices, {counts['bills']:,} bills, "
          f"{counts['estimates']:,} estimates")
    fy = Filters(date_from=metrics.preset_range("This financial year", date.today())[0],
                 date_to=metrics.preset_range("This financial year", date.today())[1])
    cases = {
        "project_table, all time (project_metrics)": lambda: repository.project_table(Filters(), eng),
        "project_table, this financial year": lambda: repository.project_table(fy, eng),
        "monthly_series, all time": lambda: repository.monthly_series(Filters(), eng),
        "phase_breakdown, all time": lambda: repository.phase_breakdown(Filters(), eng),
        "receivables_ageing": lambda: repository.receivables_ageing(Filters(), eng=eng),
        "with_pnl + totals on the project table": lambda: metrics.totals_of(
            metrics.with_pnl(repository.project_table(Filters(), eng))),
    }
    print(f"{'read':<45} {'cold ms':>8} {'median ms':>10}")
    for name, fn in cases.items():
        cold, median = timed(fn)
        print(f"{name:<45} {cold:>8.0f} {median:>10.0f}")


if __name__ == "__main__":
    main()

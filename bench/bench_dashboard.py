"""Time the dashboard's repository reads on the database in use (run `make run` first, or
set DATABASE_URL). Each read is timed cold once and then as the median of 5 runs.

    .venv/bin/python bench/bench_dashboard.py
"""
from __future__ import annotations

import statistics
import sys
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from milestone import db, metrics  # noqa: E402
from milestone.services import pnl  # noqa: E402
from milestone.validation import Filters  # noqa: E402


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
    counts = pnl.counts()
    print(f"data: {counts['projects']:,} projects, {counts['invoices']:,} invoices, {counts['bills']:,} bills, "
          f"{counts['estimates']:,} estimates")
    fy = Filters(date_from=metrics.preset_range("This financial year", date.today())[0],
                 date_to=metrics.preset_range("This financial year", date.today())[1])
    cases = {
        "project_table, all time (project_metrics)": lambda: pnl.project_table(Filters()),
        "project_table, this financial year": lambda: pnl.project_table(fy),
        "monthly_series, all time": lambda: pnl.monthly_series(Filters()),
        "phase_breakdown, all time": lambda: pnl.phase_breakdown(Filters()),
        "receivables_ageing": lambda: pnl.receivables_ageing(Filters()),
        "with_pnl + totals on the project table": lambda: metrics.totals_of(
            metrics.with_pnl(pnl.project_table(Filters()))),
    }
    print(f"{'read':<45} {'cold ms':>8} {'median ms':>10}")
    for name, fn in cases.items():
        cold, median = timed(fn)
        print(f"{name:<45} {cold:>8.0f} {median:>10.0f}")


if __name__ == "__main__":
    main()

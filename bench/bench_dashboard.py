"""Time the dashboard's SQL reads per period preset, on a private database seeded at --scale (or,
with --existing, on the database in DATABASE_URL). Each read is timed cold once and then as the
median of --repeat runs. Every preset is a whole-month period: it reads pnl_monthly only; the
custom row has mid-month ends, so it also reads its two edge months from the lines.

    .venv/bin/python -m bench.bench_dashboard --scale 1
    .venv/bin/python -m bench.bench_dashboard --scale 10
    .venv/bin/python -m bench.bench_dashboard --scale 10 --practice-scale 1   # 10x the ledger alone
"""

from __future__ import annotations

import argparse
import statistics
import time
from datetime import date
from functools import partial

from milestone import db, metrics
from milestone.services import pnl
from milestone.validation import Filters


def timed(fn, repeat: int) -> tuple[float, float]:
    t0 = time.perf_counter()
    fn()
    cold = time.perf_counter() - t0
    runs = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - t0)
    return cold * 1000, statistics.median(runs) * 1000


def periods(today: date) -> dict[str, Filters]:
    out = {}
    for preset in metrics.PRESETS:
        if preset != "Custom":
            date_from, date_to = metrics.preset_range(preset, today)
            out[preset] = Filters(date_from=date_from, date_to=date_to)
    year_ago = date(today.year - 1, today.month, 17)
    out["Custom (mid-month ends)"] = Filters(date_from=year_ago, date_to=today.replace(day=min(today.day, 10)))
    return out


def run(repeat: int) -> None:
    counts = pnl.counts()
    print(
        f"data: {counts['projects']:,} projects, {counts['invoices']:,} invoices, {counts['bills']:,} bills, "
        f"{counts['estimates']:,} estimates"
    )
    today = date.today()
    reads = {
        "project_table": lambda f: pnl.project_table(f),
        "breakdowns": lambda f: pnl.breakdowns(f, today),  # monthly, phases, ageing, unallocated
        "one client": lambda f: pnl.breakdowns(f.model_copy(update={"clients": (client,)}), today),
    }
    client = pnl.filter_options()["clients"]["client_name"].iloc[0]
    print(f"{'period':<26} {'read':<14} {'cold ms':>8} {'median ms':>10}")
    for name, f in periods(today).items():
        total = 0.0
        for read, fn in reads.items():
            cold, median = timed(partial(fn, f), repeat)
            total += median
            print(f"{name:<26} {read:<14} {cold:>8.0f} {median:>10.0f}", flush=True)
        print(f"{name:<26} {'(sum)':<14} {'':>8} {total:>10.0f}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument(
        "--practice-scale", type=float, default=None, help="projects and clients at this scale (default: --scale)"
    )
    parser.add_argument("--existing", action="store_true", help="use the database in DATABASE_URL")
    args = parser.parse_args()
    if args.existing:
        db.ensure_database()
        run(args.repeat)
        return
    from bench.common import private_database

    with private_database(args.scale, practice_scale=args.practice_scale):
        print(f"scale {args.scale}, practice scale {args.practice_scale or args.scale}")
        run(args.repeat)


if __name__ == "__main__":
    main()

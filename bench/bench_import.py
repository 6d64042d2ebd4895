"""Import a Xero CSV export the size of a busy year (default 100,000 lines, two lines per invoice)
into a seeded database: time the whole-file validation, the dry run, the import, and a re-import
of the same file (which must change nothing); peak Python memory of the import.

    .venv/bin/python -m bench.bench_import --scale 1 --lines 100000
"""

from __future__ import annotations

import argparse
import time
import tracemalloc

from bench.common import private_database
from milestone.services import imports, users
from tests.xero_files import line, render


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--lines", type=int, default=100_000)
    args = parser.parse_args()
    with private_database(args.scale) as (owner, url):
        user = users.get_user("finance")
        options = [
            o
            for (o,) in owner.connect()
            .exec_driver_sql("SELECT xero_tracking_id FROM milestone.projects ORDER BY 1 LIMIT 500")
            .all()
        ]
        lines = [
            line(
                f"BENCH-{i // 2:07d}",
                options[i // 2 % len(options)],
                f"{(i // 2) % 5000 + 12}.00",
                "2.00",
                description=f"Line {i % 2 + 1}",
                phase="Groundworks" if i % 3 else "",
            )
            for i in range(args.lines)
        ]
        for row in lines:
            row["TrackingOption2"] = "Groundworks"  # both lines of an invoice in one phase
            row["TrackingName2"] = "Phase"
        data = render(lines)
        print(f"file: {args.lines:,} lines, {args.lines // 2:,} invoices, {len(data) / 1048576:.1f} MB")
        t0 = time.perf_counter()
        parsed = imports.parse(data, "auto")
        print(f"validate the whole file: {time.perf_counter() - t0:.2f} s ({len(parsed.problems)} problems)")
        for label, dry in (
            ("dry run (validate + classify, roll back)", True),
            ("import", False),
            ("re-import the same file", False),
        ):
            t0 = time.perf_counter()
            result = imports.import_file(data, "bench.csv", user, dry_run=dry)
            print(f"{label}: {time.perf_counter() - t0:.2f} s -> {result.summary}")
        tracemalloc.start()  # separately: tracemalloc slows Python several times over
        imports.import_file(data, "bench.csv", user, dry_run=True)
        print(
            f"peak Python memory of a dry run: {tracemalloc.get_traced_memory()[1] / 1048576:.0f} MB "
            f"(the file itself is {len(data) / 1048576:.1f} MB)"
        )
        tracemalloc.stop()


if __name__ == "__main__":
    main()

"""Export all invoices as CSV (and XLSX) at a given scale and compare with a plain COPY to a file;
time and peak memory of this process.

    .venv/bin/python bench/bench_export.py --scale 1
"""
from __future__ import annotations

import argparse
import tempfile
import time
import tracemalloc

from common import private_database

from milestone.services import exports, users
from milestone.validation import Filters


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--xlsx", action="store_true", help="also time the XLSX export (slow at scale 10)")
    args = parser.parse_args()
    with private_database(args.scale) as (owner, url):
        user = users.get_user("viewer")
        with tempfile.TemporaryFile() as fh:
            t0 = time.perf_counter()
            with owner.connect() as conn, conn.connection.driver_connection.cursor() as cur:
                with cur.copy("COPY (SELECT * FROM milestone.invoices) TO STDOUT WITH (FORMAT csv, HEADER true)") as cp:
                    for chunk in cp:
                        fh.write(chunk)
            plain = time.perf_counter() - t0
        with tempfile.TemporaryFile() as fh:
            t0 = time.perf_counter()
            rows = exports.export("invoices", Filters(), "csv", fh, user)
            ours = time.perf_counter() - t0
            size = fh.tell()
        with tempfile.TemporaryFile() as fh:  # again, under tracemalloc (which slows Python), for memory
            tracemalloc.start()
            exports.export("invoices", Filters(), "csv", fh, user)
            peak = tracemalloc.get_traced_memory()[1] / 1e6
            tracemalloc.stop()
        print(f"scale {args.scale}: {rows:,} invoices, {size / 1e6:.0f} MB of CSV")
        print(f"plain COPY (raw invoices table) to a file: {plain:.2f} s")
        print(f"export (joined with projects and phases) : {ours:.2f} s = {ours / plain:.2f}x plain COPY")
        print(f"peak Python memory allocated during the CSV export: {peak:.1f} MB")
        if args.xlsx:
            with tempfile.TemporaryFile() as fh:
                t0 = time.perf_counter()
                exports.export("invoices", Filters(), "xlsx", fh, user)
                print(f"xlsx export: {time.perf_counter() - t0:.1f} s, {fh.tell() / 1e6:.0f} MB")
            with tempfile.TemporaryFile() as fh:  # again under tracemalloc (which slows Python) for memory
                tracemalloc.start()
                exports.export("invoices", Filters(), "xlsx", fh, user)
                print(f"xlsx peak Python memory: {tracemalloc.get_traced_memory()[1] / 1e6:.0f} MB")
                tracemalloc.stop()


if __name__ == "__main__":
    main()

"""Import a Xero CSV export the size of a busy year (default 100,000 lines, two lines per invoice)
into a seeded database: time the whole-file validation, the dry run, the import, and a re-import
of the same file (which must change nothing); peak Python memory of the import.

    .venv/bin/python -m bench.bench_import --scale 1 --lines 100000

With --practice: a practice's real export (Xero's 44-column layout, UK dates, projects named by
tracking options Milestone does not know yet, a Stage category, overhead lines, credit notes
written negative, overpayments, euro invoices with a rate) into an EMPTY database, with the new
projects and phases created (issue 15: 50,000 lines in under 30 s).

    .venv/bin/python -m bench.bench_import --practice --lines 50000
"""

from __future__ import annotations

import argparse
import time
import tracemalloc
from decimal import Decimal

from bench.common import private_database
from milestone.services import imports, users
from tests.xero_files import EXPORT_COLUMNS, line, render


def practice_export(n_lines: int) -> bytes:
    """n_lines lines of invoices of two lines each, every 50th document an overpayment row (no
    lines of its own), every 25th a credit note, every 40th in euros; every 10th line untracked."""
    rows = []
    i = doc = 0
    while len(rows) < n_lines:
        doc += 1
        if len(rows) == n_lines - 1:  # one line left: an overpayment row fits it
            doc = 50 * (doc // 50 + 1)
        day, month = doc % 28 + 1, doc % 12 + 1
        when, contact = f"{day}/{month}/2025", f"Client {doc % 400}"
        if doc % 50 == 0:
            rows.append(
                line(
                    "",
                    "",
                    "-100.00",
                    "0.00",
                    contact=contact,
                    date=when,
                    due="",
                    status="Paid",
                    doc_type="Sales overpayment",
                    due_amount="0.00",
                )
                | {"TrackingName1": ""}
            )
            continue
        credit = doc % 25 == 0
        sign = "-" if credit else ""
        project = f"Job {doc % 800:03d} for {contact}"
        for k in range(2):
            i += 1
            row = line(
                f"INV-{doc:06d}",
                project if i % 10 else "",
                f"{sign}240.00",
                f"{sign}40.00",
                contact=contact,
                date=when,
                due=when,
                status="Paid" if doc % 3 else "Awaiting Payment",
                doc_type="Sales credit note" if credit else "Sales invoice",
                due_amount="0.00",
                LineAmount=f"{sign}100.00",
                UnitAmount=f"{sign}100.00",
                TaxAmount=f"{sign}20.00",
                description=f"Line {k + 1}",
                Currency="EUR" if doc % 40 == 0 else "GBP",
            )
            row |= {
                "TrackingName1": "Client Job" if row["TrackingOption1"] else "",
                "TrackingName2": "Stage",
                "TrackingOption2": ("Preparation", "Review", "Filing")[doc % 3],
            }
            rows.append(row)
    return render(rows, EXPORT_COLUMNS)


def practice(n_lines: int) -> None:
    with private_database(None) as _:
        user = users.get_user("finance")
        data = practice_export(n_lines)
        print(f"file: {n_lines:,} lines, Xero's 44-column export layout, {len(data) / 1048576:.1f} MB")
        options = imports.ImportOptions(rates={"EUR": Decimal("0.85")}, create_projects=True)
        for label, dry in (
            ("dry run (validate + classify, roll back)", True),
            ("import into an empty database, creating projects and phases", False),
            ("re-import the same file", False),
        ):
            t0 = time.perf_counter()
            result = imports.import_file(data, "bench.csv", user, dry_run=dry, options=options)
            print(
                f"{label}: {time.perf_counter() - t0:.2f} s -> {result.summary} "
                f"({len(result.new_projects):,} new projects, {len(result.new_phases)} new phases)"
            )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--lines", type=int, default=100_000)
    parser.add_argument("--practice", action="store_true", help="a practice's real export into an empty database")
    args = parser.parse_args()
    if args.practice:
        practice(args.lines)
        return
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

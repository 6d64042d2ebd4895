"""Time a Xero-sync-sized bulk upsert (100k invoices in one statement) with the metrics
triggers on, and check project_metrics against a recount afterwards.

    .venv/bin/python -m bench.bench_sync --scale 1
"""

from __future__ import annotations

import argparse
import time

import sqlalchemy as sa

from bench.common import private_database

UPSERT = """
    INSERT INTO milestone.invoices (project_id, build_phase_id, xero_id, number, contact, issue_date, due_date,
                                    status, doc_type, subtotal, total_tax, total, amount_due, currency)
    SELECT project_id, build_phase_id, xero_id, number, contact, issue_date, due_date,
           CASE WHEN status = 'Authorised' THEN 'Paid' ELSE status END, doc_type,
           subtotal + 1, total_tax, total + 1, 0, currency
    FROM milestone.invoices ORDER BY xero_id LIMIT :n
    ON CONFLICT (xero_id) DO UPDATE SET status = EXCLUDED.status, subtotal = EXCLUDED.subtotal,
        total = EXCLUDED.total, amount_due = EXCLUDED.amount_due"""

MISMATCHES = """
    SELECT count(*) FROM milestone.project_metrics m JOIN milestone.projects p ON p.id = m.project_id
    WHERE m.revenue <> coalesce((SELECT sum(CASE WHEN doc_type = 'credit_note' THEN -subtotal ELSE subtotal END)
                                 FROM milestone.invoices i WHERE i.project_id = p.id
                                 AND i.status IN ('Authorised', 'Paid')), 0)"""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--rows", type=int, default=100_000)
    args = parser.parse_args()
    with private_database(args.scale) as (eng, _):
        for label, n in (("1 row", 1), (f"{args.rows:,} rows", args.rows)):
            with eng.begin() as conn:
                conn.execute(sa.text("SET LOCAL ROLE xero_sync"))
                t0 = time.perf_counter()
                conn.execute(sa.text(UPSERT), {"n": n})
                elapsed = time.perf_counter() - t0
            print(f"upsert {label} as xero_sync (metrics maintained in the same statement): {elapsed * 1000:,.0f} ms")
        with eng.connect() as conn:
            print(f"projects whose revenue differs from a recount: {conn.scalar(sa.text(MISMATCHES))}")


if __name__ == "__main__":
    main()

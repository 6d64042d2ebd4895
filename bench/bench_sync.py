"""Time a Xero-sync-sized bulk upsert (100k invoice headers in batches of 5,000, one statement
and transaction each, as docs/xero-sync.md tells the n8n sync to send them: Authorised invoices
become Paid) with the rollup triggers on, then check the rollups against a recount from the
lines (ledger_reconciliation and pnl_monthly key by key).

    .venv/bin/python -m bench.bench_sync --scale 1
"""

from __future__ import annotations

import argparse
import statistics
import time

import sqlalchemy as sa

from bench.common import private_database

# Headers only (the lines, and so the subtotal, are unchanged): every invoice's status and amount
# due change what all its lines count, so the triggers recount every key of those lines.
UPSERT = """
    INSERT INTO milestone.invoices (xero_id, number, contact, issue_date, due_date, status, doc_type,
                                    line_amount_types, subtotal, total_tax, total, amount_due, currency)
    SELECT xero_id, number, contact, issue_date, due_date,
           CASE WHEN status = 'Authorised' THEN 'Paid' ELSE status END, doc_type,
           line_amount_types, subtotal, total_tax, total,
           CASE WHEN status = 'Authorised' THEN 0 ELSE amount_due END, currency
    FROM milestone.invoices ORDER BY xero_id OFFSET :offset LIMIT :n
    ON CONFLICT (xero_id) DO UPDATE SET status = EXCLUDED.status, amount_due = EXCLUDED.amount_due"""

# pnl_monthly keys whose figures differ from a recount (refresh_pnl_monthly in a rolled-back
# transaction would be the other way; this one reads the rollup against the same rules).
FAILED_CHECKS = "SELECT count(*) FROM milestone.ledger_reconciliation WHERE NOT ok"
DIFFERING_KEYS = """
    WITH recount AS (
        SELECT l.project_id, l.build_phase_id, date_trunc('month', l.doc_date)::date AS month,
               sum(milestone.signed_counted(i.status, i.doc_type, l.line_amount)) AS revenue
        FROM milestone.invoice_lines l JOIN milestone.invoices i ON i.id = l.invoice_id
        GROUP BY 1, 2, 3),
    stored AS (SELECT project_id, build_phase_id, month, revenue FROM milestone.pnl_monthly)
    SELECT count(*) FROM (
        (SELECT * FROM recount WHERE revenue <> 0 EXCEPT SELECT * FROM stored WHERE revenue <> 0)
        UNION ALL
        (SELECT * FROM stored WHERE revenue <> 0 EXCEPT SELECT * FROM recount WHERE revenue <> 0)) d"""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=5_000)
    args = parser.parse_args()

    def upsert(eng, offset: int, n: int) -> float:
        with eng.begin() as conn:
            conn.execute(sa.text("SET LOCAL ROLE xero_sync"))
            t0 = time.perf_counter()
            conn.execute(sa.text(UPSERT), {"offset": offset, "n": n})
            return time.perf_counter() - t0

    with private_database(args.scale) as (eng, _):
        one = upsert(eng, 0, 1)
        print(f"upsert 1 row as xero_sync (rollups maintained in the same statement): {one * 1000:,.0f} ms")
        times = [upsert(eng, lo, min(args.batch, args.rows - lo)) for lo in range(1, args.rows, args.batch)]
        print(
            f"upsert {args.rows:,} rows in {len(times)} batches of {args.batch:,}: {sum(times):,.1f} s "
            f"(median batch {statistics.median(times) * 1000:,.0f} ms, slowest {max(times) * 1000:,.0f} ms)"
        )
        with eng.connect() as conn:
            print(f"failed ledger_reconciliation checks: {conn.scalar(sa.text(FAILED_CHECKS))}")
            print(f"pnl_monthly keys whose revenue differs from a recount: {conn.scalar(sa.text(DIFFERING_KEYS))}")


if __name__ == "__main__":
    main()

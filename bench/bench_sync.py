"""Time a Xero-sync-sized bulk upsert (100k invoice headers in one statement, as the n8n sync
writes them: Authorised invoices become Paid) with the rollup triggers on, then check the
rollups against a recount from the lines (ledger_reconciliation and pnl_monthly key by key).

    .venv/bin/python -m bench.bench_sync --scale 1
"""

from __future__ import annotations

import argparse
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
    FROM milestone.invoices ORDER BY xero_id LIMIT :n
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
    args = parser.parse_args()
    with private_database(args.scale) as (eng, _):
        for label, n in (("1 row", 1), (f"{args.rows:,} rows", args.rows)):
            with eng.begin() as conn:
                conn.execute(sa.text("SET LOCAL ROLE xero_sync"))
                t0 = time.perf_counter()
                conn.execute(sa.text(UPSERT), {"n": n})
                elapsed = time.perf_counter() - t0
            print(f"upsert {label} as xero_sync (rollups maintained in the same statement): {elapsed * 1000:,.0f} ms")
        with eng.connect() as conn:
            print(f"failed ledger_reconciliation checks: {conn.scalar(sa.text(FAILED_CHECKS))}")
            print(f"pnl_monthly keys whose revenue differs from a recount: {conn.scalar(sa.text(DIFFERING_KEYS))}")


if __name__ == "__main__":
    main()

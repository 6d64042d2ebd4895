"""The n8n contract in docs/xero-sync.md, played as written: 100k multi-line invoices upserted as xero_sync.

Documents carry 1-4 line items: some split across two projects, some across phases, some with
untracked lines (overheads) and some bills with no project at all; some Inclusive of tax.

The statements are read from the document itself, so the document cannot drift from what works.
"""

import json
import random
import re
from datetime import date, timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa

from milestone import db
from milestone.config import PROJECT_ROOT
from tests import oracle

DOC = PROJECT_ROOT / "docs" / "xero-sync.md"
N_PROJECTS, N_INVOICES, N_BILLS, BATCH = 1_000, 100_000, 5_000, 5_000
STATUSES = ["AUTHORISED", "PAID", "DRAFT", "VOIDED", "SUBMITTED", "DELETED"]


def statements() -> dict[str, str]:
    found = re.findall(r"<!-- statement: (\S+) -->\s*```sql\n(.*?)```", DOC.read_text(), re.S)
    return {name: sql for name, sql in found}


def _run(database, sql: str, *params):
    """One statement in its own transaction, as the xero_sync role, with n8n's $1/$2 parameters."""
    sql = sql.replace("%", "%%")
    sql = re.sub(r"\$(\d)", lambda m: f"%(p{m.group(1)})s", sql)
    with database.owner.connect() as conn:
        raw = conn.connection.driver_connection
        with raw.transaction(), raw.cursor() as cur:
            cur.execute("SET LOCAL ROLE xero_sync")
            cur.execute(sql, {f"p{i}": p for i, p in enumerate(params, start=1)})
            rows = cur.fetchall() if cur.description else []
    return rows


def _pence(x: int) -> str:
    return str(Decimal(x) / 100)


def _documents(n: int, kind: str, rng: random.Random, prefix: str) -> list[dict]:
    docs = []
    for i in range(n):
        n_lines = rng.choice([1, 1, 2, 2, 3, 4])
        parts = [rng.randint(100, 200_000) for _ in range(n_lines)]
        sub = sum(parts)
        taxes = [p * 2 // 10 for p in parts]
        status = rng.choice(STATUSES)
        credit = rng.random() < 0.05
        inclusive = rng.random() < 0.1
        project = f"OPT-{i % N_PROJECTS:05d}"
        shape = rng.random()
        lines = []
        for k, (p, t) in enumerate(zip(parts, taxes, strict=True)):
            line = {
                "Description": f"Item {k + 1}",
                "AccountCode": "200" if kind == "ACCREC" else "310",
                "Quantity": "1",
                "UnitAmount": _pence(p + t if inclusive else p),
                "LineAmount": _pence(p + t if inclusive else p),
                "TaxAmount": _pence(t),
                "Project": project,
                "Phase": rng.choice(["Groundworks", "Frame", None]),
            }
            if shape < 0.1 and k % 2 == 1:  # split across two projects
                line["Project"] = f"OPT-{(i * 7 + 3) % N_PROJECTS:05d}"
            elif shape < 0.15 and k == n_lines - 1:  # an untracked line: an overhead
                del line["Project"]
            elif shape < 0.2 and kind == "ACCPAY":  # an overhead bill: no project on any line
                del line["Project"]
            if line["Phase"] is None:
                del line["Phase"]
            lines.append(line)
        docs.append(
            {
                "InvoiceID": f"{prefix}-{i:07d}",
                "InvoiceNumber": f"{prefix}-{i:06d}",
                "ContactName": f"Contact {i % 300}",
                "Date": str(date(2024, 1, 1) + timedelta(days=i % 900)),
                "DueDate": str(date(2024, 1, 31) + timedelta(days=i % 900)),
                "Status": status,
                "Type": (kind + ("CREDIT" if credit else "")),
                "LineAmountTypes": "Inclusive" if inclusive else "Exclusive",
                "SubTotal": _pence(sub),
                "TotalTax": _pence(sum(taxes)),
                "Total": _pence(sub + sum(taxes)),
                # Xero: AmountDue on invoices and bills, RemainingCredit on credit notes
                ("RemainingCredit" if credit else "AmountDue"): _pence(
                    sub + sum(taxes) if status == "AUTHORISED" else 0
                ),
                "CurrencyCode": "GBP",
                "LineItems": lines,
            }
        )
    return docs


def _line_ex_tax(doc: dict, line: dict) -> Decimal:
    amount = Decimal(line["LineAmount"])
    return amount - Decimal(line["TaxAmount"]) if doc["LineAmountTypes"] == "Inclusive" else amount


def _expected(docs: list[dict]) -> tuple[dict[str, Decimal], Decimal]:
    """P&L definitions applied in Python to what was sent, independent of SQL and triggers:
    ({project option: signed counted line amounts}, the untracked lines' total)."""
    out: dict[str, Decimal] = {}
    untracked = Decimal(0)
    for d in docs:
        if d["Status"] in ("AUTHORISED", "PAID"):
            sign = -1 if d["Type"].endswith("CREDIT") else 1
            for line in d["LineItems"]:
                if "Project" in line:
                    out[line["Project"]] = out.get(line["Project"], Decimal(0)) + sign * _line_ex_tax(d, line)
                else:
                    untracked += sign * _line_ex_tax(d, line)
    return out, untracked


def _stored(docs: list[dict]) -> list[dict]:
    return [
        d
        for d in docs
        if d["CurrencyCode"] == "GBP" and not any(line.get("Project") == "OPT-UNKNOWN" for line in d["LineItems"])
    ]


@pytest.fixture(scope="module")
def synced(database):
    sql, rng = statements(), random.Random(7)
    assert set(sql) >= {
        "start-run",
        "upsert-projects",
        "upsert-phases",
        "adopt-invoices",
        "adopt-bills",
        "upsert-invoices",
        "upsert-bills",
        "finish-run",
        "fail-run",
    }
    run_id = str(_run(database, sql["start-run"])[0][0])
    projects = [
        {"TrackingOptionID": f"OPT-{i:05d}", "Name": f"Project {i}", "ClientName": f"Client {i % 200}"}
        for i in range(N_PROJECTS)
    ]
    _run(database, sql["upsert-projects"], json.dumps(projects))
    _run(database, sql["upsert-phases"], json.dumps(["Groundworks", "Frame"]))
    invoices = _documents(N_INVOICES, "ACCREC", rng, "INV")
    invoices[17]["LineItems"][0]["Project"] = "OPT-UNKNOWN"  # a line for a project Milestone does not know
    invoices[18]["CurrencyCode"] = "EUR"  # and one the pounds P&L cannot take
    bills = _documents(N_BILLS, "ACCPAY", rng, "BILL")
    imported = _import_without_ids(database, [d for d in invoices[20:80] if not d["Type"].endswith("CREDIT")][:3])
    counts = [0, 0, 0]
    for kind, docs in (("invoices", invoices), ("bills", bills)):
        for start in range(0, len(docs), BATCH):
            batch = json.dumps(docs[start : start + BATCH])
            _run(database, sql[f"adopt-{kind}"], batch)
            created, updated, failed = _run(database, sql[f"upsert-{kind}"], batch, run_id, "GBP")[0]
            counts = [counts[0] + created, counts[1] + updated, counts[2] + failed]
    _run(database, sql["finish-run"], run_id)
    return {"sql": sql, "run_id": run_id, "invoices": invoices, "bills": bills, "counts": counts, "imported": imported}


def _import_without_ids(database, docs: list[dict]) -> list[dict]:
    """Some invoices first arrive from a Xero CSV export, which has no InvoiceID column: one CSV
    line per line item, each with its own tracking (none = an overhead) and amounts."""
    from milestone import seed
    from milestone.services import imports, users
    from tests.xero_files import COLUMNS, line, render

    seed.ensure_demo_users(database.owner)
    rows = [
        line(
            d["InvoiceNumber"],
            item.get("Project", ""),
            d["Total"],
            d["TotalTax"],
            contact=d["ContactName"],
            date=d["Date"],
            due=d["DueDate"],
            status=d["Status"],
            doc_type=d["Type"],
            due_amount=d.get("AmountDue") or "0",
            phase=item.get("Phase", ""),
            description=item["Description"],
            AccountCode=item["AccountCode"],
            Quantity=item["Quantity"],
            UnitAmount=item["UnitAmount"],
            LineAmount=item["LineAmount"],
            TaxAmount=item["TaxAmount"],
            LineAmountTypes=d["LineAmountTypes"],
        )
        for d in docs
        for item in d["LineItems"]
    ]
    result = imports.import_file(
        render(rows, COLUMNS + ["LineAmountTypes"]), "early.csv", users.get_user("finance"), dry_run=False
    )
    assert result.created == len(docs)
    return docs


def test_the_sync_records_its_run(database, synced):
    run = database.rows(
        "SELECT status, rows_created, rows_updated, rows_failed, finished_at IS NOT NULL AS done "
        "FROM milestone.sync_runs WHERE id = CAST(:id AS uuid)",
        id=synced["run_id"],
    )[0]
    created = N_INVOICES + N_BILLS - 2 - len(synced["imported"])  # those were imported before, identical
    assert run == {"status": "COMPLETED", "rows_created": created, "rows_updated": 0, "rows_failed": 2, "done": True}
    assert synced["counts"] == [created, 0, 2]
    assert (
        database.scalar(
            "SELECT count(*) FROM milestone.invoices WHERE xero_id = :x", x=synced["invoices"][18]["InvoiceID"]
        )
        == 0
    )


def test_documents_imported_without_ids_are_adopted_not_doubled(database, synced):
    for d in synced["imported"]:
        assert database.rows("SELECT xero_id FROM milestone.invoices WHERE number = :n", n=d["InvoiceNumber"]) == [
            {"xero_id": d["InvoiceID"]}
        ]
    assert database.scalar("SELECT count(*) FROM milestone.invoices WHERE xero_id LIKE 'csv:%'") == 0


def test_metrics_follow_the_sync_exactly(database, synced):
    kept, recount = oracle.metrics_table(database), oracle.project_sums(database)
    assert len(kept) == N_PROJECTS
    assert kept == recount
    assert oracle.stored_pnl(database) == oracle.pnl_rows(database)
    by_option = {
        r["opt"]: Decimal(r["revenue"])
        for r in database.rows(
            "SELECT p.xero_tracking_id AS opt, m.revenue FROM milestone.project_metrics m "
            "JOIN milestone.projects p ON p.id = m.project_id"
        )
    }
    expected, untracked = _expected(_stored(synced["invoices"]))
    assert by_option == {opt: expected.get(opt, Decimal("0.00")) for opt in by_option}
    assert database.scalar("SELECT sum(revenue) FROM milestone.pnl_monthly WHERE project_id IS NULL") == untracked
    assert all(r["ok"] for r in database.rows("SELECT ok FROM milestone.ledger_reconciliation"))


def test_split_documents_and_overheads_are_stored_line_by_line(database, synced):
    split = next(
        d
        for d in _stored(synced["invoices"])
        if len({line.get("Project") for line in d["LineItems"]}) > 1 and len(d["LineItems"]) > 1
    )
    rows = database.rows(
        """
        SELECT l.line_number, l.line_amount, p.xero_tracking_id AS project, bp.name AS phase
        FROM milestone.invoice_lines l JOIN milestone.invoices i ON i.id = l.invoice_id
        LEFT JOIN milestone.projects p ON p.id = l.project_id LEFT JOIN milestone.build_phases bp ON bp.id =
            l.build_phase_id
        WHERE i.xero_id = :x ORDER BY l.line_number""",
        x=split["InvoiceID"],
    )
    assert [(r["line_number"], r["line_amount"], r["project"], r["phase"]) for r in rows] == [
        (k, _line_ex_tax(split, line), line.get("Project"), line.get("Phase"))
        for k, line in enumerate(split["LineItems"], start=1)
    ]
    overhead_bills = [d for d in synced["bills"] if not any("Project" in line for line in d["LineItems"])]
    assert overhead_bills
    assert (
        database.scalar(
            """SELECT count(*) FROM milestone.bill_lines l JOIN milestone.bills b ON b.id = l.bill_id
                              WHERE b.xero_id = ANY(:ids) AND l.project_id IS NOT NULL""",
            ids=[d["InvoiceID"] for d in overhead_bills],
        )
        == 0
    )


def test_a_later_run_moves_a_line_and_drops_a_removed_one(database, synced):
    sql = synced["sql"]
    run_id = str(_run(database, sql["start-run"])[0][0])
    d = next(
        dict(d)
        for d in _stored(synced["invoices"][BATCH:])
        if len(d["LineItems"]) >= 3 and d["Status"] == "PAID" and d["LineAmountTypes"] == "Exclusive"
    )
    first, *rest = [dict(line) for line in d["LineItems"]]
    dropped = rest.pop()
    first["Project"] = "OPT-00999"  # retracked in Xero
    first["LineAmount"] = str(Decimal(first["LineAmount"]) + Decimal(dropped["LineAmount"]))
    d["LineItems"] = [first, *rest]
    assert _run(database, sql["upsert-invoices"], json.dumps([d]), run_id, "GBP")[0] == (0, 1, 0)
    assert database.scalar(
        """SELECT count(*) FROM milestone.invoice_lines l JOIN milestone.invoices i ON i.id = l.invoice_id
                              WHERE i.xero_id = :x""",
        x=d["InvoiceID"],
    ) == len(d["LineItems"])
    assert oracle.stored_pnl(database) == oracle.pnl_rows(database)
    assert oracle.metrics_table(database) == oracle.project_sums(database)


def test_a_batch_with_a_document_that_does_not_add_up_fails_whole_naming_it(database, synced):
    sql = synced["sql"]
    run_id = str(_run(database, sql["start-run"])[0][0])
    good, bad = (dict(d) for d in _documents(2, "ACCPAY", random.Random(3), "ODD"))
    bad["SubTotal"] = str(Decimal(bad["SubTotal"]) + 1)
    with pytest.raises(Exception, match=r"bill ODD-000001 \(xero_id ODD-0000001\): its lines add up to"):
        _run(database, sql["upsert-bills"], json.dumps([good, bad]), run_id, "GBP")
    assert database.scalar("SELECT count(*) FROM milestone.bills WHERE xero_id LIKE 'ODD-%'") == 0


def test_statuses_and_credit_notes_are_mapped(database, synced):
    rows = {
        r["xero_id"]: r
        for r in database.rows(
            "SELECT xero_id, status, doc_type, amount_due FROM milestone.invoices WHERE xero_id = ANY(:ids)",
            ids=[d["InvoiceID"] for d in synced["invoices"][:200]],
        )
    }
    for d in synced["invoices"][:200]:
        if d["InvoiceID"] in rows:
            want = "Voided" if d["Status"] == "DELETED" else d["Status"].capitalize()
            assert rows[d["InvoiceID"]]["status"] == want
            assert rows[d["InvoiceID"]]["doc_type"] == ("credit_note" if d["Type"].endswith("CREDIT") else "invoice")
            assert rows[d["InvoiceID"]]["amount_due"] == Decimal(d.get("AmountDue") or d.get("RemainingCredit"))


def test_a_second_identical_run_changes_nothing_and_a_changed_document_is_updated(database, synced):
    sql = synced["sql"]
    before = database.scalar("SELECT max(updated_at) FROM milestone.invoices")
    run_id = str(_run(database, sql["start-run"])[0][0])
    batch = synced["invoices"][:BATCH]
    assert _run(database, sql["upsert-invoices"], json.dumps(batch), run_id, "GBP")[0] == (0, 0, 2)
    assert database.scalar("SELECT max(updated_at) FROM milestone.invoices") == before
    changed = [dict(d) for d in batch[:10]]
    for d in changed:
        d.update(Status="PAID", AmountDue="0")
    created, updated, _ = _run(database, sql["upsert-invoices"], json.dumps(changed), run_id, "GBP")[0]
    assert (created, updated) == (0, sum(1 for d in _stored(batch[:10]) if d["Status"] != "PAID"))
    _run(database, sql["fail-run"], run_id, "Xero API rate limit (HTTP 429)")
    assert database.rows("SELECT status, error FROM milestone.sync_runs WHERE id = CAST(:id AS uuid)", id=run_id) == [
        {"status": "FAILED", "error": "Xero API rate limit (HTTP 429)"}
    ]
    assert oracle.metrics_table(database) == oracle.project_sums(database)


def test_a_csv_copy_of_a_document_already_synced_is_removed_by_the_adopt_step(database, synced):
    d = next(d for d in _stored(synced["invoices"]) if d["Status"] == "PAID")
    with db.transaction(
        None, database.owner
    ) as conn:  # a copy of the document and its lines, as a CSV import stored it
        conn.execute(
            sa.text("""
            INSERT INTO milestone.invoices (xero_id, number, contact, issue_date, status, subtotal, total)
            SELECT milestone.csv_document_key('invoices', contact, number, issue_date), number, contact,
                   issue_date, status, subtotal, total FROM milestone.invoices WHERE xero_id = :x"""),
            {"x": d["InvoiceID"]},
        )
        conn.execute(
            sa.text("""
            INSERT INTO milestone.invoice_lines (invoice_id, line_number, doc_date, line_amount, project_id,
                build_phase_id)
            SELECT c.id, l.line_number, l.doc_date, l.line_amount, l.project_id, l.build_phase_id
            FROM milestone.invoices i JOIN milestone.invoice_lines l ON l.invoice_id = i.id
            JOIN milestone.invoices c ON c.xero_id = milestone.csv_document_key('invoices', i.contact,
                i.number, i.issue_date)
            WHERE i.xero_id = :x"""),
            {"x": d["InvoiceID"]},
        )
    assert database.scalar("SELECT count(*) FROM milestone.invoices WHERE number = :n", n=d["InvoiceNumber"]) == 2
    _run(database, synced["sql"]["adopt-invoices"], json.dumps([d]))
    assert database.rows("SELECT xero_id FROM milestone.invoices WHERE number = :n", n=d["InvoiceNumber"]) == [
        {"xero_id": d["InvoiceID"]}
    ]
    assert oracle.stored_pnl(database) == oracle.pnl_rows(database)


def test_a_synced_project_keeps_the_app_owned_columns(database, synced):
    pid = database.scalar("SELECT id::text FROM milestone.projects WHERE xero_tracking_id = 'OPT-00001'")
    database.execute(
        "UPDATE milestone.projects SET budget_revenue = 5000, status = 'In Progress' WHERE id = :p",
        user="finance",
        p=pid,
    )
    renamed = [{"TrackingOptionID": "OPT-00001", "Name": "Project 1 (renamed in Xero)", "ClientName": "Client 1"}]
    _run(database, synced["sql"]["upsert-projects"], json.dumps(renamed))
    assert database.rows("SELECT name, budget_revenue, status FROM milestone.projects WHERE id = :p", p=pid) == [
        {"name": "Project 1 (renamed in Xero)", "budget_revenue": Decimal("5000.00"), "status": "In Progress"}
    ]


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE milestone.estimates SET amount = 1",
        "INSERT INTO milestone.estimates (project_id, kind, description, amount, date) "
        "SELECT id, 'revenue', 'x', 1, now() FROM milestone.projects LIMIT 1",
        "UPDATE milestone.app_users SET role = 'admin'",
        "INSERT INTO milestone.app_users (username, display_name, password_hash, role) VALUES ('x', 'x', 'x', 'admin')",
        "UPDATE milestone.audit_log SET user_id = 'x'",
        "DELETE FROM milestone.audit_log",
        "UPDATE milestone.projects SET budget_revenue = 1",
        "UPDATE milestone.projects SET budget_cost = 1",
        "UPDATE milestone.projects SET status = 'Completed'",
        "UPDATE milestone.projects SET user_id = NULL",
        "UPDATE milestone.project_metrics SET revenue = 0",
        "UPDATE milestone.pnl_monthly SET revenue = 0",
        "DELETE FROM milestone.import_runs",
        "INSERT INTO milestone.sync_requests (username) VALUES ('n8n')",
    ],
)
def test_xero_sync_cannot_touch_what_the_app_owns(database, synced, sql):
    with pytest.raises(Exception, match="permission denied"):
        _run(database, sql)


def test_a_document_in_another_currency_is_converted_at_xeros_rate(database, synced):
    """Xero's CurrencyRate is units of the document's currency per base unit: base = amount / rate,
    to the penny, the lines' rounding pennies on the largest line; without a rate it fails."""
    sql = synced["sql"]
    run_id = str(_run(database, sql["start-run"])[0][0])
    lines = [
        {
            "Description": "Advice",
            "AccountCode": "200",
            "Quantity": "1",
            "UnitAmount": "10.05",
            "LineAmount": "10.05",
            "TaxAmount": "2.01",
            "Project": "OPT-00001",
        },
        {
            "Description": "Filing",
            "AccountCode": "200",
            "Quantity": "1",
            "UnitAmount": "10.05",
            "LineAmount": "10.05",
            "TaxAmount": "2.01",
            "Project": "OPT-00002",
        },
    ]
    euro = {
        "InvoiceID": "FX-1",
        "InvoiceNumber": "FX-1",
        "ContactName": "Müller GmbH",
        "Date": "2026-02-05",
        "DueDate": "2026-03-05",
        "Status": "AUTHORISED",
        "Type": "ACCREC",
        "LineAmountTypes": "Exclusive",
        "SubTotal": "20.10",
        "TotalTax": "4.02",
        "Total": "24.12",
        "AmountDue": "24.12",
        "CurrencyCode": "EUR",
        "CurrencyRate": "2",
        "LineItems": lines,
    }
    no_rate = euro | {"InvoiceID": "FX-2", "InvoiceNumber": "FX-2"}
    del no_rate["CurrencyRate"]
    assert _run(database, sql["upsert-invoices"], json.dumps([euro, no_rate]), run_id, "GBP")[0] == (1, 0, 1)
    assert database.rows(
        """SELECT currency, currency_rate, subtotal, total_tax, total, amount_due, original_subtotal, original_total,
                  original_amount_due FROM milestone.invoices WHERE xero_id LIKE 'FX-%'"""
    ) == [
        {
            "currency": "EUR",
            "currency_rate": Decimal("0.5"),
            "subtotal": Decimal("10.05"),
            "total_tax": Decimal("2.01"),
            "total": Decimal("12.06"),
            "amount_due": Decimal("12.06"),
            "original_subtotal": Decimal("20.10"),
            "original_total": Decimal("24.12"),
            "original_amount_due": Decimal("24.12"),
        }
    ]
    # 5.025 rounds to 5.03 twice, 0.01 more than the converted subtotal: the first largest line gives it back
    assert database.rows(
        """SELECT l.line_amount, l.original_line_amount, l.unit_amount FROM milestone.invoice_lines l
           JOIN milestone.invoices i ON i.id = l.invoice_id WHERE i.xero_id = 'FX-1' ORDER BY l.line_number"""
    ) == [
        {"line_amount": Decimal("5.02"), "original_line_amount": Decimal("10.05"), "unit_amount": Decimal("5.0250")},
        {"line_amount": Decimal("5.03"), "original_line_amount": Decimal("10.05"), "unit_amount": Decimal("5.0250")},
    ]
    # the same rule as the CSV importer's (milestone.services.imports.convert)
    from milestone.services.imports import convert

    item = {"line_amount": Decimal("10.05"), "tax_amount": Decimal("2.01"), "unit_amount": None}
    doc = {
        "subtotal": Decimal("20.10"),
        "total_tax": Decimal("4.02"),
        "total": Decimal("24.12"),
        "amount_due": Decimal("24.12"),
        "lines": [dict(item), dict(item)],
    }
    convert(doc, Decimal("0.5"))
    assert [x["line_amount"] for x in doc["lines"]] == [Decimal("5.02"), Decimal("5.03")]
    assert _run(database, sql["upsert-invoices"], json.dumps([euro, no_rate]), run_id, "GBP")[0] == (0, 0, 1)
    assert oracle.metrics_table(database) == oracle.project_sums(database)
    assert all(r["ok"] for r in database.rows("SELECT ok FROM milestone.ledger_reconciliation"))

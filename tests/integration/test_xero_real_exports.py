"""A practice's real Xero files into an empty Milestone, through the command line (issue 15).

Export files in Xero's documented 44-column layout (invoices and bills, UK dates, documents split
across projects and phases, overheads, credit notes written negative, an overpayment and a
prepayment, bill numbers that repeat across suppliers, a EUR invoice) and both import-template
layouts. Every P&L figure is checked against a recomputation from the files themselves.
"""

from __future__ import annotations

import csv
import io
import os
import subprocess
import sys
from collections import defaultdict
from decimal import ROUND_HALF_UP, Decimal

import pytest

from milestone import seed
from milestone.config import PROJECT_ROOT
from milestone.errors import RowProblems
from milestone.services import imports, users
from tests import oracle
from tests.xero_files import (
    BILLS_TEMPLATE,
    EXPORT_COLUMNS,
    SALES_TEMPLATE,
    SALES_TEMPLATE_SHORT,
    line,
    render,
    template_line,
)

PENNY = Decimal("0.01")
EUR_RATE = Decimal("0.85")


def _job(number, project, total, tax, *, stage="", **kw):
    """A line tracked the way a practice does it: 'Client Job' = the project, 'Stage' = the phase."""
    row = line(number, project, total, tax, **kw)
    row |= {
        "TrackingName1": "Client Job" if project else "",
        "TrackingOption1": project,
        "TrackingName2": "Stage" if stage else "",
        "TrackingOption2": stage,
    }
    return row


def _split(number, total, tax, parts, **kw):
    """A document of several lines: parts = [(project, stage, line amount, line tax), ...]."""
    return [
        _job(number, p, total, tax, stage=s, LineAmount=a, UnitAmount=a, TaxAmount=t, description=f"Part {i}", **kw)
        for i, (p, s, a, t) in enumerate(parts, start=1)
    ]


INVOICES = [
    *_split(
        "INV-001",
        "960.00",
        "160.00",
        [
            ("Smith Tax Return 2025", "Preparation", "500.00", "100.00"),
            ("Smith Tax Return 2025", "Review", "300.00", "60.00"),
        ],
        contact="Smith & Co",
        date="3/1/2026",  # UK order, unpadded day
        due="2/2/2026",
        status="Awaiting Payment",
    ),
    *_split(
        "INV-002",
        "1560.00",
        "260.00",
        [
            ("Jones Audit 2025", "Fieldwork", "1000.00", "200.00"),
            ("Jones Payroll", "", "250.00", "50.00"),
            ("", "", "50.00", "10.00"),  # untracked: an overhead
        ],
        contact="Jones Ltd",
        date="15/01/2026",
        due="14/02/2026",
        status="Paid",
        due_amount="0.00",
    ),
    _job(
        "CN-001",
        "Smith Tax Return 2025",
        "-120.00",
        "-20.00",
        contact="Smith & Co",
        date="20/01/2026",
        due="20/01/2026",
        status="Paid",
        doc_type="Sales credit note",
        due_amount="0.00",
    ),
    _job(
        "",
        "",
        "-200.00",
        "0.00",
        contact="Jones Ltd",
        date="21/01/2026",
        due="",
        status="Paid",
        doc_type="Sales overpayment",
        due_amount="0.00",
        description="Overpayment",
    ),
    *_split(
        "INV-003",
        "300.10",
        "0.00",
        [("Müller Advisory", "", "100.05", "0.00"), ("Müller Tax", "", "200.05", "0.00")],
        contact="Müller GmbH",
        date="05/02/2026",
        due="05/03/2026",
        status="Awaiting Payment",
        Currency="EUR",
    ),
    _job("INV-004", "Jones Audit 2025", "480.00", "80.00", contact="Jones Ltd", date="10/02/2026", status="Draft"),
    _job(
        "INV-005",
        "Jones Audit 2025",
        "240.00",
        "40.00",
        contact="Jones Ltd",
        date="11/02/2026",
        status="Awaiting Approval",
        due_amount="240.00",
    ),
]
BILLS = [
    _job(
        "B-100",
        "",
        "2400.00",
        "400.00",
        contact="Office Landlord",
        date="1/1/2026",
        status="Paid",
        doc_type="Bill",
        due_amount="0.00",
        description="Rent",
    ),
    _job(
        "B-100",
        "",
        "120.00",
        "20.00",
        contact="Software Co",
        date="1/1/2026",
        status="Awaiting Payment",
        doc_type="Bill",
        description="Licences",
    ),  # the same number from another supplier
    *_split(
        "B-200",
        "600.00",
        "100.00",
        [("Jones Audit 2025", "Fieldwork", "300.00", "60.00"), ("Smith Tax Return 2025", "Review", "200.00", "40.00")],
        contact="Subcontractor Ltd",
        date="20/01/2026",
        status="Paid",
        doc_type="Bill",
        due_amount="0.00",
    ),
    _job(
        "BCN-1",
        "Jones Audit 2025",
        "-60.00",
        "-10.00",
        contact="Subcontractor Ltd",
        date="25/01/2026",
        status="Paid",
        doc_type="Bill credit note",
        due_amount="0.00",
        stage="Fieldwork",
    ),
    _job(
        "",
        "",
        "-500.00",
        "0.00",
        contact="Office Landlord",
        date="26/01/2026",
        due="",
        status="Paid",
        doc_type="Bill prepayment",
        due_amount="0.00",
        description="Prepayment",
    ),
]
SALES_TPL = [
    template_line(
        "TPL-1",
        "2",
        "150.00",
        discount="10",
        tax="54.00",
        project="Template Project",
        phase="Review",
        contact="Template Client",
    ),
    template_line("TPL-1", "1", "100.00", tax="20.00", project="Template Project", contact="Template Client"),
]
SALES_TPL_SHORT = [template_line("TPL-2", "3", "33.33", project="Template Project", columns=SALES_TEMPLATE_SHORT)]
BILLS_TPL = [template_line("TB-1", "1", "75.00", contact="Stationers", columns=BILLS_TEMPLATE)]


def _files(tmp_path):
    paths = {}
    for name, rows, cols in (
        ("invoices.csv", INVOICES, EXPORT_COLUMNS),
        ("bills.csv", BILLS, EXPORT_COLUMNS),
        ("sales-template.csv", SALES_TPL, SALES_TEMPLATE),
        ("sales-template-short.csv", SALES_TPL_SHORT, SALES_TEMPLATE_SHORT),
        ("bills-template.csv", BILLS_TPL, BILLS_TEMPLATE),
    ):
        paths[name] = tmp_path / name
        paths[name].write_bytes(render(rows, cols))
    return paths


def _cli(db, *args):
    return subprocess.run(
        [sys.executable, "-m", "milestone", "import-xero", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=PROJECT_ROOT,
        env=os.environ | {"DATABASE_URL": db.url},
        timeout=180,
    )


# ------------------------------------------------------------------ the independent recomputation
def expected_pnl(files: list[tuple[bytes, dict[str, Decimal], str]]) -> dict[tuple[str | None, str | None], dict]:
    """Revenue and costs per (project name, phase name), recomputed from the CSV files alone:
    each line counts when its document is Awaiting Payment or Paid (a template's: the status it is
    imported with); its amount is LineAmount as written (credit notes are written negative), or a
    template's Quantity x UnitAmount less its Discount; overpayments and prepayments are not
    counted; a foreign document's lines are converted at the rate, the rounding pennies on its
    largest line (docs/design.md, "Currencies")."""
    out: dict = defaultdict(lambda: {"revenue": Decimal(0), "costs": Decimal(0)})
    for data, rates, template_status in files:
        rows = list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))
        docs: dict = defaultdict(list)
        for r in rows:
            r = {k.lstrip("*"): v for k, v in r.items()}
            kind = r.get("Type") or ("Sales invoice" if "BrandingTheme" in r else "Bill")
            if "overpayment" in kind.lower() or "prepayment" in kind.lower():
                continue
            docs[(kind, r["ContactName"], r["InvoiceNumber"])].append(r)
        for (kind, _, _), lines in docs.items():
            status = lines[0].get("Status") or template_status
            currency = lines[0].get("Currency") or "GBP"
            if status not in ("Awaiting Payment", "Paid") or (currency != "GBP" and currency not in rates):
                continue
            amounts = []
            for r in lines:
                if r.get("LineAmount"):
                    amounts.append(Decimal(r["LineAmount"]))
                else:
                    share = (100 - Decimal(r.get("Discount") or 0)) / 100
                    amounts.append((Decimal(r["Quantity"]) * Decimal(r["UnitAmount"]) * share).quantize(PENNY))
            if currency != "GBP":
                rate = rates[currency]
                subtotal = (sum(amounts) * rate).quantize(PENNY, ROUND_HALF_UP)
                base = [(a * rate).quantize(PENNY, ROUND_HALF_UP) for a in amounts]
                big = max(range(len(amounts)), key=lambda i: (abs(amounts[i]), -i))
                base[big] += subtotal - sum(base)
                amounts = base
            field = "revenue" if kind.startswith("Sales") else "costs"
            for r, amount in zip(lines, amounts, strict=True):
                project = r.get("TrackingOption1") or None
                phase = r.get("TrackingOption2") or None
                out[(project, phase)][field] += amount
    return {k: v for k, v in out.items() if v["revenue"] or v["costs"]}


def stored_pnl(db) -> dict[tuple[str | None, str | None], dict]:
    rows = db.rows("""SELECT p.name AS project, b.name AS phase, sum(m.revenue) AS revenue, sum(m.costs) AS costs
                      FROM milestone.pnl_monthly m LEFT JOIN milestone.projects p ON p.id = m.project_id
                      LEFT JOIN milestone.build_phases b ON b.id = m.build_phase_id
                      GROUP BY 1, 2 HAVING sum(m.revenue) <> 0 OR sum(m.costs) <> 0""")
    return {(r["project"], r["phase"]): {"revenue": r["revenue"], "costs": r["costs"]} for r in rows}


@pytest.fixture(scope="module")
def empty(database):
    seed.ensure_demo_users(database.owner)
    assert database.scalar("SELECT count(*) FROM milestone.projects") == 0
    assert database.scalar("SELECT count(*) FROM milestone.invoices") == 0
    return database


def test_a_practices_export_goes_into_an_empty_milestone_through_the_command_line(empty, tmp_path):
    files = _files(tmp_path)
    db = empty
    # the dry run lists what is new, what is skipped and why, and what needs a rate
    out = _cli(db, files["invoices.csv"], "--dry-run")
    assert out.returncode == 0, out.stderr
    text = out.stdout
    assert "Tracking: project = Client Job, phase = Stage" in text
    assert "3 new projects: Jones Audit 2025, Jones Payroll, Smith Tax Return 2025" in text  # EUR one: no rate
    assert "3 new phases: Fieldwork, Preparation, Review" in text
    assert "project 'Smith Tax Return 2025', client 'Smith & Co'" in text
    assert "an overpayment is money received, not a sale" in text
    assert "in EUR, and no EUR rate was given" in text
    assert "Would import 5 documents: 5 new, 0 updated, 0 unchanged. 2 skipped" in text
    assert db.scalar("SELECT count(*) FROM milestone.projects") == 0  # a dry run writes nothing

    # without confirming the new projects, nothing goes in
    out = _cli(db, files["invoices.csv"], "--rate", "EUR=0.85")
    assert out.returncode == 1 and "--create-projects" in out.stderr
    assert db.scalar("SELECT count(*) FROM milestone.invoices") == 0

    out = _cli(db, files["invoices.csv"], "--rate", "EUR=0.85", "--create-projects")
    assert out.returncode == 0, out.stderr
    assert "Imported 6 documents: 6 new, 0 updated, 0 unchanged. 1 skipped" in out.stdout
    assert "Created: 5 new projects: Jones Audit 2025, Jones Payroll, Müller Advisory, Müller Tax" in out.stdout
    out = _cli(db, files["bills.csv"], "--create-projects")
    assert out.returncode == 0, out.stderr
    assert "Imported 4 documents: 4 new, 0 updated, 0 unchanged. 1 skipped" in out.stdout
    assert "a prepayment is money paid ahead of a bill, not a cost" in out.stdout
    out = _cli(db, files["sales-template.csv"], "--status", "Awaiting Payment", "--create-projects")
    assert out.returncode == 0, out.stderr
    assert "An import template" in out.stdout and "1 new project: Template Project" in out.stdout
    out = _cli(db, files["sales-template-short.csv"])  # default: Draft
    assert out.returncode == 0, out.stderr
    out = _cli(db, files["bills-template.csv"], "--kind", "bills", "--status", "Paid")
    assert out.returncode == 0, out.stderr

    # stored as the files say
    docs = {
        (r["number"], r["contact"]): r
        for r in db.rows("""SELECT number, contact, status, doc_type, subtotal, total_tax, total, amount_due, currency,
                                   currency_rate, original_subtotal, original_total FROM milestone.invoices""")
    }
    assert docs[("INV-001", "Smith & Co")]["status"] == "Authorised"
    assert docs[("INV-005", "Jones Ltd")]["status"] == "Submitted"
    assert docs[("INV-004", "Jones Ltd")]["status"] == "Draft"
    cn = docs[("CN-001", "Smith & Co")]
    assert (cn["doc_type"], cn["subtotal"], cn["total"]) == ("credit_note", Decimal("100.00"), Decimal("120.00"))
    eur = docs[("INV-003", "Müller GmbH")]
    assert (eur["currency"], eur["currency_rate"], eur["original_subtotal"], eur["subtotal"]) == (
        "EUR",
        EUR_RATE,
        Decimal("300.10"),
        Decimal("255.09"),
    )
    assert db.rows("""SELECT l.line_amount, l.original_line_amount FROM milestone.invoice_lines l
                      JOIN milestone.invoices i ON i.id = l.invoice_id WHERE i.number = 'INV-003'
                      ORDER BY l.line_number""") == [
        {"line_amount": Decimal("85.04"), "original_line_amount": Decimal("100.05")},
        {"line_amount": Decimal("170.05"), "original_line_amount": Decimal("200.05")},  # + the rounding penny
    ]
    tpl = docs[("TPL-1", "Template Client")]
    assert (tpl["status"], tpl["subtotal"], tpl["total_tax"], tpl["total"], tpl["amount_due"]) == (
        "Authorised",
        Decimal("370.00"),
        Decimal("74.00"),
        Decimal("444.00"),
        Decimal("444.00"),
    )
    assert docs[("TPL-2", "Template Client")]["status"] == "Draft"
    bills = db.rows("SELECT number, supplier FROM milestone.bills")
    assert sorted((b["number"], b["supplier"]) for b in bills) == [
        ("B-100", "Office Landlord"),
        ("B-100", "Software Co"),  # bill numbers repeat across suppliers
        ("B-200", "Subcontractor Ltd"),
        ("BCN-1", "Subcontractor Ltd"),
        ("TB-1", "Stationers"),
    ]
    projects = {r["name"]: r["client_name"] for r in db.rows("SELECT name, client_name FROM milestone.projects")}
    assert projects == {
        "Smith Tax Return 2025": "Smith & Co",
        "Jones Audit 2025": "Jones Ltd",
        "Jones Payroll": "Jones Ltd",
        "Müller Advisory": "Müller GmbH",
        "Müller Tax": "Müller GmbH",
        "Template Project": "Template Client",
    }

    # every P&L figure, against the files
    want = expected_pnl(
        [
            (files["invoices.csv"].read_bytes(), {"EUR": EUR_RATE}, ""),
            (files["bills.csv"].read_bytes(), {}, ""),
            (files["sales-template.csv"].read_bytes(), {}, "Awaiting Payment"),
            (files["sales-template-short.csv"].read_bytes(), {}, "Draft"),
            (files["bills-template.csv"].read_bytes(), {}, "Paid"),
        ]
    )
    assert stored_pnl(db) == want
    assert want[(None, None)] == {"revenue": Decimal("50.00"), "costs": Decimal("2175.00")}  # overheads
    assert all(r["ok"] for r in db.rows("SELECT * FROM milestone.ledger_reconciliation"))
    kept, recount = oracle.metrics_table(db), oracle.project_sums(db)
    for pid, figures in recount.items():
        for k in ("revenue", "costs", "outstanding"):
            assert kept[pid][k] == figures[k], (pid, k)

    # a re-import changes nothing
    before = db.rows("SELECT md5(string_agg(t::text, ',' ORDER BY t::text)) AS h FROM milestone.invoice_lines t")
    out = _cli(db, files["invoices.csv"], "--rate", "EUR=0.85", "--create-projects")
    assert out.returncode == 0, out.stderr
    assert "Imported 6 documents: 0 new, 0 updated, 6 unchanged. 1 skipped" in out.stdout
    assert (
        db.rows("SELECT md5(string_agg(t::text, ',' ORDER BY t::text)) AS h FROM milestone.invoice_lines t") == before
    )


def test_the_reconciliation_adds_up_per_type(empty, tmp_path):
    files = _files(tmp_path)
    finance = users.get_user("finance")
    result = imports.import_file(
        files["invoices.csv"].read_bytes(),
        "invoices.csv",
        finance,
        dry_run=True,
        options=imports.ImportOptions(rates={"EUR": EUR_RATE}),
    )
    rec = result.reconciliation.set_index(["type", "currency"])
    for _, r in rec.iterrows():
        assert r["in_file"] == r["new"] + r["updated"] + r["unchanged"] + r["skipped"]
        assert r["in_file_total"] == r["imported_total"] + r["unchanged_total"] + r["skipped_total"]
    assert rec.loc[("Sales overpayment", "GBP"), "skipped"] == 1
    assert rec.loc[("Sales overpayment", "GBP"), "skipped_total"] == Decimal("200.00")
    assert rec.loc[("Sales invoice", "EUR"), "in_file_total"] == Decimal("300.10")
    assert rec.loc[("Sales credit note", "GBP"), "in_file"] == 1
    without = imports.import_file(files["invoices.csv"].read_bytes(), "invoices.csv", finance, dry_run=True)
    assert list(without.foreign["number"]) == ["INV-003"] and without.foreign["base_total"].isna().all()
    assert without.reconciliation.set_index(["type", "currency"]).loc[("Sales invoice", "EUR"), "skipped"] == 1


def test_the_tracking_categories_can_be_chosen(empty, tmp_path):
    files = _files(tmp_path)
    finance = users.get_user("finance")
    data = files["invoices.csv"].read_bytes()
    swapped = imports.import_file(
        data,
        "x.csv",
        finance,
        dry_run=True,
        options=imports.ImportOptions(project_category="Stage", phase_category="Client Job"),
    )
    assert (swapped.project_category, swapped.phase_category) == ("Stage", "Client Job")
    no_phase = imports.import_file(
        data, "x.csv", finance, dry_run=True, options=imports.ImportOptions(phase_category=imports.NO_CATEGORY)
    )
    assert no_phase.phase_category is None and any("'Stage' is neither" in n for n in no_phase.notes)
    with pytest.raises(RowProblems) as exc:
        imports.import_file(
            data, "x.csv", finance, dry_run=True, options=imports.ImportOptions(phase_category="Region")
        )
    assert "The phase tracking category 'Region' is not in the file (its categories: Client Job, Stage)" in str(
        exc.value.problems
    )


def test_rates_are_read_from_the_command_line_and_a_rates_file(empty, tmp_path):
    assert imports.parse_rates("EUR=0.85, usd=0.79") == {"EUR": EUR_RATE, "USD": Decimal("0.79")}
    assert imports.parse_rates("currency,rate\nEUR,0.85\n# a comment\n") == {"EUR": EUR_RATE}
    with pytest.raises(RowProblems) as exc:
        imports.parse_rates("EUR=abc\nEURO=1", "rates.csv")
    assert exc.value.problems == [
        "rates.csv line 1: the rate of EUR must be a positive number, not 'abc'",
        "rates.csv line 2: 'EURO=1' is not CURRENCY=RATE (e.g. EUR=0.85)",
    ]
    rates = tmp_path / "rates.csv"
    rates.write_text("currency,rate\nEUR,0.85\n")
    out = _cli(empty, _files(tmp_path)["invoices.csv"], "--rates-file", rates, "--dry-run")
    assert out.returncode == 0, out.stderr
    assert "no EUR rate" not in out.stdout and "255.09" in out.stdout
    out = _cli(empty, _files(tmp_path)["invoices.csv"], "--rate", "EUR=-1", "--dry-run")
    assert out.returncode == 2 and "--rate line 1: the rate of EUR must be a positive number" in out.stderr


def test_conversion_keeps_the_lines_adding_up_to_the_subtotal():
    doc = {
        "subtotal": Decimal("0.10"),
        "total_tax": Decimal("0.02"),
        "total": Decimal("0.12"),
        "amount_due": Decimal("0.12"),
        "lines": [
            {"line_amount": Decimal("0.05"), "tax_amount": Decimal("0.01"), "unit_amount": None},
            {"line_amount": Decimal("0.05"), "tax_amount": Decimal("0.01"), "unit_amount": Decimal("0.05")},
        ],
    }
    imports.convert(doc, Decimal("0.5"))
    # 0.025 rounds to 0.03 twice (0.06) but the subtotal is 0.05: the first largest line takes the -0.01
    assert [x["line_amount"] for x in doc["lines"]] == [Decimal("0.02"), Decimal("0.03")]
    assert (doc["subtotal"], doc["total_tax"], doc["total"], doc["amount_due"]) == (
        Decimal("0.05"),
        Decimal("0.01"),
        Decimal("0.06"),
        Decimal("0.06"),
    )
    assert doc["original_subtotal"] == Decimal("0.10") and doc["lines"][1]["unit_amount"] == Decimal("0.0250")


def test_a_file_of_overpayments_only_imports_nothing_and_says_so(empty):
    rows = [r for r in INVOICES + BILLS if "payment" in r["Type"]]
    result = imports.import_file(render(rows, EXPORT_COLUMNS), "x.csv", users.get_user("finance"), dry_run=False)
    assert (result.created, result.updated, result.unchanged, len(result.skipped)) == (0, 0, 0, 2)
    assert set(result.reconciliation["type"]) == {"Sales overpayment", "Bill prepayment"}


def test_the_longer_bills_template_and_a_bad_template_line(empty):
    from tests.xero_files import BILLS_TEMPLATE_LONG, template_line

    finance = users.get_user("finance")
    good = [template_line("TB-9", "2", "12.50", tax="5.00", contact="Printers", columns=BILLS_TEMPLATE_LONG)]
    result = imports.import_file(
        render(good, BILLS_TEMPLATE_LONG),
        "b.csv",
        finance,
        kind="bills",
        dry_run=False,
        options=imports.ImportOptions(template_status="Awaiting Payment"),
    )
    assert result.template and result.created == 1
    assert empty.rows(
        "SELECT status, subtotal, total_tax, total, amount_due FROM milestone.bills WHERE number = 'TB-9'"
    ) == [
        {
            "status": "Authorised",
            "subtotal": Decimal("25.00"),
            "total_tax": Decimal("5.00"),
            "total": Decimal("30.00"),
            "amount_due": Decimal("30.00"),
        }
    ]
    bad = [template_line("TB-10", "two", "12.50", date="32/1/2026", columns=BILLS_TEMPLATE)]
    with pytest.raises(RowProblems) as exc:
        imports.import_file(render(bad, BILLS_TEMPLATE), "b.csv", finance, kind="bills", dry_run=True)
    text = "\n".join(exc.value.problems)
    assert (
        "Line 2, *InvoiceDate: '32/1/2026' is not a date" in text and "Line 2, *Quantity: 'two' is not a number" in text
    )
    with pytest.raises(RowProblems) as exc:
        imports.import_file(render(good, BILLS_TEMPLATE_LONG), "b.csv", finance, dry_run=True)
    assert "missing column Type (or choose invoices or bills)" in exc.value.problems[0]


def test_two_imports_creating_the_same_new_project_at_once_make_one(empty):
    """Both imports saw 'Race Job' as new; the second waits for the first and uses its project."""
    import threading
    from datetime import date

    from milestone import db
    from milestone.store import imports as store

    first_holds = threading.Event()
    release = threading.Event()
    got: dict[str, dict[str, str]] = {}

    def first() -> None:
        with db.transaction("first") as conn:
            got["first"] = store.create_projects(conn, [("Race Job", "Race Client", date(2026, 1, 5))], None)
            first_holds.set()
            release.wait(10)

    t = threading.Thread(target=first)
    t.start()
    assert first_holds.wait(10)
    second = threading.Thread(
        target=lambda: got.__setitem__("second", _create_in_own_transaction("race job ", date(2026, 2, 1)))
    )
    second.start()
    second.join(1.0)
    assert second.is_alive(), "the second import should wait for the first one's lock"
    release.set()
    t.join(10)
    second.join(10)
    assert got["second"]["race job "] == got["first"]["race job"]
    assert empty.scalar("SELECT count(*) FROM milestone.projects WHERE lower(name) = 'race job'") == 1


def _create_in_own_transaction(name: str, start):
    from milestone import db
    from milestone.store import imports as store

    with db.transaction("second") as conn:
        return store.create_projects(conn, [(name, "Race Client", start)], None)

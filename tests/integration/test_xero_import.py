"""Xero CSV import: all or nothing, idempotent, every bad case refused by line and column, metrics follow."""

import os
import subprocess
import sys
from decimal import Decimal

import pytest

from milestone import seed
from milestone.config import PROJECT_ROOT
from milestone.errors import PermissionDenied, RowProblems
from milestone.services import imports, users
from tests import builders, oracle
from tests.xero_files import COLUMNS, line, render


@pytest.fixture(scope="module")
def ctx(database):
    seed.ensure_demo_users(database.owner)
    a = builders.project(database, "Castle Extension", client="Castle Homes", xero_tracking_id="TRK-CASTLE")
    b = builders.project(database, "Mill Conversion", client="Mill Ltd", xero_tracking_id="TRK-MILL")
    builders.project(database, "Twin", client="One")
    builders.project(database, "twin", client="Two")
    builders.phase(database, "Groundworks")
    return {"db": database, "a": a, "b": b, "finance": users.get_user("finance"), "viewer": users.get_user("viewer")}


def _import(ctx, data: bytes, dry_run=False, kind="auto", name="xero.csv"):
    return imports.import_file(data, name, ctx["finance"], kind=kind, dry_run=dry_run)


def _fingerprint(ctx) -> tuple:
    """Everything an import could change, to show that a refused file changed nothing."""
    return tuple(
        ctx["db"]
        .rows(
            f"SELECT count(*) AS n, md5(coalesce(string_agg(t::text, ',' ORDER BY t::text), ''))"
            f" AS h FROM milestone.{t} t"
        )[0]
        .values()
        for t in ("invoices", "bills", "import_runs", "project_metrics")
    )


def _compare(ctx) -> None:
    """project_metrics (kept by triggers) equals a recount from the raw rows."""
    kept, recount = oracle.metrics_table(ctx["db"]), oracle.project_sums(ctx["db"])
    for pid, want in recount.items():
        for k in ("revenue", "costs", "outstanding"):
            assert kept[pid][k] == want[k], (pid, k)


GOOD = [
    line(
        "INV-1001",
        "TRK-CASTLE",
        "1200.00",
        "200.00",
        description="Digging",
        phase="Groundworks",
        LineAmount="400.00",
        UnitAmount="400.00",
        TaxAmount="80.00",
    ),
    line(
        "INV-1001",
        "TRK-CASTLE",
        "1200.00",
        "200.00",
        description="Pouring",
        phase="Groundworks",
        LineAmount="600.00",
        UnitAmount="600.00",
        TaxAmount="120.00",
    ),
    line("INV-1002", "Mill Conversion", "600.00", "100.00", status="PAID", contact="Mill Ltd"),
    line("CN-7", "TRK-CASTLE", "120.00", "20.00", status="PAID", doc_type="Sales credit note"),
    line("B-55", "TRK-MILL", "360.00", "60.00", status="PAID", doc_type="Bill", contact="Timber & Co"),
    line("B-56", "TRK-MILL", "48.00", "8.00", status="VOIDED", doc_type="Bill", contact="Timber & Co"),
]


def test_dry_run_shows_what_would_change_and_writes_nothing(ctx):
    before = _fingerprint(ctx)
    result = _import(ctx, render(GOOD), dry_run=True)
    assert (result.created, result.updated, result.unchanged) == (5, 0, 0)
    assert result.summary.startswith("Would import 5 documents: 5 new")
    assert set(result.changes["number"]) == {"INV-1001", "INV-1002", "CN-7", "B-55", "B-56"}
    assert _fingerprint(ctx) == before


def test_import_writes_documents_and_the_metrics_follow(ctx):
    result = _import(ctx, render(GOOD))
    assert (result.created, result.updated, result.unchanged) == (5, 0, 0)
    inv = ctx["db"].rows("""SELECT i.number, i.status, i.doc_type, i.subtotal, i.total_tax, i.total, i.amount_due,
                                   (SELECT string_agg(DISTINCT coalesce(bp.name, '-'), ',')
                                    FROM milestone.invoice_lines l LEFT JOIN milestone.build_phases bp
                                    ON bp.id = l.build_phase_id WHERE l.invoice_id = i.id) AS phase,
                                   i.issue_date::text AS d, i.due_date::text AS due, i.contact
                            FROM milestone.invoices i ORDER BY number""")
    assert [(r["number"], r["status"], r["doc_type"], r["subtotal"], r["phase"]) for r in inv] == [
        ("CN-7", "Paid", "credit_note", Decimal("100.00"), "-"),
        ("INV-1001", "Authorised", "invoice", Decimal("1000.00"), "Groundworks"),  # two lines, one invoice
        ("INV-1002", "Paid", "invoice", Decimal("500.00"), "-"),
    ]
    assert ctx["db"].rows("""SELECT l.line_number, l.description, l.quantity, l.unit_amount, l.line_amount, l.tax_amount
                             FROM milestone.invoice_lines l JOIN milestone.invoices i ON i.id = l.invoice_id
                             WHERE i.number = 'INV-1001' ORDER BY 1""") == [
        {
            "line_number": 1,
            "description": "Digging",
            "quantity": Decimal("1.0000"),
            "unit_amount": Decimal("400.0000"),
            "line_amount": Decimal("400.00"),
            "tax_amount": Decimal("80.00"),
        },
        {
            "line_number": 2,
            "description": "Pouring",
            "quantity": Decimal("1.0000"),
            "unit_amount": Decimal("600.0000"),
            "line_amount": Decimal("600.00"),
            "tax_amount": Decimal("120.00"),
        },
    ]
    assert (inv[1]["d"], inv[1]["due"], inv[1]["amount_due"], inv[1]["contact"]) == (
        "2026-01-15",
        "2026-02-14",
        Decimal("1200.00"),
        "Acme Builders Ltd",
    )
    metrics = oracle.metrics_table(ctx["db"])
    assert metrics[ctx["a"]]["revenue"] == Decimal("900.00")  # 1000 - the 100 credit note
    assert metrics[ctx["a"]]["outstanding"] == Decimal("1200.00")
    assert metrics[ctx["b"]]["revenue"] == Decimal("500.00")
    assert metrics[ctx["b"]]["costs"] == Decimal("300.00")  # the voided bill does not count
    _compare(ctx)
    runs = ctx["db"].rows("SELECT username, file_name, created, rows_read FROM milestone.import_runs")
    assert runs == [{"username": "finance", "file_name": "xero.csv", "created": 5, "rows_read": 6}]


def test_importing_the_same_file_again_changes_nothing(ctx):
    before = ctx["db"].rows("SELECT xero_id, updated_at FROM milestone.invoices ORDER BY 1")
    result = _import(ctx, render(GOOD))
    assert (result.created, result.updated, result.unchanged) == (0, 0, 5)
    assert ctx["db"].rows("SELECT xero_id, updated_at FROM milestone.invoices ORDER BY 1") == before


def test_a_changed_document_is_updated_in_place(ctx):
    paid = [dict(r) for r in GOOD]
    for r in paid[:2]:
        r.update(Status="PAID", InvoiceAmountDue="0.00")
    result = _import(ctx, render(paid))
    assert (result.created, result.updated, result.unchanged) == (0, 1, 4)
    assert ctx["db"].rows("SELECT count(*) AS n FROM milestone.invoices WHERE number = 'INV-1001'")[0]["n"] == 1
    assert oracle.metrics_table(ctx["db"])[ctx["a"]]["outstanding"] == Decimal("0.00")
    _compare(ctx)


def test_documents_with_an_invoice_id_are_matched_by_it(ctx):
    cols = COLUMNS + ["InvoiceID"]
    first = [line("INV-2001", "TRK-CASTLE", "240.00", "40.00", InvoiceID="a1b2c3d4-0000-4000-8000-000000000001")]
    assert _import(ctx, render(first, cols)).created == 1
    renumbered = [first[0] | {"InvoiceNumber": "INV-2001-R"}]
    result = _import(ctx, render(renumbered, cols))
    assert (result.created, result.updated) == (0, 1)
    assert ctx["db"].rows(
        "SELECT number FROM milestone.invoices WHERE xero_id = 'a1b2c3d4-0000-4000-8000-000000000001'"
    ) == [{"number": "INV-2001-R"}]


def test_bills_without_a_type_column_import_with_kind_bills(ctx):
    cols = [c for c in COLUMNS if c != "Type"]
    data = render([line("SUP-9", "TRK-MILL", "12.00", "2.00", status="PAID", contact="Nails Direct")], cols)
    with pytest.raises(RowProblems, match="Type"):
        _import(ctx, data, dry_run=True)
    assert _import(ctx, data, kind="bills").created == 1
    assert ctx["db"].rows("SELECT supplier, doc_type FROM milestone.bills WHERE number = 'SUP-9'") == [
        {"supplier": "Nails Direct", "doc_type": "bill"}
    ]


def _refused(ctx, data: bytes, *expected: str, kind="auto") -> list[str]:
    before = _fingerprint(ctx)
    with pytest.raises(RowProblems) as exc:
        _import(ctx, data, kind=kind)
    text = "\n".join(exc.value.problems)
    for part in expected:
        assert part in text
    assert _fingerprint(ctx) == before, "a refused file must change nothing"
    return exc.value.problems


def test_a_new_project_is_not_created_without_confirmation(ctx):
    _refused(
        ctx,
        render(GOOD + [line("INV-9", "No Such Project")]),
        "The file names 1 new project: No Such Project. Nothing was imported: confirm",
        "--create-projects",
    )


def test_a_name_two_projects_share_is_refused(ctx):
    _refused(ctx, render([line("INV-9", "TWIN")]), "Line 2, TrackingOption1: 'TWIN' names more than one project")


def test_bad_date_and_non_numeric_amount_are_refused_with_every_problem_listed(ctx):
    bad = GOOD[:2] + [
        line("INV-9", "TRK-CASTLE", date="31/02/2026"),
        line("INV-10", "TRK-CASTLE", total="1,2O0.00", due_amount="0.00"),
        line("INV-11", "TRK-CASTLE", phase="Roofing"),  # a new phase: not a problem
        line("INV-12", "TRK-CASTLE", status="Pending"),
    ]
    problems = _refused(
        ctx,
        render(bad),
        "Line 4, InvoiceDate: '31/02/2026' is not a date",
        "Line 5, Total: '1,2O0.00' is not a number",
        "Line 7, Status: 'Pending' is not a Xero status",
    )
    assert len(problems) == 3, problems


def test_wrong_columns_are_refused_naming_them(ctx):
    cols = [c for c in COLUMNS if c not in ("InvoiceDate", "Total")]
    _refused(ctx, render(GOOD, cols), "Line 1: missing columns InvoiceDate, Total", "The file has: ContactName")


def test_wrong_encoding_is_refused(ctx):
    data = render([line("INV-9", "TRK-CASTLE", description="£ and café")], encoding="cp1252")
    _refused(ctx, data, "Line 2: the file is not UTF-8 text", "CSV UTF-8")


@pytest.mark.parametrize(
    "data,message",
    [
        (b"", "The file is empty."),
        (b"\r\n \r\n", "The file is empty."),
        (b"\xef\xbb\xbf", "The file is empty."),  # only Excel's byte-order mark
        (render([]), "The file has a header but no invoices or bills."),
    ],
)
def test_empty_files_are_refused(ctx, data, message):
    _refused(ctx, data, message)


def test_a_50_mb_file_is_refused_before_it_is_read(ctx):
    data = render(GOOD) + b"x" * (50 * 1024 * 1024)
    _refused(ctx, data, "The file is 50.0 MB; the limit is 40 MB")


def test_a_line_with_a_stray_comma_or_a_broken_quote_is_refused(ctx):
    data = render(GOOD).replace(b"Mill Ltd", b"Mill, Ltd", 1)
    _refused(ctx, data, "Line 4: 32 values but the header has 31 columns")
    broken = render(GOOD[:1]) + b'"Unclosed,INV-9\r\n'
    _refused(ctx, broken, "Line 3")


def test_negative_amounts_and_tax_above_total_are_refused(ctx):
    _refused(
        ctx,
        render(
            [
                line("INV-9", "TRK-CASTLE", total="-10.00", tax="0", due_amount="0"),
                line("INV-10", "TRK-CASTLE", "10.00", "20.00", due_amount="0"),
            ]
        ),
        "Line 2: Total -10.00 is negative; only a credit note (by its Type) may be",
        "Line 3: TaxTotal 20.00 is more than Total 10.00",
    )


def test_a_credit_note_exported_negative_is_stored_positive(ctx):
    data = render(
        [line("CN-NEG", "TRK-MILL", "-60.00", "-10.00", status="PAID", doc_type="Sales credit note", due_amount="0.00")]
    )
    assert _import(ctx, data).created == 1
    assert ctx["db"].rows("SELECT doc_type, subtotal, total FROM milestone.invoices WHERE number = 'CN-NEG'") == [
        {"doc_type": "credit_note", "subtotal": Decimal("50.00"), "total": Decimal("60.00")}
    ]
    _compare(ctx)


@pytest.mark.parametrize(
    "drop,message",
    [
        (("TaxTotal",), "Line 1: missing column TaxTotal (or SubTotal)"),
        (("InvoiceAmountDue",), "Line 1: missing column AmountDue"),
        (("InvoiceNumber",), "Line 1: missing column InvoiceNumber (or InvoiceID)"),
    ],
)
def test_the_columns_the_p_and_l_needs_are_required(ctx, drop, message):
    _refused(ctx, render(GOOD, [c for c in COLUMNS if c not in drop]), message)


def test_subtotal_must_add_up_and_a_currency_is_three_letters(ctx):
    cols = COLUMNS + ["SubTotal"]
    _refused(
        ctx,
        render([line("INV-9", "TRK-CASTLE", SubTotal="5.00"), line("INV-10", "TRK-CASTLE", Currency="Euro")], cols),
        "Line 2: SubTotal 5.00 + TaxTotal 200.00 is not Total 1200.00",
        "Line 3, Currency: 'Euro' is not a three-letter currency code",
    )


def test_lines_of_one_document_must_agree(ctx):
    a = line(
        "MAR",
        "TRK-MILL",
        "120.00",
        "20.00",
        contact="Timber",
        doc_type="Bill",
        date="15/03/2026",
        due="14/04/2026",
        status="PAID",
    )
    b = a | {"Total": "999.00", "UnitAmount": "999.00", "LineAmount": "999.00"}
    problems = _refused(
        ctx, render([a, b]), "Line 3, Total: differs from line 2, another line of the same document MAR (120.00 there)"
    )
    assert len(problems) == 1
    # the same supplier reference on another date is another bill
    c = b | {"InvoiceDate": "20/03/2026", "TaxTotal": "0.00", "TaxAmount": "0.00"}
    result = _import(ctx, render([a, c]), dry_run=True)
    assert result.created == 2
    # an invoice is one document per contact and number, whatever its date says
    inv = line("INV-DATE", "TRK-MILL", date="01/03/2026", due="31/03/2026")
    _refused(ctx, render([inv, inv | {"InvoiceDate": "02/03/2026"}]), "Line 3, InvoiceDate: differs from line 2")


def test_a_bill_without_a_number_needs_its_invoice_id(ctx):
    cols = COLUMNS + ["InvoiceID"]
    bare = line("", "TRK-MILL", "36.00", "6.00", doc_type="Bill", contact="Skip Hire", status="PAID")
    _refused(ctx, render([bare]), "Line 2: InvoiceNumber is required (or Xero's InvoiceID)")
    numbered = line("SKIP-1", "TRK-MILL", "36.00", "6.00", doc_type="Bill", contact="Skip Hire", status="PAID")
    _refused(ctx, render([numbered], cols), "Line 2, InvoiceID: is empty; when the file has this column, every line")
    assert _import(ctx, render([bare | {"InvoiceID": "bill-without-number-1"}], cols)).created == 1


def test_a_document_imported_without_its_id_is_adopted_later_not_doubled(ctx):
    first = [line("ADOPT-1", "TRK-CASTLE", "480.00", "80.00", status="PAID")]
    assert _import(ctx, render(first)).created == 1
    revenue = oracle.metrics_table(ctx["db"])[ctx["a"]]["revenue"]
    with_id = [first[0] | {"InvoiceID": "0f0e0d0c-1111-4222-8333-444455556666"}]
    result = _import(ctx, render(with_id, COLUMNS + ["InvoiceID"]))
    assert (result.created, result.updated, result.unchanged) == (0, 1, 0)  # it took its real id
    assert ctx["db"].rows("SELECT xero_id FROM milestone.invoices WHERE number = 'ADOPT-1'") == [
        {"xero_id": "0f0e0d0c-1111-4222-8333-444455556666"}
    ]
    assert oracle.metrics_table(ctx["db"])[ctx["a"]]["revenue"] == revenue
    # and a later file without the id still finds it (same number, contact and date)
    assert (
        _import(ctx, render(first)).unchanged,
        ctx["db"].scalar("SELECT count(*) FROM milestone.invoices WHERE number = 'ADOPT-1'"),
    ) == (1, 1)


def test_text_is_stored_exactly_as_typed(ctx):
    contact = "Robert'); DROP TABLE milestone.invoices;-- <script>alert(1)</script> Zoë مرحبا"
    assert _import(ctx, render([line("INV-3001", "TRK-CASTLE", contact=contact)])).created == 1
    assert ctx["db"].rows("SELECT contact FROM milestone.invoices WHERE number = 'INV-3001'") == [{"contact": contact}]


def test_viewers_may_not_import(ctx):
    with pytest.raises(PermissionDenied):
        imports.import_file(render(GOOD), "x.csv", ctx["viewer"], dry_run=True)


def test_a_10_mb_file_with_one_broken_row_is_refused_naming_that_line(ctx):
    lines = [
        line(f"BIG-{i:06d}", "TRK-CASTLE" if i % 2 else "TRK-MILL", f"{i % 900 + 12}.00", "2.00") for i in range(40_000)
    ]
    lines[31_337]["InvoiceDate"] = "not a date"
    data = render(lines)
    assert len(data) > 10 * 1024 * 1024
    before, seen = _fingerprint(ctx), []
    with pytest.raises(RowProblems) as exc:
        imports.import_file(data, "big.csv", ctx["finance"], progress=lambda f, text: seen.append(f))
    assert exc.value.problems == ["Line 31339, InvoiceDate: 'not a date' is not a date (use YYYY-MM-DD or DD/MM/YYYY)"]
    assert len(seen) >= 10 and seen == sorted(seen) and seen[-1] < 1  # progress was reported as it went
    assert _fingerprint(ctx) == before


def test_the_command_line_dry_run_and_refusal(ctx, tmp_path):
    good, bad = tmp_path / "good.csv", tmp_path / "bad.csv"
    good.write_bytes(render([line("CLI-1", "TRK-MILL")]))
    bad.write_bytes(render([line("CLI-2", "Nowhere")]))
    env = os.environ | {"DATABASE_URL": ctx["db"].url}

    def run(*a):
        return subprocess.run(
            [sys.executable, "-m", "milestone", "import-xero", *a],
            capture_output=True,
            text=True,
            cwd=PROJECT_ROOT,
            env=env,
            timeout=120,
        )

    out = run(str(good), "--dry-run")
    assert out.returncode == 0, out.stderr
    assert "Would import 1 documents: 1 new" in out.stdout and "Nothing was written" in out.stdout
    out = run(str(bad))
    assert out.returncode == 1
    assert "Nothing was imported" in out.stderr and "The file names 1 new project: Nowhere" in out.stderr
    out = run(str(good))
    assert out.returncode == 0 and "Imported 1 documents: 1 new" in out.stdout
    assert ctx["db"].rows("SELECT count(*) AS n FROM milestone.invoices WHERE number = 'CLI-1'") == [{"n": 1}]


def test_an_invoice_whose_date_was_edited_in_xero_is_updated_not_added(ctx):
    first = line("INV-EDIT", "TRK-MILL", "240.00", "40.00", date="01/04/2026", due="30/04/2026")
    assert _import(ctx, render([first])).created == 1
    edited = first | {"InvoiceDate": "03/04/2026"}
    assert (
        _import(ctx, render([edited])).updated,
        ctx["db"].rows("SELECT issue_date::text AS d FROM milestone.invoices WHERE number = 'INV-EDIT'"),
    ) == (1, [{"d": "2026-04-03"}])


def test_a_file_with_a_nul_byte_is_refused_with_its_line(ctx):
    data = render(GOOD).replace(b"\n", b"\nBAD\x00LINE\n", 1)
    with pytest.raises(RowProblems) as exc:
        _import(ctx, data, dry_run=True)
    assert exc.value.problems[0].startswith("Line 2: the file has a NUL byte")


def test_a_file_of_bad_lines_is_read_only_until_the_problems_are_plenty(ctx):
    bad = [line(f"INV-B{i}", "TRK-MILL", date="31/02/2026") for i in range(1_000)]
    with pytest.raises(RowProblems) as exc:
        _import(ctx, render(bad), dry_run=True)
    problems = exc.value.problems
    assert len(problems) == 201 and problems[-1].startswith("… and more: the check stopped at line 203")


def _lines_of(ctx, number: str) -> list[tuple]:
    return [
        tuple(r.values())
        for r in ctx["db"].rows(
            """
        SELECT l.line_number, l.line_amount, l.tax_amount, p.name AS project, bp.name AS phase
        FROM milestone.bill_lines l JOIN milestone.bills b ON b.id = l.bill_id
        LEFT JOIN milestone.projects p ON p.id = l.project_id LEFT JOIN milestone.build_phases bp ON bp.id =
            l.build_phase_id
        WHERE b.number = :n ORDER BY 1""",
            n=number,
        )
    ]


SPLIT = [
    line(
        "SPLIT-B1",
        "TRK-CASTLE",
        "1440.00",
        "240.00",
        doc_type="Bill",
        contact="Merchant",
        status="AUTHORISED",
        phase="Groundworks",
        LineAmount="700.00",
        UnitAmount="700.00",
        TaxAmount="140.00",
    ),
    line(
        "SPLIT-B1",
        "TRK-MILL",
        "1440.00",
        "240.00",
        doc_type="Bill",
        contact="Merchant",
        status="AUTHORISED",
        LineAmount="400.00",
        UnitAmount="400.00",
        TaxAmount="80.00",
    ),
    line(
        "SPLIT-B1",
        "",
        "1440.00",
        "240.00",
        doc_type="Bill",
        contact="Merchant",
        status="AUTHORISED",
        description="Yard rent",
        LineAmount="100.00",
        UnitAmount="100.00",
        TaxAmount="20.00",
    ),
]


def test_a_document_split_across_projects_phases_and_overheads_is_imported_line_by_line(ctx):
    before = oracle.metrics_table(ctx["db"])
    result = _import(ctx, render(SPLIT))
    assert (result.created, result.updated, result.unchanged) == (1, 0, 0)
    assert _lines_of(ctx, "SPLIT-B1") == [
        (1, Decimal("700.00"), Decimal("140.00"), "Castle Extension", "Groundworks"),
        (2, Decimal("400.00"), Decimal("80.00"), "Mill Conversion", None),
        (3, Decimal("100.00"), Decimal("20.00"), None, None),
    ]  # an untracked line: an overhead
    after = oracle.metrics_table(ctx["db"])
    assert after[ctx["a"]]["costs"] - before[ctx["a"]]["costs"] == Decimal("700.00")
    assert after[ctx["b"]]["costs"] - before[ctx["b"]]["costs"] == Decimal("400.00")
    totals = oracle.ledger_totals(ctx["db"])
    assert totals["costs_projects"] + totals["costs_unallocated"] == totals["costs_lines"] == totals["costs_subtotals"]
    _compare(ctx)
    # the same file again changes nothing, lines included
    stamp = ctx["db"].rows(
        "SELECT l.xmin::text AS x FROM milestone.bill_lines l JOIN milestone.bills b ON b.id = l.bill_id "
        "WHERE b.number = 'SPLIT-B1' ORDER BY l.line_number"
    )
    assert (
        _import(ctx, render(SPLIT)).unchanged,
        ctx["db"].rows(
            "SELECT l.xmin::text AS x FROM milestone.bill_lines l JOIN milestone.bills b ON b.id = l.bill_id "
            "WHERE b.number = 'SPLIT-B1' ORDER BY l.line_number"
        ),
    ) == (1, stamp)


def test_a_line_moved_to_another_project_replaces_the_documents_lines(ctx):
    moved = [dict(r) for r in SPLIT]
    moved[1]["TrackingOption1"] = "TRK-CASTLE"
    result = _import(ctx, render(moved))
    assert (result.created, result.updated, result.unchanged) == (0, 1, 0)
    assert [r[3] for r in _lines_of(ctx, "SPLIT-B1")] == ["Castle Extension", "Castle Extension", None]
    _compare(ctx)


def test_lines_that_do_not_add_up_to_the_subtotal_are_refused(ctx):
    short = [dict(r) for r in SPLIT[:2]]
    for r in short:
        r["InvoiceNumber"] = "SHORT-1"
    _refused(
        ctx, render(short), "Line 2: the lines of SHORT-1 add up to 1100.00 (LineAmount) but its SubTotal is 1200.00"
    )


def test_an_inclusive_document_stores_its_lines_excluding_tax(ctx):
    rows = [
        line(
            "INCL-1",
            "TRK-MILL",
            "240.00",
            "40.00",
            doc_type="Bill",
            contact="Merchant",
            status="PAID",
            LineAmountTypes="Inclusive",
            LineAmount="120.00",
            UnitAmount="120.00",
            TaxAmount="20.00",
        ),
        line(
            "INCL-1",
            "TRK-CASTLE",
            "240.00",
            "40.00",
            doc_type="Bill",
            contact="Merchant",
            status="PAID",
            LineAmountTypes="Inclusive",
            LineAmount="120.00",
            UnitAmount="120.00",
            TaxAmount="20.00",
        ),
    ]
    assert _import(ctx, render(rows, COLUMNS + ["LineAmountTypes"])).created == 1
    assert [(r[1], r[3]) for r in _lines_of(ctx, "INCL-1")] == [
        (Decimal("100.00"), "Mill Conversion"),
        (Decimal("100.00"), "Castle Extension"),
    ]
    assert ctx["db"].scalar("SELECT line_amount_types FROM milestone.bills WHERE number = 'INCL-1'") == "Inclusive"
    bad = [r | {"InvoiceNumber": "INCL-2", "LineAmountTypes": "Gross"} for r in rows]
    _refused(ctx, render(bad, COLUMNS + ["LineAmountTypes"]), "LineAmountTypes: 'Gross' is not one of Exclusive")


def test_a_file_without_line_amounts_takes_one_line_documents_whole(ctx):
    cols = [c for c in COLUMNS if c not in ("LineAmount", "TaxAmount")]
    assert _import(ctx, render([line("WHOLE-1", "TRK-MILL", "60.00", "10.00")], cols)).created == 1
    assert ctx["db"].rows("""SELECT l.line_amount, l.tax_amount FROM milestone.invoice_lines l
                             JOIN milestone.invoices i ON i.id = l.invoice_id WHERE i.number = 'WHOLE-1'""") == [
        {"line_amount": Decimal("50.00"), "tax_amount": Decimal("10.00")}
    ]
    two = [line("WHOLE-2", "TRK-MILL", "60.00", "10.00"), line("WHOLE-2", "TRK-CASTLE", "60.00", "10.00")]
    _refused(ctx, render(two, cols), "Line 3: WHOLE-2 has several lines but the file has no LineAmount column")

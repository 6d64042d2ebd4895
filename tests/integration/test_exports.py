"""Exports: CSV and XLSX equal the database row for row, typed cells, neutralised formulas, logged."""

import csv
import io
import os
import subprocess
import sys
from datetime import date
from decimal import Decimal

import pytest
from openpyxl import load_workbook

from milestone import seed
from milestone.config import PROJECT_ROOT
from milestone.services import exports, users
from milestone.validation import EVERYTHING, UNASSIGNED, Filters
from tests import builders, oracle
from tests.apptest import app_as

ANCHOR = date(2026, 11, 1)


@pytest.fixture(scope="module")
def demo(database):
    seed.ensure_demo_users(database.owner)
    seed.load(database.owner, 0.01, 4, anchor=ANCHOR, progress=False)
    pid = builders.project(database, '=HYPERLINK("http://evil")', client="@Risky Client")
    builders.estimate(database, pid, "12.00", kind="cost", description="-5% discount, typed by a person")
    builders.document(database, "bills", pid, "100.00", doc_type="credit_note")
    return {"db": database, "user": users.get_user("viewer")}


def _csv(demo, table, f=EVERYTHING, excel=False, raw=False):
    buf = io.BytesIO()
    rows = exports.export(table, f, "csv", buf, demo["user"], excel_friendly=excel, raw=raw)
    data = buf.getvalue()
    return rows, data, list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))


def test_invoice_csv_equals_the_database_row_for_row(demo):
    f = Filters(date_from=date(2025, 1, 1), date_to=date(2025, 12, 31))
    rows, data, parsed = _csv(demo, "invoices", f)
    assert not data.startswith(exports.BOM)
    want = demo["db"].rows("""
        SELECT i.number, i.issue_date::text AS d, i.status, i.subtotal::text AS s, i.amount_due::text AS due, i.xero_id
        FROM milestone.invoices i WHERE i.issue_date BETWEEN '2025-01-01' AND '2025-12-31'
        ORDER BY i.issue_date, i.number""")
    header, body = parsed[0], parsed[1:]
    assert rows == len(body) == len(want) > 0
    got = [
        (
            r[header.index("number")],
            r[header.index("issue_date")],
            r[header.index("status")],
            r[header.index("subtotal")],
            r[header.index("amount_due")],
            r[header.index("xero_id")],
        )
        for r in body
    ]
    assert got == [(w["number"], w["d"], w["status"], w["s"], w["due"], w["xero_id"]) for w in want]


@pytest.mark.parametrize(
    "table,sql",
    [
        ("bills", "SELECT count(*) FROM milestone.bills"),
        ("estimates", "SELECT count(*) FROM milestone.estimates"),
        ("audit", "SELECT count(*) FROM milestone.audit_log WHERE table_name <> 'app_users'"),  # a viewer's export
    ],
)
def test_every_table_exports_all_its_rows(demo, table, sql):
    rows, _, parsed = _csv(demo, table)
    assert rows == len(parsed) - 1 == demo["db"].scalar(sql)


def test_project_csv_matches_the_pnl_oracle(demo):
    _, _, parsed = _csv(demo, "projects", raw=True)  # names exactly as stored
    header = parsed[0]
    sums = oracle.project_sums(demo["db"])
    names = {r["id"]: r["name"] for r in demo["db"].rows("SELECT id::text AS id, name FROM milestone.projects")}
    by_name = {r[header.index("name")]: r for r in parsed[1:]}
    for pid, s in sums.items():
        row = by_name[names[pid]]
        assert Decimal(row[header.index("revenue")]) == s["revenue"]
        assert Decimal(row[header.index("profit")]) == s["revenue"] - s["costs"]


def test_every_csv_neutralises_formulas_but_not_numbers_and_raw_is_a_choice(demo):
    _, data, parsed = _csv(demo, "estimates", excel=True)
    assert data.startswith(exports.BOM)
    text = data.decode("utf-8-sig")
    assert "'=HYPERLINK" in text and "'@Risky Client" in text and "'-5% discount" in text
    _, plain, _ = _csv(demo, "estimates")  # the default, as the buttons beside tables give it
    assert not plain.startswith(exports.BOM) and "'=HYPERLINK" in plain.decode()
    _, raw, _ = _csv(demo, "estimates", raw=True)
    assert '=HYPERLINK(""http://evil"")' in raw.decode() and "'=HYPERLINK" not in raw.decode()
    _, _, projects = _csv(demo, "projects", excel=True)
    header = projects[0]
    loss = next(r for r in projects[1:] if r[header.index("name")] == '\'=HYPERLINK("http://evil")')
    assert loss[header.index("profit")] == "100.00"  # a credit note on costs: a plain number, not neutralised


@pytest.mark.parametrize(
    "text",
    [
        "=1+1",
        "+cmd|' /C calc'!A0",
        "-2+3",
        "@SUM(A1)",
        "\t=cmd",
        "\r=cmd",
        '  =HYPERLINK("http://evil")',
        "\tplain tab",
    ],
)
def test_known_formula_prefixes_are_neutralised_in_sql_and_python_alike(demo, text):
    import re

    from milestone.services.exports import _neutralise
    from milestone.store.exports import FORMULA_START

    assert _neutralise(text) == "'" + text
    assert demo["db"].scalar(f"SELECT CAST(:t AS text) ~ '{FORMULA_START}'", t=text) is True
    for safe in ("Plain text", "12.5", "a=b", "e-mail"):
        assert _neutralise(safe) == safe and not re.match(FORMULA_START, safe)


def test_xlsx_has_typed_cells_and_a_frozen_header(demo):
    buf = io.BytesIO()
    rows = exports.export("bills", Filters(), "xlsx", buf, demo["user"])
    ws = load_workbook(io.BytesIO(buf.getvalue())).active
    assert ws.freeze_panes == "A2" and ws.max_row == rows + 1
    header = [c.value for c in ws[1]]
    first = [c for c in ws[2]]
    assert isinstance(first[header.index("subtotal")].value, float)
    assert first[header.index("subtotal")].number_format == "#,##0.00"
    assert first[header.index("date")].is_date
    assert ws.column_dimensions["A"].width >= 10


def test_every_export_is_logged_with_its_filters(demo):
    before = demo["db"].scalar("SELECT count(*) FROM milestone.export_log")
    rows, _, _ = _csv(demo, "invoices", Filters(date_from=date(2026, 1, 1)))
    log = demo["db"].rows("SELECT * FROM milestone.export_log ORDER BY id DESC LIMIT 1")[0]
    assert demo["db"].scalar("SELECT count(*) FROM milestone.export_log") == before + 1
    assert (log["username"], log["table_name"], log["format"], log["row_count"]) == ("viewer", "invoices", "csv", rows)
    assert log["filters"] == {"date_from": "2026-01-01"}


def test_the_cli_exports_and_explains_bad_dates(demo, tmp_path):
    def run(*args):
        return subprocess.run(
            [sys.executable, "-m", "milestone", "export", *args],
            cwd=PROJECT_ROOT,
            capture_output=True,
            text=True,
            env=dict(os.environ),
            timeout=120,
        )

    out = tmp_path / "bills.xlsx"
    done = run("bills", "--from", "2025-01-01", "--format", "xlsx", "--out", str(out))
    assert done.returncode == 0 and out.exists() and "rows to" in done.stdout
    bad = run("bills", "--from", "2026-02-01", "--to", "2026-01-01")
    assert bad.returncode == 2 and "before the start date" in bad.stderr


@pytest.mark.parametrize("role", ["admin", "finance", "viewer"])
def test_each_role_gets_the_download_button(demo, role):
    at = app_as(role).run()
    at.switch_page("views/export.py").run()
    assert not at.exception
    assert len(at.get("download_button")) == 1


@pytest.mark.parametrize("role", ["admin", "finance", "viewer"])
def test_tables_have_export_buttons_beside_them(demo, role):
    # dashboard: monthly, projects, PDF; project: invoices, bills, its estimates, PDF
    pages = {"views/dashboard.py": 5, "views/projects.py": 2, "views/project.py": 7}
    if role != "viewer":
        pages["views/estimates.py"] = 2
    busiest = demo["db"].scalar("""SELECT project_id::text FROM milestone.project_metrics
                                   WHERE invoice_count > 0 AND bill_count > 0 LIMIT 1""")
    for page, buttons in pages.items():
        at = app_as(role).run()
        at.switch_page(page).run()
        if page == "views/project.py":  # a project with invoices and bills: a pair of buttons for each
            at.selectbox(key="pnl_project").set_value(busiest).run()
        assert not at.exception, (role, page)
        assert len(at.get("download_button")) == buttons, (role, page)


def test_a_project_with_history_has_audit_export_buttons(demo):
    pid = demo["db"].scalar("SELECT id::text FROM milestone.projects WHERE name LIKE '=HYPERLINK%'")
    at = app_as("finance").run()
    at.switch_page("views/project.py").run()
    at.selectbox(key="pnl_project").set_value(pid).run()
    assert not at.exception
    # no invoices, one bill: pairs for its bills, its estimates and its history, and the PDF
    assert len(at.get("download_button")) == 7


def test_the_audit_export_of_one_project_has_only_its_rows(demo):
    pid = demo["db"].scalar("SELECT id::text FROM milestone.projects WHERE name LIKE '=HYPERLINK%'")
    rows, _, parsed = _csv(demo, "audit", Filters(project_ids=(pid,)))
    want = demo["db"].scalar(
        """SELECT count(*) FROM milestone.audit_log WHERE (table_name = 'projects' AND row_id = :p)
                                OR (table_name = 'estimates' AND (coalesce(new_data, old_data) ->> 'project_id')::uuid
                                    = CAST(:p AS uuid))""",
        p=pid,
    )
    assert rows == len(parsed) - 1 == want >= 2  # the project and its estimate
    assert {r[parsed[0].index("row_id")] for r in parsed[1:] if r[parsed[0].index("table")] == "projects"} == {pid}


def test_the_phase_filter_selects_documents_with_a_line_in_the_phase(demo):
    phase = demo["db"].scalar("SELECT id::text FROM milestone.build_phases ORDER BY display_order LIMIT 1")
    for f, sql in (
        (Filters(phases=(phase,)), "build_phase_id = CAST(:ph AS uuid)"),
        (Filters(phases=(UNASSIGNED,)), "build_phase_id IS NULL"),
    ):
        rows, _, parsed = _csv(demo, "invoices", f)
        assert (
            rows
            == demo["db"].scalar(
                f"SELECT count(DISTINCT invoice_id) FROM milestone.invoice_lines WHERE {sql}", ph=phase
            )
            > 0
        )
        allocated = sum(Decimal(r[parsed[0].index("allocated")]) for r in parsed[1:])
        assert allocated == demo["db"].scalar(
            f"SELECT sum(line_amount) FROM milestone.invoice_lines WHERE {sql}", ph=phase
        )
        rows, _, _ = _csv(demo, "lines", f)
        assert rows == demo["db"].scalar(
            f"""SELECT (SELECT count(*) FROM milestone.invoice_lines WHERE {sql})
                                                  + (SELECT count(*) FROM milestone.bill_lines WHERE {sql})""",
            ph=phase,
        )


def test_the_lines_export_has_one_row_per_line_and_names_overheads(demo):
    tdb = demo["db"]
    a = builders.project(tdb, "Export split A", client="Split client")
    b = builders.project(tdb, "Export split B", client="Other client")
    builders.document(
        tdb,
        "bills",
        None,
        "1000.00",
        "Paid",
        on=date(2026, 2, 10),
        number="SPLIT-1",
        lines=[("600.00", a, None), ("300.00", b, None), ("100.00", None, None)],
    )
    rows, _, parsed = _csv(demo, "lines")
    assert rows == tdb.scalar(
        "SELECT (SELECT count(*) FROM milestone.invoice_lines) + (SELECT count(*) FROM milestone.bill_lines)"
    )
    h = parsed[0]
    assert h[:8] == [
        "kind",
        "number",
        "date",
        "contact_or_supplier",
        "status",
        "doc_type",
        "line_number",
        "description",
    ]
    mine = [
        (r[h.index("line_number")], r[h.index("line_amount")], r[h.index("project")], r[h.index("client")])
        for r in parsed[1:]
        if r[h.index("number")] == "SPLIT-1"
    ]
    assert mine == [
        ("1", "600.00", "Export split A", "Split client"),
        ("2", "300.00", "Export split B", "Other client"),
        ("3", "100.00", "Unallocated", ""),
    ]
    # a client filter: only that client's lines, and the bill with that project's allocated amount
    _, _, lines = _csv(demo, "lines", Filters(clients=("Split client",)))
    assert [r[lines[0].index("line_amount")] for r in lines[1:]] == ["600.00"]
    _, _, bills = _csv(demo, "bills", Filters(clients=("Split client",)))
    hb = bills[0]
    assert [
        (r[hb.index("number")], r[hb.index("subtotal")], r[hb.index("allocated")], r[hb.index("project")])
        for r in bills[1:]
    ] == [("SPLIT-1", "1000.00", "600.00", "Export split A")]
    _, _, everything = _csv(demo, "bills", Filters(date_from=date(2026, 2, 10), date_to=date(2026, 2, 10)))
    row = next(r for r in everything[1:] if r[hb.index("number")] == "SPLIT-1")
    assert row[hb.index("allocated")] == "1000.00"
    assert row[hb.index("project")] == "Export split A; Export split B; Unallocated"


def test_xlsx_text_that_looks_like_a_formula_stays_text(demo):
    buf = io.BytesIO()
    exports.export("projects", Filters(), "xlsx", buf, demo["user"])
    ws = load_workbook(io.BytesIO(buf.getvalue())).active
    names = [row[0].value for row in ws.iter_rows(min_row=2)]
    cell = next(row[0] for row in ws.iter_rows(min_row=2) if str(row[0].value).startswith("=HYPERLINK"))
    assert cell.data_type == "s" and '=HYPERLINK("http://evil")' in names


def test_only_admins_export_the_audit_of_users(demo):
    admin = users.get_user("admin")
    users.update_user(admin, "priya", role="viewer")
    users.update_user(admin, "priya", role="finance")
    _, _, as_viewer = _csv(demo, "audit")
    buf = io.BytesIO()
    exports.export("audit", Filters(), "csv", buf, admin)
    as_admin = list(csv.reader(io.StringIO(buf.getvalue().decode())))
    table = as_admin[0].index("table")
    assert (
        sum(r[table] == "app_users" for r in as_admin[1:])
        == demo["db"].scalar("SELECT count(*) FROM milestone.audit_log WHERE table_name = 'app_users'")
        >= 2
    )
    assert not any(r[table] == "app_users" for r in as_viewer[1:])


def test_an_xlsx_with_more_rows_than_excel_holds_is_refused_before_writing(demo, monkeypatch, tmp_path):
    monkeypatch.setattr(exports, "XLSX_MAX_ROWS", 5)  # instead of making a million rows
    buf = io.BytesIO()
    with pytest.raises(ValueError, match="more than an Excel sheet holds"):
        exports.export("invoices", Filters(), "xlsx", buf, demo["user"])
    assert buf.getvalue() == b""
    at = app_as("finance").run()
    at.switch_page("views/export.py").run()
    at.selectbox(key="exp_table").set_value("invoices").run()
    at.radio(key="exp_format").set_value("xlsx").run()
    assert any("more than an Excel sheet holds" in w.value for w in at.warning)


def test_the_cli_refuses_an_xlsx_too_large_for_excel_and_leaves_no_file(demo, monkeypatch, tmp_path, capsys):
    from milestone import cli

    monkeypatch.setattr(exports, "XLSX_MAX_ROWS", 5)
    out = tmp_path / "all.xlsx"
    args = cli.build_parser().parse_args(["export", "invoices", "--format", "xlsx", "--out", str(out)])
    assert args.func(args) == 2
    assert "more than an Excel sheet holds" in capsys.readouterr().err and not out.exists()


def test_an_export_interrupted_midway_leaves_no_file_and_says_so(demo, monkeypatch, tmp_path, capsys):
    from milestone import cli
    from milestone.errors import DatabaseUnavailable

    def half_then_gone(table, f, fmt, out, user, **kw):
        out.write(b"number,project\nINV-1,Barn\n")  # a plausible start of a CSV
        raise DatabaseUnavailable("The database is not answering just now.")

    monkeypatch.setattr(exports, "export", half_then_gone)
    out = tmp_path / "invoices.csv"
    args = cli.build_parser().parse_args(["export", "invoices", "--out", str(out)])
    assert args.func(args) == 2
    assert "Nothing was exported: The database is not answering" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []

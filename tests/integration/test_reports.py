"""PDF reports: rendered against a real database, read back with pypdf (text, pages), logged."""

import io
from datetime import UTC, date, datetime

import pandas as pd
import pytest
from pypdf import PdfReader

from milestone import metrics, pdfcharts, seed
from milestone.formatting import money, pct
from milestone.services import pnl, reports, users
from milestone.validation import Filters
from tests import builders

ANCHOR = date(2026, 11, 1)
SYNCED = datetime(2026, 11, 20, 6, 30, tzinfo=UTC)


@pytest.fixture(scope="module")
def demo(database):
    seed.ensure_demo_users(database.owner)
    seed.load(database.owner, 0.1, 4, anchor=ANCHOR, progress=False)  # 100 projects: the table runs over pages
    database.execute(
        """INSERT INTO milestone.sync_runs (started_at, finished_at, status)
                        VALUES (:s, :f, 'COMPLETED'), (:f, NULL, 'RUNNING')""",
        s=SYNCED.replace(hour=6, minute=0),
        f=SYNCED,
    )
    return {"db": database, "eng": database.app, "user": users.get_user("finance")}


def _pages(pdf: bytes) -> list[str]:
    assert pdf.startswith(b"%PDF-")
    return [p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages]


def _last_export(db) -> dict:
    return dict(db.rows("SELECT * FROM milestone.export_log ORDER BY id DESC LIMIT 1")[0])


def test_portfolio_report_shows_the_dashboards_kpis_and_every_project_over_numbered_pages(demo):
    pdf = reports.portfolio_pdf(Filters(), demo["user"], today=ANCHOR)
    assert b"LastResort" not in pdf  # the slow-to-load fallback font only when a glyph is missing
    pages = _pages(pdf)
    projects = metrics.with_pnl(pnl.project_table(Filters()))
    overheads = pnl.unallocated(Filters())
    totals = pnl.practice_totals(projects, overheads)  # the dashboard's cards: projects + overheads
    assert overheads.costs > 0 and totals.costs == metrics.totals_of(projects).costs + overheads.costs
    first, everything = pages[0], "\n".join(pages)

    assert "Portfolio P&L report" in first and "Period: all time" in first
    for label, value in totals.kpis().items():
        assert f"{label}\n{pct(value) if 'margin' in label.lower() else money(value)}" in first, label
    assert f"Projects\n{len(projects):,}" in first
    assert (
        f"Unallocated (overheads): revenue {money(overheads.revenue)}, costs {money(overheads.costs)}"
        in first.replace("\n", " ")
    )
    assert len(pages) > 3  # two pages of charts, then 100 projects
    for n, text in enumerate(pages, start=1):
        assert f"Page {n} of {len(pages)}" in text
        assert f"Data as of {SYNCED.astimezone():%d %b %Y %H:%M}" in text and "by Fran Finance" in text
    table_pages = [t for t in pages if "Forecast profit Forecast" in t.replace("\n", " ")]
    assert len(table_pages) >= 2  # the heading row is repeated on every page of the table
    for name in (projects["name"].iloc[0], projects["name"].iloc[-1]):
        assert name in everything.replace("\n", " ")
    last = _last_export(demo["db"])
    assert (last["username"], last["table_name"], last["format"], last["row_count"]) == (
        "finance",
        "portfolio",
        "pdf",
        len(projects),
    )


def test_portfolio_report_describes_the_filters_in_words_and_logs_them(demo):
    f = Filters(date_from=date(2026, 4, 1), date_to=date(2027, 3, 31), statuses=("In Progress", "On Hold"))
    first = _pages(reports.portfolio_pdf(f, demo["user"], today=ANCHOR))[0]
    assert "Period: 01 Apr 2026 to 31 Mar 2027 · Status: In Progress, On Hold" in first
    totals = metrics.totals_of(metrics.with_pnl(pnl.project_table(f)))
    assert f"Revenue\n{money(totals.revenue)}" in first
    assert _last_export(demo["db"])["filters"] == {
        "date_from": "2026-04-01",
        "date_to": "2027-03-31",
        "statuses": ["In Progress", "On Hold"],
    }


def test_an_empty_selection_gives_a_short_report_that_says_so(demo):
    pages = _pages(reports.portfolio_pdf(Filters(clients=("Nobody Ltd",)), demo["user"]))
    assert len(pages) == 1
    assert "nothing to report" in pages[0] and "Clients: Nobody Ltd" in pages[0] and "Page 1 of 1" in pages[0]
    assert _last_export(demo["db"])["row_count"] == 0


def test_project_report_has_header_budget_phases_and_documents(demo):
    db = demo["db"]
    pid = builders.project(db, "Riverside Extension", client="Harper Homes", budget_revenue=1000, budget_cost=600)
    groundworks = builders.phase(db, "Groundworks (test)")
    for d in (5, 6):
        builders.document(db, "invoices", pid, "400.00", phase_id=groundworks, on=date(2026, 1, d))
    builders.document(db, "bills", pid, "250.00", phase_id=groundworks)
    builders.estimate(db, pid, "300.00")
    pages = _pages(reports.project_pdf(pid, demo["user"]))
    text = "\n".join(pages)

    assert "Project P&L: Riverside Extension" in pages[0] and "Client: Harper Homes" in pages[0]
    assert "Revenue\n£800\nCosts\n£250\nProfit\n£550\nMargin\n68.8%" in pages[0]
    assert "Revenue £1,000 £800 £1,100 -£200" in pages[0]  # budget, actual, forecast, actual vs budget
    assert "Costs £600 £250 £250 -£350" in pages[0]
    assert "Groundworks (test) £800 £250 £550 68.8%" in text
    assert "Invoices (2)" in text and "Bills (1)" in text
    # newest first, in pence: this project's share, the subtotal, the total
    assert "06/01/2026 05/02/2026 Paid Invoice Groundworks (test) £400.00 £400.00 £480.00" in text
    assert f"Page 1 of {len(pages)}" in pages[0]
    last = _last_export(db)
    assert (last["table_name"], last["format"], last["row_count"], last["filters"]) == (
        "project",
        "pdf",
        3,
        {"project_ids": [pid]},
    )


def test_a_split_document_prints_the_projects_share_and_is_marked(demo):
    db = demo["db"]
    pid = builders.project(db, "Shared Yard", client="Harper Homes")
    other = builders.project(db, "Next Door", client="Harper Homes")
    builders.document(
        db,
        "bills",
        None,
        "1000.00",
        "Paid",
        on=date(2026, 2, 3),
        number="SPLIT-PDF",
        lines=[("600.00", pid, None), ("300.00", other, None), ("100.00", None, None)],
    )
    text = "\n".join(_pages(reports.project_pdf(pid, demo["user"]))).replace("\n", " ")
    assert "SPLIT-PDF *" in text and "£600.00 £1,000.00 £1,200.00" in text
    assert "Split (*): 1 of these bills also have lines on other projects or on overheads" in text


def test_a_project_without_revenue_shows_a_dash_margin_and_no_budget_note(demo):
    pid = builders.project(demo["db"], "Costs Only")
    builders.document(demo["db"], "bills", pid, "90.00")
    pages = _pages(reports.project_pdf(pid, demo["user"]))
    assert "Margin\n—" in pages[0] and "Forecast margin\n—" in pages[0]
    assert "no budget, so there is no budget variance" in pages[0]
    assert "Invoices (0)\nNo invoices for this project yet." in "\n".join(pages)


def test_long_document_lists_are_capped_with_a_note(demo, monkeypatch):
    pid = builders.project(demo["db"], "Busy Site")
    for d in range(1, 6):
        builders.document(demo["db"], "invoices", pid, "10.00", on=date(2026, 2, d))
    monkeypatch.setattr(reports, "DOCUMENT_CAP", 3)
    text = "\n".join(_pages(reports.project_pdf(pid, demo["user"]))).replace("\n", " ")
    assert "Showing the newest 3 of 5 invoices" in text


def test_unicode_names_print_and_missing_glyphs_do_not_crash(demo):
    pid = builders.project(demo["db"], "Zoë & Søn — Extension 東京", client="مؤسسة النور")
    builders.document(demo["db"], "invoices", pid, "120.00")
    pdf = reports.project_pdf(pid, demo["user"])
    text = "\n".join(_pages(pdf))
    assert "Zoë & Søn — Extension" in text and "£120" in text
    assert b"LastResort" in pdf  # 東京 is not in DejaVu: it prints as Last Resort's block boxes
    pages = _pages(reports.portfolio_pdf(Filters(project_ids=(pid,)), demo["user"]))
    assert "Projects: Zoë & Søn — Extension" in pages[0]


def test_an_unknown_project_is_refused_and_not_logged(demo):
    before = demo["db"].scalar("SELECT count(*) FROM milestone.export_log")
    with pytest.raises(LookupError):
        reports.project_pdf("00000000-0000-4000-8000-00000000dead", demo["user"])
    assert demo["db"].scalar("SELECT count(*) FROM milestone.export_log") == before


def test_without_a_completed_sync_the_footer_says_so(fresh_database):
    seed.ensure_demo_users(fresh_database.owner)
    user = users.get_user("viewer")
    builders.project(fresh_database, "Lonely")
    pages = _pages(reports.portfolio_pdf(Filters(), user))
    assert "Data as of: no Xero sync yet" in pages[0] and "by Val Viewer" in pages[0]


def test_every_chart_draws_a_png_for_empty_data():
    monthly = pd.DataFrame(columns=["month", "revenue", "costs", "cumulative_profit"])
    projects = pd.DataFrame(columns=["client_name", "status", "revenue", "profit"])
    pngs = [
        pdfcharts.monthly(monthly),
        pdfcharts.cumulative(monthly),
        pdfcharts.ageing(pd.DataFrame()),
        pdfcharts.by_phase(pd.DataFrame(columns=["phase", "revenue", "costs"])),
        pdfcharts.profit_by_client(projects),
        pdfcharts.by_status(projects),
        pdfcharts.budget_actual_forecast((None, None), (0, 0), (0, 0)),
    ]
    assert all(p.startswith(b"\x89PNG") for p in pngs)

"""An accountant's path in a real browser: dashboard, a filter, a project, the same numbers."""

from playwright.sync_api import expect

from milestone.formatting import money
from tests import oracle
from tests.browser.conftest import after_run, focus_grid_cell, sign_in, wait_for_app


def _card(page, label: str) -> str:
    card = page.locator("[data-testid='stMetric']", has_text=label).first
    return card.locator("[data-testid='stMetricValue']").inner_text().strip()


def test_dashboard_filter_and_project_show_the_database_numbers(live_app, page, artifacts):
    sign_in(page, live_app)
    page.get_by_text("Revenue").first.wait_for()
    all_time = oracle.project_sums(live_app.database)
    # unfiltered, the cards are the practice's: the projects plus the overheads (Unallocated)
    practice = oracle.ledger_totals(live_app.database)
    assert practice["revenue_projects"] + practice["revenue_unallocated"] == practice["revenue_lines"]
    assert _card(page, "Revenue") == money(practice["revenue_lines"])
    assert _card(page, "Costs") == money(practice["costs_lines"])
    page.get_by_text("Unallocated (overheads)").first.wait_for()
    page.screenshot(path=str(artifacts / "dashboard-all-time.png"))

    # change the period filter in the sidebar
    page.locator("[data-testid='stSidebar'] [data-testid='stSelectbox']").first.click()
    page.get_by_role("option", name="Last 12 months").click()
    page.wait_for_url("**period=Last+12+months**")  # the URL follows the rerun, not before it
    wait_for_app(page)
    # the URL changes before the rerun has drawn the new numbers: wait for the card to change
    revenue = page.locator("[data-testid='stMetric']", has_text="Revenue").first.locator(
        "[data-testid='stMetricValue']"
    )
    expect(revenue).not_to_have_text(money(practice["revenue_lines"]), timeout=30_000)
    page.screenshot(path=str(artifacts / "dashboard-last-12-months.png"))
    last_12_months = revenue.inner_text()

    # A reload keeps the filter (it is in the URL) and the session (the cookie). It also gives a
    # freshly drawn grid: once a grid's data has changed in place, focusing its mirrored cells no
    # longer selects them, so the keyboard selection below needs the reload.
    page.reload()
    wait_for_app(page)
    expect(revenue).to_have_text(last_12_months)

    # select the first project in the table (a canvas grid; its cells are mirrored in an accessible
    # table: focus the first row's Project cell, then Shift+Space selects the row) and open it
    grid = page.locator("[data-testid='stDataFrame']").last
    grid.scroll_into_view_if_needed()
    first = focus_grid_cell(grid)
    after_run(page, lambda: page.keyboard.press("Shift+Space"))
    link = page.locator("[data-testid='stPageLink'] a").first
    expect(link).to_contain_text(first.inner_text().strip())  # "Open the P&L of <that project>"
    after_run(page, link.click)
    page.get_by_text("P&L by build phase").wait_for()
    project_id = page.url.split("project=")[1].split("&")[0]
    mine = all_time[project_id]
    assert _card(page, "Revenue") == money(mine["revenue"])
    assert _card(page, "Costs") == money(mine["costs"])
    assert _card(page, "Profit") == money(mine["revenue"] - mine["costs"])
    page.screenshot(path=str(artifacts / "project-pnl.png"))


def test_dashboard_at_tablet_width(live_app, browser, artifacts):
    context = browser.new_context(viewport={"width": 800, "height": 1000})
    page = context.new_page()
    sign_in(page, live_app)
    page.get_by_text("Outstanding").first.wait_for()
    assert "£" in _card(page, "Outstanding")
    # no card truncates its amount with an ellipsis: the text fits its box
    overflowing = page.evaluate("""() => [...document.querySelectorAll('[data-testid="stMetricValue"] div')]
        .filter(e => e.scrollWidth > e.clientWidth + 1).map(e => e.innerText)""")
    assert overflowing == []
    page.screenshot(path=str(artifacts / "dashboard-tablet.png"))
    context.close()

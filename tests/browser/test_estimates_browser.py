"""Finance edits an estimate in the real grid, saves, and the dashboard's forecast follows."""
from decimal import Decimal

from playwright.sync_api import expect

from milestone.formatting import money
from tests import oracle
from tests.browser.conftest import sign_in, wait_for_app


def _forecast_profit(tdb) -> str:
    """The unfiltered dashboard's card: the practice's (projects + overheads) plus the estimates."""
    sums = oracle.project_sums(tdb).values()
    totals = oracle.ledger_totals(tdb)
    return money(totals["revenue_lines"] - totals["costs_lines"]
                 + sum(p["estimate_revenue"] - p["estimate_costs"] for p in sums))


def test_edit_a_cell_save_and_see_the_new_forecast(live_app, page, artifacts):
    tdb = live_app.database
    sign_in(page, live_app, "finance", "estimates")
    page.get_by_role("heading", name="Estimates").wait_for()
    grid = page.locator("[data-testid='stDataFrame']").first
    grid.wait_for()
    box = grid.bounding_box()
    # first data row, first column; then move to the Amount column (the 3rd) and type over it
    page.mouse.click(box["x"] + 60, box["y"] + 35 + 17)
    page.wait_for_timeout(300)
    for _ in range(2):
        page.keyboard.press("ArrowRight")
    page.keyboard.press("Enter")  # open the cell's editor
    page.wait_for_timeout(500)
    page.keyboard.press("Control+A")
    page.keyboard.type("4321.5", delay=50)
    page.keyboard.press("Enter")
    page.wait_for_timeout(1500)
    page.screenshot(path=str(artifacts / "estimates-edited.png"))
    page.get_by_text("1 unsaved change").wait_for()
    page.screenshot(path=str(artifacts / "estimates-edited.png"))
    page.get_by_role("button", name="Save changes").click()
    page.get_by_text("Saved 1 change").wait_for()
    page.screenshot(path=str(artifacts / "estimates-saved.png"))
    assert tdb.scalar("SELECT count(*) FROM milestone.estimates WHERE amount = :a AND updated_by = 'finance'",
                      a=Decimal("4321.50")) == 1

    # to the dashboard through the sidebar, as a person would (a reload is tested in test_login_browser)
    page.locator("[data-testid='stSidebarNav'] a").first.click()
    wait_for_app(page)
    card = page.locator("[data-testid='stMetric']", has_text="Forecast profit").first
    expect(card.locator("[data-testid='stMetricValue']")).to_have_text(_forecast_profit(tdb), timeout=30_000)

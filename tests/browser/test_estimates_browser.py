"""Finance edits an estimate in the real grid, saves, and the dashboard's forecast follows."""

from decimal import Decimal

from playwright.sync_api import expect

from milestone.formatting import money
from tests import oracle
from tests.browser.conftest import after_run, select_grid_cell, sign_in


def _forecast_profit(tdb) -> str:
    """The unfiltered dashboard's card: the practice's (projects + overheads) plus the estimates."""
    sums = oracle.project_sums(tdb).values()
    totals = oracle.ledger_totals(tdb)
    return money(
        totals["revenue_lines"] - totals["costs_lines"] + sum(p["estimate_revenue"] - p["estimate_costs"] for p in sums)
    )


def test_edit_a_cell_save_and_see_the_new_forecast(live_app, page, artifacts):
    tdb = live_app.database
    sign_in(page, live_app, "finance", "estimates")
    page.get_by_role("heading", name="Estimates").wait_for()
    grid = page.locator("[data-testid='stDataFrame']").first
    grid.wait_for()
    # the first data row's Amount cell, chosen by the column heading; Enter opens its editor
    select_grid_cell(page, grid, "Amount (£)")
    page.keyboard.press("Enter")
    editor = page.locator("input.gdg-input")
    expect(editor).to_be_focused()
    editor.fill("4321.5")
    expect(editor).to_have_value("4321.5")
    page.keyboard.press("Enter")
    page.get_by_text("1 unsaved change").wait_for()
    page.screenshot(path=str(artifacts / "estimates-edited.png"))
    page.get_by_role("button", name="Save changes").click()
    page.get_by_text("Saved 1 change").wait_for()
    page.screenshot(path=str(artifacts / "estimates-saved.png"))
    assert (
        tdb.scalar(
            "SELECT count(*) FROM milestone.estimates WHERE amount = :a AND updated_by = 'finance'",
            a=Decimal("4321.50"),
        )
        == 1
    )

    # to the dashboard through the sidebar, as a person would (a reload is tested in test_login_browser)
    after_run(page, page.locator("[data-testid='stSidebarNav'] a").first.click)
    card = page.locator("[data-testid='stMetric']", has_text="Forecast profit").first
    expect(card.locator("[data-testid='stMetricValue']")).to_have_text(_forecast_profit(tdb), timeout=30_000)

"""The served app loads in a real browser and shows money."""

from tests.browser.conftest import sign_in


def test_dashboard_loads_in_chromium(live_app, page, artifacts):
    sign_in(page, live_app)
    page.get_by_text("Revenue").first.wait_for()
    text = page.inner_text("body")
    assert "£" in text and "Dashboard" in text
    page.screenshot(path=str(artifacts / "dashboard.png"), full_page=True)

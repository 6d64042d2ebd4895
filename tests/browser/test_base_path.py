"""The app served under MILESTONE_BASE_PATH loads in a real browser, websocket included."""

import urllib.request

from tests import serving
from tests.browser.conftest import start_app, submit_login, wait_for_app


def test_the_app_loads_under_the_base_path(live_app, page, artifacts, new_user):
    username, password = new_user("viewer")
    proc, url = start_app(live_app.database.url, base_path="/milestone-app")
    try:
        assert url.endswith("/milestone-app")
        with urllib.request.urlopen(f"{url}/health", timeout=10) as r:
            assert r.status == 200
        violations = []
        page.on("console", lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None)
        page.goto(f"{url}/")
        wait_for_app(page)
        page.get_by_role("button", name="Sign in").wait_for()
        submit_login(page, username, password)  # the sign-in works under the prefix too
        page.get_by_text("Revenue").first.wait_for()  # rendered over the websocket under the prefix
        assert "£" in page.inner_text("body")
        page.wait_for_selector("[data-testid='stPlotlyChart'] .main-svg", timeout=60_000)  # CSP lets plotly draw
        page.screenshot(path=str(artifacts / "base-path.png"), full_page=True)
        assert not violations, violations  # connect-src 'self' + this origin's websocket is enough
        cookie = [c for c in page.context.cookies() if c["name"] == "milestone_session"][0]
        assert cookie["path"] == "/milestone-app" and cookie["httpOnly"]
    finally:
        serving.stop(proc)

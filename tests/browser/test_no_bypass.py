"""A page URL opened first thing on a freshly started server still shows only the sign-in form."""

from tests import serving
from tests.browser.conftest import start_app, wait_for_app


def test_a_page_url_on_a_fresh_server_does_not_skip_sign_in(live_app, page, artifacts):
    proc, url = start_app(live_app.database.url)  # a new process: nothing has run app.py yet
    try:
        page.goto(f"{url}/project")
        wait_for_app(page)
        page.get_by_role("button", name="Sign in").wait_for()
        body = page.inner_text("body")
        page.screenshot(path=str(artifacts / "fresh-server-deep-link.png"))
        for leaked in ("Xero data as of", "Budget vs actual", "Revenue", "Signed in as", "dashboard", "estimates"):
            assert leaked not in body, leaked
    finally:
        serving.stop(proc)

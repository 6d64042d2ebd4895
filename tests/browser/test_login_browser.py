"""Signing in and out in a real browser: the lock-out, the HttpOnly cookie, sign-out reaching other browsers.

Each test that locks or signs someone out does it to a user of its own (`new_user`), so the demo
users stay as they were for the other tests, whatever the order."""

from tests.browser.conftest import submit_login, wait_for_app, wait_for_sign_in_form

COOKIE = "milestone_session"


def test_wrong_password_lock_out_sign_in_and_sign_out(live_app, page, artifacts, new_user):
    locked, locked_password = new_user("viewer")
    person, password = new_user("finance")
    page.goto(live_app.url)
    wait_for_sign_in_form(page)
    page.screenshot(path=str(artifacts / "login.png"))
    assert "Revenue" not in page.inner_text("body")

    submit_login(page, locked, "wrong password")
    page.get_by_text("Username or password is incorrect.").wait_for()
    for _ in range(4):
        submit_login(page, locked, "wrong password")
    page.get_by_text("locked for 15 minutes").wait_for()
    submit_login(page, locked, locked_password)  # the right password, but locked
    page.get_by_text("locked until").wait_for()
    page.screenshot(path=str(artifacts / "login-locked.png"))

    submit_login(page, person, password)
    page.get_by_text("Signed in as").wait_for()
    page.get_by_text("Revenue").first.wait_for()
    page.get_by_role("button", name="Sign out").click()
    wait_for_sign_in_form(page)
    page.get_by_text("You have signed out.").first.wait_for()
    assert not [c for c in page.context.cookies() if c["name"] == COOKIE]
    page.reload()  # a reload does not bring the session back
    wait_for_sign_in_form(page)
    assert "Signed in as" not in page.inner_text("body")


def test_the_session_cookie_is_httponly_strict_and_survives_a_reload(live_app, page, artifacts):
    page.goto(live_app.url)
    submit_login(page, "admin", live_app.passwords["admin"])
    page.get_by_text("Signed in as").wait_for()
    cookie = [c for c in page.context.cookies() if c["name"] == COOKIE][0]
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict" and cookie["path"] == "/"
    assert len(cookie["value"]) == 43
    assert cookie["value"] not in page.evaluate("document.cookie") and COOKIE not in page.evaluate("document.cookie")
    page.reload()
    wait_for_app(page)
    page.get_by_text("Signed in as").wait_for()
    other = page.context.new_page()  # a second tab shares the cookie
    other.goto(live_app.url)
    wait_for_app(other)
    other.get_by_text("Signed in as").wait_for()


def test_a_second_browser_drops_out_at_its_next_click_after_sign_out(live_app, browser, page, artifacts, new_user):
    person, password = new_user("admin")
    page.goto(live_app.url)
    submit_login(page, person, password)
    page.get_by_text("Signed in as").wait_for()
    second_ctx = browser.new_context(viewport={"width": 1400, "height": 900})
    second = second_ctx.new_page()
    try:
        second.goto(live_app.url)
        submit_login(second, person, password)
        second.get_by_text("Signed in as").wait_for()
        second.locator("[data-testid='stSidebarNav'] a[href$='/projects']").first.click()  # still signed in
        wait_for_app(second)
        second.get_by_text("Signed in as").wait_for()

        page.get_by_role("button", name="Sign out").click()  # the first browser signs out
        wait_for_sign_in_form(page)

        # the second one's next click (over its open websocket) lands on the sign-in form
        second.locator("[data-testid='stSidebarNav'] a[href$='/']").first.click()
        wait_for_sign_in_form(second)
        second.screenshot(path=str(artifacts / "second-browser-signed-out.png"))
        assert "Signed in as" not in second.inner_text("body")
    finally:
        second_ctx.close()


def test_a_forged_cookie_lands_on_the_sign_in_form(live_app, page):
    origin = live_app.url.split("/", 3)[:3]
    for value in (
        "eyJhbGciOiJub25lIn0.eyJ1c2VybmFtZSI6ImFkbWluIiwiZXhwX2RhdGUiOjk5OTk5OTk5OTl9.",
        "eyJhbGciOiJIUzUxMiIsImtpZCI6N30.eyJ1c2VybmFtZSI6ImFkbWluIn0.c2ln",
        "A" * 43,
    ):
        page.context.clear_cookies()
        page.context.add_cookies([{"name": COOKIE, "value": value, "url": "/".join(origin) + "/"}])
        page.goto(live_app.url)
        wait_for_sign_in_form(page)
        body = page.inner_text("body")
        assert "Traceback" not in body and "Signed in as" not in body

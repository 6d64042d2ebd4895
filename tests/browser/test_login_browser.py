"""Signing in and out in a real browser, with the lock-out after five wrong passwords."""
from tests.browser.conftest import submit_login, wait_for_app


def test_wrong_password_lock_out_sign_in_and_sign_out(live_app, page, artifacts):
    page.goto(live_app.url)
    wait_for_app(page)
    page.screenshot(path=str(artifacts / "login.png"))
    assert "Revenue" not in page.inner_text("body")

    submit_login(page, "viewer", "wrong password")
    page.get_by_text("Username or password is incorrect.").wait_for()
    for _ in range(4):
        submit_login(page, "viewer", "wrong password")
    page.get_by_text("locked for 15 minutes").wait_for()
    submit_login(page, "viewer", live_app.passwords["viewer"])  # the right password, but locked
    page.get_by_text("locked until").wait_for()
    page.screenshot(path=str(artifacts / "login-locked.png"))

    submit_login(page, "finance", live_app.passwords["finance"])
    page.get_by_text("Signed in as").wait_for()
    page.get_by_text("Revenue").first.wait_for()
    wait_for_app(page)  # the cookie component reruns the script after sign-in; a click mid-rerun is lost
    page.get_by_role("button", name="Sign out").click()
    wait_for_app(page)
    page.get_by_role("button", name="Sign in").first.wait_for()
    page.get_by_text("You have signed out.").first.wait_for()
    # a reload does not bring the session back
    page.reload()
    wait_for_app(page)
    page.get_by_role("button", name="Sign in").first.wait_for()
    assert "Signed in as" not in page.inner_text("body")


def test_a_reload_keeps_the_person_signed_in(live_app, page, artifacts):
    """The cookie is stored by a browser component after sign-in; once it is there, a reload
    (or a new tab) signs the person in from it without the form."""
    from milestone.ui.auth import COOKIE_NAME

    page.goto(live_app.url)
    wait_for_app(page)
    submit_login(page, "admin", live_app.passwords["admin"])
    page.get_by_text("Signed in as").wait_for()
    page.wait_for_function(f"() => document.cookie.includes('{COOKIE_NAME}=')", timeout=30_000)
    wait_for_app(page)
    page.reload()
    wait_for_app(page)
    page.get_by_text("Signed in as").wait_for()
    page.screenshot(path=str(artifacts / "login-after-reload.png"))
    assert page.get_by_role("button", name="Sign in").count() == 0
    other = page.context.new_page()  # a second tab shares the cookie
    other.goto(live_app.url)
    wait_for_app(other)
    other.get_by_text("Signed in as").wait_for()

"""Signing in and out in a real browser, with the lock-out after five wrong passwords.

Each test signs in as a user of its own (`new_user`), so locking one out or signing one out
leaves the demo users as they were for the other tests."""

from tests.browser.conftest import COOKIE_NAME, settle, sign_in_with, submit_login, wait_for_app


def test_wrong_password_lock_out_sign_in_and_sign_out(live_app, page, artifacts, new_user):
    locked, locked_password = new_user("viewer")
    person, password = new_user("finance")
    page.goto(live_app.url)
    wait_for_app(page)
    page.screenshot(path=str(artifacts / "login.png"))
    assert "Revenue" not in page.inner_text("body")

    submit_login(page, locked, "wrong password")
    page.get_by_text("Username or password is incorrect.").wait_for()
    for _ in range(4):
        submit_login(page, locked, "wrong password")  # returns once the app has handled the attempt
    page.get_by_text("locked for 15 minutes").wait_for()
    submit_login(page, locked, locked_password)  # the right password, but locked
    page.get_by_text("locked until").wait_for()
    page.screenshot(path=str(artifacts / "login-locked.png"))

    sign_in_with(page, person, password)
    page.get_by_text("Revenue").first.wait_for()
    page.get_by_role("button", name="Sign out").click()
    page.get_by_text("You have signed out.").first.wait_for()
    page.get_by_role("button", name="Sign in").first.wait_for()
    settle(page)  # the cookie component deletes the cookie and reruns
    # a reload does not bring the session back
    page.reload()
    wait_for_app(page)
    page.get_by_role("button", name="Sign in").first.wait_for()
    assert "Signed in as" not in page.inner_text("body")


def test_a_reload_keeps_the_person_signed_in(live_app, page, artifacts, new_user):
    """The cookie is stored by a browser component after sign-in; once it is there, a reload
    (or a new tab) signs the person in from it without the form."""
    person, password = new_user("admin")
    page.goto(live_app.url)
    wait_for_app(page)
    sign_in_with(page, person, password)  # waits for the cookie and the rerun after it
    assert COOKIE_NAME in "; ".join(c["name"] for c in page.context.cookies())
    page.reload()
    wait_for_app(page)
    page.get_by_text("Signed in as").wait_for()
    page.screenshot(path=str(artifacts / "login-after-reload.png"))
    assert page.get_by_role("button", name="Sign in").count() == 0
    other = page.context.new_page()  # a second tab shares the cookie
    other.goto(live_app.url)
    wait_for_app(other)
    other.get_by_text("Signed in as").wait_for()

"""Browser tests: the real app served by Streamlit on a free port, driven by headless Chromium.

Playwright cannot download browsers here, so it launches Debian's chromium by path. Without
it every browser test is skipped with that reason (`make test` tries to install it first).

The tests wait on conditions, never for a fixed time. Streamlit marks its root element with the
state of the script run (`data-test-script-state`); `after_run` watches that attribute to know
that an action (a click, a form submit) has made the script run and that the run has finished,
and `settle` waits for the app to stop rerunning by itself.
Tests that change a user's state (a lock-out, a sign-out) make their own user with `new_user`,
so the tests pass in any order and alone.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import pytest
import sqlalchemy as sa
from playwright.sync_api import Locator, Page, expect
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from milestone import auth, seed
from tests import serving
from tests.conftest import _fresh_database

CHROMIUM = os.environ.get("MILESTONE_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]
RUN_TIMEOUT_MS = 60_000


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/browser/" in str(item.fspath):
            item.add_marker(pytest.mark.browser)


@dataclass
class LiveApp:
    url: str
    passwords: dict[str, str]
    database: object
    process: subprocess.Popen


def start_app(
    db_url: str, extra_env: dict[str, str] | None = None, base_path: str = ""
) -> tuple[subprocess.Popen, str]:
    return serving.serve(db_url, base_path, extra_env)


@pytest.fixture(scope="session")
def live_app(server_url, template_db, artifacts):
    """The app on demo data (scale 0.01), served for the whole browser session."""
    gen = _fresh_database(server_url, template_db)
    tdb = next(gen)
    passwords = seed.ensure_demo_users(tdb.owner)
    seed.load(tdb.owner, 0.01, 1, progress=False)  # anchored today: the last sync was minutes ago
    proc, url = start_app(tdb.url)
    yield LiveApp(url, passwords, tdb, proc)
    serving.stop(proc)
    next(gen, None)


@pytest.fixture()
def new_user(live_app) -> Callable[[str], tuple[str, str]]:
    """Make a user of a role for this test alone; returns (username, password)."""

    def make(role: str) -> tuple[str, str]:
        username, password = f"{role}-{uuid.uuid4().hex[:8]}", secrets.token_urlsafe(18)
        with live_app.database.owner.begin() as conn:
            conn.execute(
                sa.text(
                    "INSERT INTO milestone.app_users (username, display_name, role, password_hash)"
                    " VALUES (:u, :n, :r, :h)"
                ),
                {"u": username, "n": f"Test {role} {username[-8:]}", "r": role, "h": auth.hash_password(password)},
            )
        return username, password

    return make


@pytest.fixture(scope="session")
def browser():
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"browser tests skipped: no chromium at {CHROMIUM} (install Debian's 'chromium' package)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if report.when == "call":
        item.failed_call = report.failed  # read by the page fixture, for a screenshot of the failure
    return report


@pytest.fixture()
def page(browser, request, artifacts):
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    pg = context.new_page()
    pg.set_default_timeout(30_000)
    yield pg
    if getattr(request.node, "failed_call", False):  # what the browser showed when the test failed
        pg.screenshot(path=str(artifacts / f"FAILED-{request.node.name}.png"), full_page=True)
    context.close()


# ----------------------------------------------------------------------------- waiting on the app

_IDLE = """() => {
    const app = document.querySelector('[data-testid="stApp"]');
    return !!app && app.getAttribute('data-test-connection-state') === 'CONNECTED'
        && app.getAttribute('data-test-script-state') === 'notRunning'
        && !document.querySelector('[data-testid="stStatusWidget"]');
}"""

# Watches the script-run state: `starts` counts the times a run began (the state left
# 'notRunning'), `lastChange` is when the state last changed.
_TRACK_RUNS = """() => {
    const app = document.querySelector('[data-testid="stApp"]');
    if (window.__msRuns && window.__msRuns.app === app) return;
    const t = window.__msRuns = {app, starts: 0, lastChange: performance.now()};
    new MutationObserver(records => {
        for (const r of records) if (r.oldValue === 'notRunning') t.starts += 1;
        t.lastChange = performance.now();
    }).observe(app, {attributes: true, attributeFilter: ['data-test-script-state'], attributeOldValue: true});
}"""


SIGN_IN_FORM = "form[action$='/signin']"


def wait_for_app(pg: Page) -> None:
    """Wait until Streamlit is connected and no script run is going on (or the server's own
    sign-in page has loaded: it is plain HTML, not Streamlit)."""
    pg.wait_for_selector(f"[data-testid='stApp'], {SIGN_IN_FORM}")
    if pg.locator(SIGN_IN_FORM).count():
        return
    pg.wait_for_function(_IDLE, timeout=RUN_TIMEOUT_MS)


def wait_for_sign_in_form(pg: Page) -> None:
    pg.wait_for_selector(f"{SIGN_IN_FORM} input[name='password']")


def _starts(pg: Page) -> int:
    wait_for_app(pg)
    pg.evaluate(_TRACK_RUNS)
    return pg.evaluate("() => window.__msRuns.starts")


def after_run(pg: Page, action: Callable[[], object], start_timeout_ms: int = RUN_TIMEOUT_MS) -> None:
    """Do `action` and wait until the script run it caused has started (within
    `start_timeout_ms`) and finished."""
    before = _starts(pg)
    action()
    pg.wait_for_function(f"() => window.__msRuns.starts > {before}", timeout=start_timeout_ms)
    pg.wait_for_function(_IDLE, timeout=RUN_TIMEOUT_MS)


def settle(pg: Page, quiet_ms: int = 1500) -> None:
    """Wait until the app is idle and has not started a run for `quiet_ms`: for reruns that nothing
    on the page announces."""
    _starts(pg)
    pg.wait_for_function(
        f"() => ({_IDLE})() && performance.now() - window.__msRuns.lastChange > {quiet_ms}", timeout=RUN_TIMEOUT_MS
    )


def submit_login(pg: Page, username: str, password: str) -> None:
    """Fill the server's sign-in page and submit it; returns once whichever page comes back is ready."""
    wait_for_sign_in_form(pg)
    pg.fill("input[name='username']", username)
    pg.fill("input[name='password']", password)
    with pg.expect_navigation():
        pg.get_by_role("button", name="Sign in").click()
    wait_for_app(pg)


def sign_in_with(pg: Page, username: str, password: str) -> None:
    """Sign in through the server's form and wait until the app has drawn its first page."""
    submit_login(pg, username, password)
    pg.get_by_text("Signed in as").wait_for()
    settle(pg)


def sign_in(pg: Page, live: LiveApp, role: str = "admin", path: str = "") -> None:
    """Sign in through the form as the demo user named like `role`, then open `path` from the sidebar."""
    pg.goto(live.url)
    sign_in_with(pg, role, live.passwords[role])
    if path:  # within the session via the sidebar, as a person would
        open_page(pg, path)


def open_page(pg: Page, path: str) -> None:
    """Open a page from the sidebar. A click that lands while a late rerun redraws the page can be
    lost, so it is repeated until the URL shows the page."""
    link = pg.locator(f"[data-testid='stSidebarNav'] a[href$='/{path}']").first
    for _attempt in range(3):
        try:  # a lost click starts no run at all: click again rather than wait out the minute
            after_run(pg, link.click, start_timeout_ms=15_000)
        except PlaywrightTimeout:
            continue
        if f"/{path}" in pg.url:
            break
    else:
        raise AssertionError(f"the sidebar link to /{path} did not open it; the page is at {pg.url}")
    pg.get_by_text("Signed in as").wait_for()


def focus_grid_cell(grid: Locator, column_index: int = 1, row: int = 0) -> Locator:
    """Select a cell of a Streamlit grid. The grid is drawn on a canvas, but it mirrors the visible
    cells in an accessible table (`glide-cell-COLUMN-ROW`, column 1 is the first data column), and
    focusing a mirrored cell selects it. A grid redrawn just then (new data after a rerun) drops
    the selection, so focusing is tried again until the cell shows as selected."""
    cell = grid.get_by_test_id(f"glide-cell-{column_index}-{row}")
    for attempt in range(5):
        cell.focus()
        try:
            expect(cell).to_have_attribute("aria-selected", "true", timeout=3_000)
            return cell
        except AssertionError:
            if attempt == 4:
                raise
            grid.page.locator("body").focus()  # let the next focus be a new one
    return cell


def select_grid_cell(pg: Page, grid: Locator, column: str, row: int = 0) -> Locator:
    """Select the cell of `column` (its heading) in data row `row` of a Streamlit grid: the first
    data cell of the row, then ArrowRight until the heading matches."""
    focus_grid_cell(grid, 1, row)
    selected = grid.locator("td[role='gridcell'][aria-selected='true']")
    for _ in range(30):
        index = int(selected.first.get_attribute("aria-colindex"))
        if grid.locator(f"th[aria-colindex='{index}']").inner_text().strip() == column:
            return selected.first
        pg.keyboard.press("ArrowRight")
        expect(grid.locator(f"td[aria-colindex='{index + 1}'][aria-selected='true']")).to_have_count(1)
    raise AssertionError(f"no column {column!r} in the grid")

"""Browser tests: the real app served by Streamlit on a free port, driven by headless Chromium.

Playwright cannot download browsers here, so it launches Debian's chromium by path. Without
it every browser test is skipped with that reason (`make test` tries to install it first).
"""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass

import pytest

from milestone import seed
from milestone.config import PROJECT_ROOT
from tests.conftest import _fresh_database

CHROMIUM = os.environ.get("MILESTONE_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage"]


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/browser/" in str(item.fspath):
            item.add_marker(pytest.mark.browser)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class LiveApp:
    url: str
    passwords: dict[str, str]
    database: object
    process: subprocess.Popen


def start_app(db_url: str, extra_env: dict[str, str] | None = None, base_path: str = "") -> tuple[subprocess.Popen, str]:
    port = _free_port()
    env = {**os.environ, "DATABASE_URL": db_url, "MILESTONE_LOCAL": "1", "MILESTONE_BASE_PATH": base_path,
           **(extra_env or {})}
    cmd = [sys.executable, "-m", "milestone", "serve", "--port", str(port), "--address", "127.0.0.1"]
    log = open(PROJECT_ROOT / "test-artifacts" / f"server-{port}.log", "w")
    proc = subprocess.Popen(cmd, cwd=PROJECT_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}{base_path}"
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                if r.status == 200:
                    return proc, url
        except OSError:
            time.sleep(0.3)
    proc.kill()
    raise RuntimeError(f"the app did not start on port {port}; see test-artifacts/server-{port}.log")


@pytest.fixture(scope="session")
def live_app(server_url, template_db, artifacts):
    """The app on demo data (scale 0.01), served for the whole browser session."""
    gen = _fresh_database(server_url, template_db)
    tdb = next(gen)
    passwords = seed.ensure_demo_users(tdb.owner)
    seed.load(tdb.owner, 0.01, 1, progress=False)  # anchored today: the last sync was minutes ago
    proc, url = start_app(tdb.url)
    yield LiveApp(url, passwords, tdb, proc)
    proc.terminate()
    proc.wait(10)
    next(gen, None)


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
def page(browser, request):
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    pg = context.new_page()
    pg.set_default_timeout(30_000)
    yield pg
    if getattr(request.node, "failed_call", False):  # what the browser showed when the test failed
        (PROJECT_ROOT / "test-artifacts").mkdir(exist_ok=True)
        pg.screenshot(path=str(PROJECT_ROOT / "test-artifacts" / f"FAILED-{request.node.name}.png"), full_page=True)
    context.close()


def wait_for_app(pg) -> None:
    """Wait until Streamlit has finished running the script (or the sign-in page has loaded)."""
    pg.wait_for_selector("[data-testid='stApp'], form[action$='/signin']")
    if pg.locator("form[action$='/signin']").count():
        return
    pg.wait_for_function("() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=60_000)
    pg.wait_for_timeout(300)


def wait_for_sign_in_form(pg) -> None:
    pg.wait_for_selector("form[action$='/signin'] input[name='password']")


def submit_login(pg, username: str, password: str) -> None:
    """Fill the server's sign-in page and submit it; wait for whichever page comes back."""
    wait_for_sign_in_form(pg)
    pg.fill("input[name='username']", username)
    pg.fill("input[name='password']", password)
    with pg.expect_navigation():
        pg.get_by_role("button", name="Sign in").click()
    wait_for_app(pg)


def sign_in(pg, live: LiveApp, role: str = "admin", path: str = "") -> None:
    """Sign in through the form as the demo user named like `role`, then open `path` from the sidebar."""
    pg.goto(live.url)
    submit_login(pg, role, live.passwords[role])
    try:
        pg.get_by_text("Signed in as").wait_for()
    except Exception:
        pg.screenshot(path=str(PROJECT_ROOT / "test-artifacts" / f"sign-in-failed-{role}.png"))
        raise
    wait_for_app(pg)
    if path:
        open_page(pg, path)


def open_page(pg, path: str) -> None:
    """Open a page from the sidebar. A click that lands while the cookie component's rerun redraws
    the page can be lost, so it is repeated until the URL shows the page."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    for attempt in range(3):
        pg.locator(f"[data-testid='stSidebarNav'] a[href$='/{path}']").first.click()
        try:
            pg.wait_for_url(f"**/{path}*", timeout=10_000)
        except PlaywrightTimeout:
            continue
        pg.wait_for_timeout(500)
        wait_for_app(pg)
        if f"/{path}" in pg.url:  # still there once the page has settled (a late rerun can undo the click)
            break
    else:
        raise AssertionError(f"the sidebar link to /{path} did not open it; the page is at {pg.url}")
    pg.get_by_text("Signed in as").wait_for()

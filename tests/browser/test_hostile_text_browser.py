"""Hostile text in Chromium: project and client names, estimate descriptions, contacts, a user's
name and a saved view's name made of script, HTML and Markdown payloads, on every page that
shows user text (charts' labels included). The test fails if a dialog opens, a payload's script
runs (each sets window.__pwned), a payload becomes a link or an image, or the text is not shown
literally. Its own app and database, so other browser tests keep their numbers."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa

from milestone import seed
from tests import builders, serving
from tests.browser.conftest import settle, sign_in_with, wait_for_app
from tests.conftest import _fresh_database

NAME = "Zz <img src=x onerror=window.__pwned=1> [click](https://evil.example) <a href='https://evil.example'>a</a>"
CLIENT = "Zz <script>window.__pwned=2</script> <b>bold</b> **loud**"
DESCRIPTION = "<svg onload=window.__pwned=3> [x](javascript:window.__pwned=3)"
CONTACT = "<iframe src=https://evil.example></iframe> Contact"
DISPLAY = "<img src=x onerror=window.__pwned=4> Mallory"
VIEW = "<script>window.__pwned=5</script> view"


@pytest.fixture(scope="module")
def hostile_app(server_url, template_db):
    gen = _fresh_database(server_url, template_db)
    tdb = next(gen)
    passwords = seed.ensure_demo_users(tdb.owner)
    seed.load(tdb.owner, 0.01, 1, progress=False)
    pid = builders.project(tdb, NAME, client=CLIENT)
    builders.document(tdb, "invoices", pid, "9000000.00", "Authorised")
    builders.document(tdb, "bills", pid, "10.00", "Paid")
    builders.estimate(tdb, pid, "100.00", description=DESCRIPTION)
    with tdb.owner.begin() as conn:
        conn.execute(sa.text("UPDATE milestone.invoices SET contact = :c WHERE subtotal = 9000000"), {"c": CONTACT})
        conn.execute(
            sa.text("UPDATE milestone.app_users SET display_name = :d WHERE username = 'viewer'"), {"d": DISPLAY}
        )
        conn.execute(
            sa.text(
                "INSERT INTO milestone.user_preferences (user_id, saved_views) SELECT id, CAST(:v AS jsonb)"
                " FROM milestone.app_users WHERE username = 'admin'"
            ),
            {"v": json.dumps({VIEW: {"client": [CLIENT]}})},
        )
    proc, url = serving.serve(tdb.url, "", None)
    yield {"url": url.rstrip("/"), "passwords": passwords, "project": pid}
    serving.stop(proc)
    next(gen, None)


PAGES = ["", "projects", "project?project={pid}", "estimates", "export", "import", "users", "monitoring"]


def test_no_script_runs_and_text_stays_text_on_every_page(hostile_app, browser, artifacts):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(60_000)
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.add_init_script("window.__pwned = 0;")
    page.goto(hostile_app["url"])
    sign_in_with(page, "admin", hostile_app["passwords"]["admin"])
    seen: dict[str, str] = {}
    for path in PAGES:
        target = path.format(pid=hostile_app["project"])
        page.goto(f"{hostile_app['url']}/{target}")
        wait_for_app(page)
        settle(page)
        name = target.split("?")[0] or "dashboard"
        page.screenshot(path=str(artifacts / f"hostile-{name}.png"), full_page=True)
        assert page.evaluate("() => window.__pwned") == 0, f"a payload's script ran on /{target}"
        links = page.evaluate(
            "() => [...document.querySelectorAll('a, iframe')].map(a => a.getAttribute('href') || a.src || '')"
            ".filter(h => h.includes('evil.example') || h.startsWith('javascript:'))"
        )
        assert links == [], (target, links)
        images = page.evaluate(
            "() => [...document.querySelectorAll('img[src=\"x\"], svg[onload], iframe')]"
            ".map(e => e.outerHTML.slice(0, 300))"
        )
        inline = page.evaluate(
            "() => [...document.querySelectorAll('script:not([src])')]"
            ".filter(s => s.textContent.includes('__pwned')).length"
        )
        assert inline == 0 and images == [], (target, images, inline)
        seen[name] = page.evaluate(
            "() => document.body.innerText + ' ' +"
            " [...document.querySelectorAll('svg text')].map(t => t.textContent).join(' ') + ' ' +"
            " [...document.querySelectorAll('input')].map(i => i.value).join(' ')"
        )
    assert dialogs == []
    # shown literally, as text: the project's own page (header and client), and the dashboard's
    # chart labels (the Projects page's grid is a canvas: its text is not in the DOM)
    assert "<img src=x onerror=window.__pwned=1>" in seen["project"]
    assert "[click](https://evil.example)" in seen["project"]
    assert "<script>window.__pwned=2</script>" in seen["project"]
    assert "Zz <img src=x onerror" in seen["dashboard"]
    context.close()

"""Attacks through every input, at the service layer (the browser half is
tests/browser/test_hostile_text_browser.py):

- SQL injection and script payloads through every text field, filter and CSV field are stored
  verbatim and read back verbatim (parameters, never string building); the tables survive;
- the PDF reports carry hostile text literally; an XLSX export has no formula cells;
- a viewer's and a disabled user's writes are refused by the services themselves (not only hidden),
  writing nothing;
- the app's websocket without a session gets the sign-in redirect and no data.
"""

from __future__ import annotations

import io
from datetime import date
from decimal import Decimal

import pytest
from pypdf import PdfReader

from milestone import seed
from milestone.errors import PermissionDenied
from milestone.services import estimates, exports, imports, preferences, projects, reports, sync, users
from milestone.store.users import User
from milestone.validation import EVERYTHING, EstimateChanges, EstimateRow, Filters, NewUser, ProjectInput
from tests import builders
from tests.integration.test_input_properties import fingerprint
from tests.xero_files import line, render

PAYLOADS = [
    "'; DROP TABLE milestone.projects; --",
    "Robert'); DELETE FROM milestone.estimates; --",
    "1' OR '1'='1",
    "<script>window.__pwned=1</script>",
    "<img src=x onerror=alert(1)>",
    "[click](https://evil.example)",
    '=HYPERLINK("https://evil.example","x")',
    "{{7*7}} ${7*7} %s",
]


@pytest.fixture(scope="module")
def ctx(database):
    seed.ensure_demo_users(database.owner)
    return {
        "db": database,
        "finance": users.get_user("finance"),
        "admin": users.get_user("admin"),
        "viewer": users.get_user("viewer"),
    }


@pytest.mark.parametrize("payload", PAYLOADS)
def test_payloads_are_stored_and_read_back_verbatim_everywhere(ctx, payload):
    tdb, finance = ctx["db"], ctx["finance"]
    values = ProjectInput(name=payload, client_name=payload).model_dump()
    pid = projects.create_project(finance, values)
    header = projects.project_header(pid)
    assert (header.name, header.client_name) == (payload, payload)
    row = EstimateRow(project_id=pid, kind="cost", description=payload, amount=Decimal("1.00"), date=date(2026, 1, 1))
    estimates.save_estimate_changes(EstimateChanges(inserts=[(None, row)]), finance)
    listed = estimates.list_estimates(Filters(project_ids=(pid,)))
    assert list(listed["description"]) == [payload]
    new = NewUser(username=f"u{abs(hash(payload)) % 10**8}", display_name=payload, role="viewer")
    users.add_user(ctx["admin"], new.username, new.display_name, new.role, "$2b$12$" + "a" * 53)
    assert users.get_user(new.username).display_name == payload
    preferences.save_view(finance, payload[:60], {"client": [payload]})
    assert preferences.preferences(finance.id).saved_views[payload[:60].strip()] == {"client": [payload]}
    # a filter made of the payload selects the project named by it, and nothing else
    table = projects_table = __import__("milestone.services.pnl", fromlist=["pnl"]).project_table(
        Filters(clients=(payload,))
    )
    assert set(projects_table["id"]) == {
        r["id"] for r in tdb.rows("SELECT id::text AS id FROM milestone.projects WHERE client_name = :c", c=payload)
    }
    assert len(table) >= 1
    # a CSV whose every text field is the payload
    data = render(
        [line(f"ATK-{abs(hash(payload)) % 10**8}", "", contact=payload, description=payload, Reference=payload)]
    )
    imports.import_file(data, payload + ".csv", finance, dry_run=False)
    assert tdb.scalar("SELECT count(*) FROM milestone.invoices WHERE contact = :c", c=payload) == 1
    assert tdb.scalar("SELECT count(*) FROM milestone.invoice_lines WHERE description = :c", c=payload) == 1
    assert tdb.scalar("SELECT count(*) FROM milestone.import_runs WHERE file_name = :c", c=payload + ".csv") == 1
    # and the tables are all still there
    assert tdb.scalar("SELECT count(*) FROM pg_tables WHERE schemaname = 'milestone'") >= 20


def test_pdf_reports_carry_hostile_text_literally(ctx):
    tdb = ctx["db"]
    name = "<script>alert(1)</script> '; DROP TABLE x; --"
    pid = builders.project(tdb, name, client="[click](https://evil.example)")
    builders.document(tdb, "invoices", pid, "100.00", "Paid")
    text = " ".join(p.extract_text() for p in PdfReader(io.BytesIO(reports.project_pdf(pid, ctx["admin"]))).pages)
    assert "<script>alert(1)</script>" in text and "DROP TABLE x" in text
    assert "[click](https://evil.example)" in text


def test_an_xlsx_export_has_no_formula_cells(ctx):
    from openpyxl import load_workbook

    tdb = ctx["db"]
    builders.project(tdb, '=HYPERLINK("https://evil.example","x")', client="+cmd|' /C calc'!A0")
    buf = io.BytesIO()
    exports.export("projects", EVERYTHING, "xlsx", buf, ctx["finance"])
    sheet = load_workbook(io.BytesIO(buf.getvalue())).active
    cells = [c for row in sheet.iter_rows() for c in row]
    assert not [c.coordinate for c in cells if c.data_type == "f"]
    assert any(c.value == '=HYPERLINK("https://evil.example","x")' for c in cells)  # kept as text


def _writes(ctx, who: User):
    pid = ctx["db"].scalar("SELECT id::text FROM milestone.projects LIMIT 1") or builders.project(ctx["db"], "Mine")
    row = EstimateRow(project_id=pid, kind="cost", description="Refused", amount=Decimal("1.00"), date=date(2026, 1, 1))
    return {
        "save estimates": lambda: estimates.save_estimate_changes(EstimateChanges(inserts=[(None, row)]), who),
        "create a project": lambda: projects.create_project(who, {"name": "No", "client_name": "No"}),
        "edit a project": lambda: projects.update_project(who, pid, 1, {"name": "No"}),
        "import a file": lambda: imports.import_file(render([line("REF-1", "")]), "x.csv", who, dry_run=False),
        "add a user": lambda: users.add_user(who, "nobody-new", "No", "admin", "$2b$12$" + "a" * 53),
        "change a role": lambda: users.update_user(who, "finance", role="admin"),
        "reset a password": lambda: users.set_password(who, "finance", "$2b$12$" + "b" * 53, must_change=True),
        "ask for a sync": lambda: sync.request_sync(who),
        "read the export log": lambda: exports.history(who),
    }


@pytest.mark.parametrize("role", ["viewer", "disabled finance", "disabled admin"])
def test_a_viewers_and_a_disabled_users_writes_are_refused_by_the_services(ctx, role, monkeypatch):
    monkeypatch.setenv("N8N_SYNC_WEBHOOK_URL", "http://127.0.0.1:9/never-called")  # the role check comes first
    tdb = ctx["db"]
    if role == "viewer":
        who = ctx["viewer"]
    else:
        base = ctx["finance"] if "finance" in role else ctx["admin"]
        who = User(base.id, base.username, base.display_name, base.email, base.role, True, False)
    tables = ("projects", "estimates", "invoices", "app_users", "import_runs", "sync_requests", "audit_log")
    tables += ("user_preferences",)
    writes = _writes(ctx, who)
    if role != "viewer":  # anyone signed in keeps views, favourites and their own password; not a disabled user
        writes |= {
            "save a view": lambda: preferences.save_view(who, "Mine", {}),
            "delete a view": lambda: preferences.delete_view(who, "Mine"),
            "favourite a project": lambda: preferences.set_favourite(who, writes_pid, True),
            "change their own password": lambda: users.set_password(
                who, who.username, "$2b$12$" + "c" * 53, must_change=False
            ),
        }
    writes_pid = tdb.scalar("SELECT id::text FROM milestone.projects LIMIT 1")
    before = fingerprint(tdb, tables)
    allowed = []
    for action, write in writes.items():
        try:
            write()
        except PermissionDenied as exc:
            assert "Not allowed" in str(exc) or "only an admin" in str(exc), exc
        else:
            allowed.append(action)
    assert allowed == []
    assert fingerprint(tdb, tables) == before


def test_the_websocket_without_a_session_is_refused_before_any_script_runs(ctx):
    """The app's websocket is refused at the handshake without a live session (a forged cookie
    likewise), so no page script runs and no data is sent; pages send the browser to /signin
    (tests/integration/test_signin_routes.py)."""
    from websockets.exceptions import InvalidStatus
    from websockets.sync.client import connect

    from bench.load import _get_xsrf_cookie
    from tests import serving

    proc, url = serving.serve(ctx["db"].url, "", None)
    try:
        base = url.rstrip("/")
        xsrf = _get_xsrf_cookie(base, 60, {})
        for cookie in ("", "; milestone_session=forged-" + "x" * 40):
            with pytest.raises(InvalidStatus) as refused:
                with connect(
                    base.replace("http", "ws", 1) + "/_stcore/stream",
                    subprotocols=["streamlit", xsrf or "PLACEHOLDER_AUTH_TOKEN"],
                    origin=base,
                    additional_headers={"Cookie": f"_streamlit_xsrf={xsrf}{cookie}"},
                    open_timeout=30,
                ) as ws:
                    ws.recv(timeout=10)  # never reached: no message of the app
            assert refused.value.response.status_code in (401, 403)
    finally:
        serving.stop(proc)

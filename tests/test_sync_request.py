"""'Ask n8n to sync now': disabled with a reason when unset, running or cooling down; requests recorded."""
import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from milestone import seed
from milestone.services import sync, users
from milestone.errors import PermissionDenied, SyncRefused
from tests.apptest import app_as


class Webhook:
    """A stand-in for n8n's Webhook node on a local port: records each POST, answers `status`."""

    def __init__(self):
        self.calls, self.status = [], 200
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's naming
                hook.calls.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
                self.send_response(hook.status)
                self.end_headers()
                self.wfile.write(b'{"message": "Workflow was started"}')

            def log_message(self, *args):
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/webhook/xero-sync"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture(scope="module")
def webhook():
    hook = Webhook()
    yield hook
    hook.server.shutdown()


@pytest.fixture()
def ctx(fresh_database, webhook, monkeypatch):
    seed.ensure_demo_users(fresh_database.owner)
    monkeypatch.setenv("N8N_SYNC_WEBHOOK_URL", webhook.url)
    webhook.calls.clear()
    webhook.status = 200
    return {"db": fresh_database, "admin": users.get_user("admin"),
            "finance": users.get_user("finance"), "hook": webhook}


def test_unset_url_disables_the_button_with_the_reason(ctx, monkeypatch):
    monkeypatch.delenv("N8N_SYNC_WEBHOOK_URL")
    allowed, reason = sync.availability()
    assert not allowed and "N8N_SYNC_WEBHOOK_URL" in reason
    with pytest.raises(SyncRefused, match="Not configured"):
        sync.request_sync(ctx["admin"])


def test_a_request_calls_the_webhook_then_the_cooldown_holds_for_ten_minutes(ctx):
    assert sync.availability() == (True, "")
    message = sync.request_sync(ctx["admin"])
    assert "Sync requested" in message
    assert ctx["hook"].calls == [{"source": "milestone", "request_id": 1, "requested_by": "admin"}]
    allowed, reason = sync.availability()
    assert not allowed and "admin asked for a sync at" in reason and "you can ask again at" in reason
    with pytest.raises(SyncRefused, match="the next one can be asked for"):
        sync.request_sync(ctx["admin"])
    assert len(ctx["hook"].calls) == 1
    ctx["db"].execute("UPDATE milestone.sync_requests SET requested_at = now() - interval '11 minutes'")
    assert sync.availability() == (True, "")
    assert ctx["db"].rows("SELECT status, http_status FROM milestone.sync_requests ORDER BY id") == [
        {"status": "sent", "http_status": 200}]


def test_a_running_sync_disables_the_button_until_it_is_two_hours_old(ctx):
    ctx["db"].execute("INSERT INTO milestone.sync_runs (status) VALUES ('RUNNING')")
    allowed, reason = sync.availability()
    assert not allowed and "A Xero sync is running" in reason
    with pytest.raises(SyncRefused, match="already running"):
        sync.request_sync(ctx["admin"])
    ctx["db"].execute("UPDATE milestone.sync_runs SET started_at = now() - interval '3 hours'")
    assert sync.availability()[0]  # a run stuck for hours has crashed


def test_a_failed_webhook_call_is_reported_and_does_not_start_the_cooldown(ctx, monkeypatch):
    ctx["hook"].status = 500
    with pytest.raises(SyncRefused, match="HTTP 500"):
        sync.request_sync(ctx["admin"])
    monkeypatch.setenv("N8N_SYNC_WEBHOOK_URL", "http://127.0.0.1:9/nothing-listens-here")
    with pytest.raises(SyncRefused, match="Could not reach n8n"):
        sync.request_sync(ctx["admin"])
    assert [r["status"] for r in ctx["db"].rows("SELECT status FROM milestone.sync_requests ORDER BY id")] == [
        "failed", "failed"]
    monkeypatch.setenv("N8N_SYNC_WEBHOOK_URL", ctx["hook"].url)
    assert sync.availability() == (True, "")


def test_only_admins_may_ask(ctx):
    with pytest.raises(PermissionDenied):
        sync.request_sync(ctx["finance"])
    assert ctx["hook"].calls == []


def test_the_import_page_shows_the_button_to_admins_only(ctx):
    at = app_as("admin").run()
    at.switch_page("views/import_xero.py").run()
    assert not at.exception
    button = at.button(key="sync_now")
    assert not button.disabled
    button.click().run()
    assert any("Sync requested" in s.value for s in at.success)
    assert at.button(key="sync_now").disabled
    assert any("you can ask again at" in c.value for c in at.caption)
    at = app_as("finance").run()
    at.switch_page("views/import_xero.py").run()
    assert not at.exception
    assert "Import from Xero" in [t.value for t in at.title]
    assert not [b for b in at.button if b.key == "sync_now"]


def test_viewers_do_not_get_the_import_page(ctx):
    at = app_as("viewer").run()
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        at.switch_page("views/import_xero.py")


def test_a_broken_url_is_reported_not_crashed_and_leaves_no_request_hanging(ctx, monkeypatch):
    monkeypatch.setenv("N8N_SYNC_WEBHOOK_URL", "http://127.0.0.1:99999/webhook")  # a port that cannot be
    with pytest.raises(SyncRefused, match="Could not reach n8n"):
        sync.request_sync(ctx["admin"])
    assert [r["status"] for r in ctx["db"].rows("SELECT status FROM milestone.sync_requests")] == ["failed"]
    monkeypatch.setenv("N8N_SYNC_WEBHOOK_URL", "n8n.example/webhook")  # not an http(s) URL
    allowed, reason = sync.availability()
    assert not allowed and reason.startswith("Misconfigured: N8N_SYNC_WEBHOOK_URL must be an http(s) URL")
    at = app_as("admin").run()
    at.switch_page("views/import_xero.py").run()
    assert not at.exception and at.button(key="sync_now").disabled

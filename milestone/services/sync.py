"""Ask the n8n Xero sync to run now: a POST to N8N_SYNC_WEBHOOK_URL (docs/xero-sync.md).

Allowed for admins when the URL is set, no sync is RUNNING, and nobody asked in the last
10 minutes. Each request is recorded in sync_requests; a failed call does not start the cooldown.
"""
from __future__ import annotations

import json
import urllib.error
import urllib.request

from milestone import config, db
from milestone.errors import SyncRefused
from milestone.services.access import ADMIN, require_role
from milestone.store import sync_requests
from milestone.store.users import User

COOLDOWN_S = 600
TIMEOUT_S = 10


def availability() -> tuple[bool, str]:
    """(may ask now, why not) for the button's state."""
    try:
        url = config.n8n_webhook_url()
    except config.ConfigError as exc:
        return False, f"Misconfigured: {exc}"
    if not url:
        return False, "Not configured: set N8N_SYNC_WEBHOOK_URL to the n8n webhook that starts the Xero sync."
    with db.snapshot() as conn:
        state = sync_requests.request_state(conn, COOLDOWN_S)
    if state.running_since:
        return False, f"A Xero sync is running (started {state.running_since.astimezone():%H:%M})."
    if state.next_allowed_at:
        return False, (f"{state.last_requested_by} asked for a sync at {state.last_requested_at.astimezone():%H:%M}; "
                       f"you can ask again at {state.next_allowed_at.astimezone():%H:%M}.")
    return True, ""


def request_sync(user: User) -> str:
    """Call the webhook; return what to tell the user, or raise SyncRefused saying why not."""
    try:
        url = config.n8n_webhook_url()
    except config.ConfigError as exc:
        raise SyncRefused(f"Misconfigured: {exc}") from None
    if not url:
        raise SyncRefused("Not configured: set N8N_SYNC_WEBHOOK_URL.")
    require_role(user, ADMIN, action="start a Xero sync")
    with db.transaction(user.username) as conn:
        request_id = sync_requests.begin_request(conn, user.username, COOLDOWN_S)
    body = json.dumps({"source": "milestone", "request_id": request_id, "requested_by": user.username}).encode()
    req = urllib.request.Request(url, data=body, method="POST", headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=TIMEOUT_S) as resp:  # noqa: S310 - an admin-configured http(s) URL
            status = resp.status
    except urllib.error.HTTPError as exc:
        _finish(request_id, False, exc.code, str(exc))
        raise SyncRefused(f"n8n refused the request (HTTP {exc.code}); check the workflow is active.") from None
    except Exception as exc:  # noqa: BLE001 - unreachable, timed out, bad URL or a broken reply: all "not sent"
        reason = getattr(exc, "reason", None) or exc
        _finish(request_id, False, None, f"{type(exc).__name__}: {reason}")
        raise SyncRefused(f"Could not reach n8n ({reason}); nothing was started. Try again later.") from None
    _finish(request_id, True, status, None)
    return "Sync requested: n8n accepted it. The “Xero data as of” time changes when the sync finishes."


def _finish(request_id: int, ok: bool, http_status: int | None, error: str | None) -> None:
    with db.transaction(None) as conn:
        sync_requests.finish_request(conn, request_id, ok, http_status, error)

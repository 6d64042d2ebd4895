"""Sign-in and sign-out as routes of Milestone's own ASGI server, and the gate in front of the app.

A Streamlit script cannot set an HttpOnly cookie, so the sign-in form is a small HTML page
served here: GET draws it, POST checks the password (services.users.authenticate: the lock-out
per username and per client address), opens a server-side session and sets its token in a
cookie that is `HttpOnly; SameSite=Strict; Path=<base path>` (and `Secure` outside local mode),
then redirects to the app. The form carries a CSRF token: an HMAC, keyed with the cookie key, of
a random nonce that is also set as a cookie (double submit, so no server state).

SessionGate, an ASGI middleware, sends page requests without a live session to the sign-in
page, refuses the app's websocket and Streamlit's upload route to them (uploads need an admin
or finance session), and guards /metrics and /_stcore/metrics with a bearer token.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import html
import ipaddress
import re
import secrets
from urllib.parse import parse_qs, quote

from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response

from milestone import config, db
from milestone.services import sessions, users
from milestone.services.sessions import COOKIE_NAME

CSRF_COOKIE = "milestone_csrf"
UPLOAD_ROLES = ("admin", "finance")  # the roles that may import (views: Import page)
_MAX_FORM_BYTES = 4096
MESSAGES = {
    "signed_out": "You have signed out.",
    "idle": "You were signed out after {idle} minutes without activity.",
    "expired": "Your session has ended. Sign in again.",
    "revoked": "You were signed out. Sign in again.",
    "disabled": "You were signed out. Sign in again.",
}


def base_path() -> str:
    return db.settings().base_path.rstrip("/")


def cookie_path() -> str:
    return base_path() or "/"


def _cookie(name: str, value: str, max_age: int) -> str:
    parts = [f"{name}={value}", f"Path={cookie_path()}", "HttpOnly", "SameSite=Strict", f"Max-Age={max_age}"]
    if not config.local_mode():
        parts.append("Secure")
    return "; ".join(parts)


def cookies_of(scope) -> dict[str, str]:
    """The request's cookies (the first of each name), from the raw header."""
    out: dict[str, str] = {}
    for key, value in scope.get("headers") or []:
        if key == b"cookie":
            for part in value.decode("latin-1").split(";"):
                name, _, val = part.strip().partition("=")
                out.setdefault(name, val)
    return out


def client_address(scope) -> str:
    """The client's address; behind a proxy on a private network, the last X-Forwarded-For hop
    (the one the proxy itself added)."""
    peer = (scope.get("client") or ("unknown", 0))[0]
    try:
        private = ipaddress.ip_address(peer).is_private
    except ValueError:
        private = False
    if private:
        for key, value in scope.get("headers") or []:
            if key == b"x-forwarded-for":
                hops = [h.strip() for h in value.decode("latin-1").split(",") if h.strip()]
                if hops:
                    return hops[-1][:64]
    return peer[:64]


def _is_loopback_direct(scope) -> bool:
    peer = (scope.get("client") or ("", 0))[0]
    try:
        loopback = ipaddress.ip_address(peer).is_loopback
    except ValueError:
        return False
    forwarded = any(k in (b"x-forwarded-for", b"forwarded", b"x-real-ip") for k, _ in scope.get("headers") or [])
    return loopback and not forwarded


# --------------------------------------------------------------------------- CSRF


def _csrf_for(nonce: str) -> str:
    return hmac.new(config.cookie_key().encode(), b"signin-csrf:" + nonce.encode(), hashlib.sha256).hexdigest()


def _csrf_ok(request: Request, submitted: str) -> bool:
    nonce = request.cookies.get(CSRF_COOKIE, "")
    return bool(nonce) and len(nonce) <= 64 and hmac.compare_digest(_csrf_for(nonce), submitted or "")


# --------------------------------------------------------------------------- pages


_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Milestone - Sign in</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body {{ font-family: system-ui, sans-serif; background: #f6f7f9; margin: 0; }}
main {{ max-width: 360px; margin: 12vh auto; background: #fff; padding: 2rem; border-radius: 8px;
       box-shadow: 0 1px 4px rgba(0,0,0,.12); }}
h1 {{ margin: 0 0 .25rem; font-size: 1.6rem; }} p.caption {{ color: #555; margin-top: 0; }}
label {{ display: block; margin: 1rem 0 .25rem; }}
input[type=text], input[type=password] {{ width: 100%; box-sizing: border-box; padding: .5rem; font-size: 1rem; }}
button {{ margin-top: 1.25rem; padding: .55rem 1.2rem; font-size: 1rem; background: #1565C0; color: #fff;
         border: 0; border-radius: 4px; cursor: pointer; }}
.note {{ background: #e8f0fe; padding: .6rem; border-radius: 4px; }}
.error {{ background: #fdecea; color: #8a1c1c; padding: .6rem; border-radius: 4px; }}
</style></head>
<body><main>
<h1>Milestone</h1>
<p class="caption">Project P&amp;L for the practice. Sign in to continue.</p>
{notice}
<form method="post" action="{action}" autocomplete="on">
<input type="hidden" name="csrf" value="{csrf}">
<label for="username">Username</label>
<input type="text" id="username" name="username" autocomplete="username" required value="{username}">
<label for="password">Password</label>
<input type="password" id="password" name="password" autocomplete="current-password" required>
<button type="submit">Sign in</button>
</form>
</main></body></html>
"""


_NONCE_RE = re.compile(r"[A-Za-z0-9_-]{32}")


def _signin_page(
    request: Request,
    note: str | None = None,
    error: str | None = None,
    username: str = "",
    status: int = 200,
    clear_session: bool = False,
) -> HTMLResponse:
    # Keep the browser's nonce while it is well-formed: a second tab (or a stray request that
    # lands here) must not invalidate the form already on screen.
    nonce = request.cookies.get(CSRF_COOKIE, "")
    if not _NONCE_RE.fullmatch(nonce):
        nonce = secrets.token_urlsafe(24)
    notice = ""
    if note:
        notice += f'<p class="note" role="status">{html.escape(note)}</p>'
    if error:
        notice += f'<p class="error" role="alert">{html.escape(error)}</p>'
    body = _PAGE.format(
        notice=notice,
        action=html.escape(f"{base_path()}/signin"),
        csrf=_csrf_for(nonce),
        username=html.escape(username),
    )
    resp = HTMLResponse(body, status_code=status, headers={"cache-control": "no-store"})
    resp.headers.append("set-cookie", _cookie(CSRF_COOKIE, nonce, 3600))
    if clear_session:
        resp.headers.append("set-cookie", _cookie(COOKIE_NAME, "", 0))
    return resp


def _to_app() -> RedirectResponse:
    return RedirectResponse(f"{base_path()}/", status_code=303, headers={"cache-control": "no-store"})


async def signin(request: Request) -> Response:
    if request.method == "GET":
        token = request.cookies.get(COOKIE_NAME)
        user, _ = await asyncio.to_thread(sessions.current, token)
        if user is not None:
            return _to_app()
        note = MESSAGES.get(request.query_params.get("m", ""), "").format(idle=config.idle_minutes()) or None
        return _signin_page(request, note, clear_session=token is not None)
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > _MAX_FORM_BYTES:
            return PlainTextResponse("Request too large.", status_code=413)
    form = {k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True).items()}
    username, password = form.get("username", "")[:200], form.get("password", "")
    if not _csrf_ok(request, form.get("csrf", "")):
        return _signin_page(request, error="The sign-in form expired. Try again.", username=username, status=400)
    if not username.strip() or not password:
        return _signin_page(request, error="Enter your username and password.", username=username, status=400)
    result = await asyncio.to_thread(users.authenticate, username, password, client_address(request.scope))
    if result.user is None:
        return _signin_page(request, error=result.message, username=username, status=401)
    token = await asyncio.to_thread(sessions.start, result.user.username, request.headers.get("user-agent"))
    resp = _to_app()
    resp.headers.append("set-cookie", _cookie(COOKIE_NAME, token, config.session_hours() * 3600))
    return resp


async def signout(request: Request) -> Response:
    """Revoke this browser's session and clear its cookie. A GET is enough: the cookie is
    SameSite=Strict, so another site cannot make a browser send it here."""
    await asyncio.to_thread(sessions.end, request.cookies.get(COOKIE_NAME))
    reason = request.query_params.get("m", "signed_out")
    target = f"{base_path()}/signin?m={quote(reason if reason in MESSAGES else 'signed_out')}"
    resp = RedirectResponse(target, status_code=303, headers={"cache-control": "no-store"})
    resp.headers.append("set-cookie", _cookie(COOKIE_NAME, "", 0))
    return resp


# --------------------------------------------------------------------------- the gate

# Paths (under the base path) that need no session: the sign-in routes, health, Streamlit's
# static bundle and health probe. Metrics have their own check.
_PUBLIC_EXACT = {
    "/signin",
    "/signout",
    "/health",
    "/_stcore/health",
    "/_stcore/host-config",
    "/favicon.png",
    "/manifest.json",
    "/robots.txt",
}
_PUBLIC_PREFIX = ("/static/",)
_METRICS = {"/metrics", "/_stcore/metrics"}


def metrics_allowed(scope) -> bool:
    token = config.metrics_token()
    if token:
        for key, value in scope.get("headers") or []:
            if key == b"authorization":
                return hmac.compare_digest(value.decode("latin-1"), f"Bearer {token}")
        return False
    return _is_loopback_direct(scope)


class SessionGate:
    """Nothing of the app is served to a browser without a live session (see the module doc)."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] not in ("http", "websocket"):
            return await self.app(scope, receive, send)
        base = base_path()
        path = scope["path"]
        rel = path[len(base) :] if base and path.startswith(base) else path
        rel = rel or "/"
        if rel in _METRICS:
            if metrics_allowed(scope):
                return await self.app(scope, receive, send)
            return await PlainTextResponse("Forbidden.", status_code=403)(scope, receive, send)
        if rel in _PUBLIC_EXACT or rel.startswith(_PUBLIC_PREFIX):
            return await self.app(scope, receive, send)
        user, why = await asyncio.to_thread(sessions.current, cookies_of(scope).get(COOKIE_NAME))
        if scope["type"] == "websocket":
            if user is None:
                await send({"type": "websocket.close", "code": 4401, "reason": "not signed in"})
                return
            return await self.app(scope, receive, send)
        if rel.startswith("/_stcore/upload_file"):
            if user is None or user.role not in UPLOAD_ROLES:  # refused before the body is read
                return await PlainTextResponse("Uploads need a signed-in admin or finance user.", status_code=403)(
                    scope, receive, send
                )
            length = dict(scope.get("headers") or []).get(b"content-length")
            if length and length.isdigit() and int(length) > config.import_max_bytes() + 1024 * 1024:
                return await PlainTextResponse("File too large.", status_code=413)(scope, receive, send)
            return await self.app(scope, receive, send)
        if user is None:
            headers = dict(scope.get("headers") or [])
            navigation = headers.get(b"sec-fetch-mode", b"navigate") == b"navigate" and b"text/html" in headers.get(
                b"accept", b"text/html"
            )
            if not navigation or rel.startswith(("/_stcore/", "/media/", "/component/", "/app/static/")):
                return await PlainTextResponse("Sign in first.", status_code=401)(scope, receive, send)
            target = f"{base}/signin" + (f"?m={why}" if why in MESSAGES else "")
            return await RedirectResponse(target, status_code=303, headers={"cache-control": "no-store"})(
                scope, receive, send
            )
        return await self.app(scope, receive, send)

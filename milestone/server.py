"""One ASGI server for Milestone: Streamlit's st.App plus /health and /metrics.

Served by uvicorn (`python -m milestone serve`). Everything, including /health and
/metrics, lives under MILESTONE_BASE_PATH when it is set.
"""
from __future__ import annotations

import asyncio
import os
import time

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from milestone import db, observability
from milestone.config import PROJECT_ROOT
from milestone.observability import ACTIVE_SESSIONS, HTTP_DURATION, HTTP_REQUESTS

VERSION = "0.1.0"


def base_path() -> str:
    return db.settings().base_path.rstrip("/")


async def health(request: Request) -> JSONResponse:
    """200 when `SELECT 1` answers within 2 s, else 503."""
    ok = await asyncio.to_thread(db.ping, 2.0)
    body = {"status": "ok" if ok else "unhealthy", "database": "ok" if ok else "unavailable",
            "version": VERSION, "uptime_s": round(observability.uptime_s(), 1)}
    return JSONResponse(body, status_code=200 if ok else 503)


async def metrics(request: Request) -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


class RequestMetrics:
    """Counts and times each HTTP request by route (the matched path, not the raw URL)."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] == "websocket":  # one open app websocket = one browser session
            ACTIVE_SESSIONS.inc()
            try:
                return await self.app(scope, receive, send)
            finally:
                ACTIVE_SESSIONS.dec()
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        route, status, start = _route_label(scope["path"]), 500, time.perf_counter()

        async def send_wrapper(message):
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            HTTP_REQUESTS.labels(route, str(status)).inc()
            HTTP_DURATION.labels(route).observe(time.perf_counter() - start)


def _route_label(path: str) -> str:
    """A bounded label set: known endpoints by name, everything else grouped."""
    rel = path[len(base_path()):] if path.startswith(base_path()) else path
    for known in ("/health", "/metrics", "/_stcore/stream", "/_stcore/health"):
        if rel == known:
            return known
    for prefix in ("/static/", "/_stcore/", "/media/", "/component/"):
        if rel.startswith(prefix):
            return prefix + "*"
    return "/page"


# Streamlit's frontend needs inline styles, eval-free scripts from self, data:/blob: images
# (plotly exports, media) and a websocket back to the same origin.
CSP = ("default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
       "img-src 'self' data: blob:; font-src 'self' data:; connect-src 'self' ws: wss:; "
       "worker-src 'self' blob:; frame-src 'self'; frame-ancestors 'self'; "
       "object-src 'none'; base-uri 'self'; form-action 'self'")
SECURITY_HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"SAMEORIGIN"),
    (b"referrer-policy", b"strict-origin-when-cross-origin"),
]
HSTS = (b"strict-transport-security", b"max-age=31536000; includeSubDomains")


class SecurityHeaders:
    """Adds the security headers to every HTTP response; HSTS only when the proxy says HTTPS."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers_in = dict(scope.get("headers") or [])
        https = headers_in.get(b"x-forwarded-proto", b"").split(b",")[0].strip() == b"https" \
            or scope.get("scheme") == "https"

        async def send_wrapper(message):
            if message["type"] == "http.response.start":
                present = {k.lower() for k, _ in message.get("headers", [])}
                extra = [h for h in SECURITY_HEADERS + ([HSTS] if https else []) if h[0] not in present]
                message = {**message, "headers": list(message.get("headers", [])) + extra}
            await send(message)

        await self.app(scope, receive, send_wrapper)




def create_app():
    import streamlit as st
    from streamlit import config

    from milestone import config as settings

    base = base_path()
    if base:
        config.set_option("server.baseUrlPath", base.strip("/"))
    config.set_option("server.enableXsrfProtection", True)
    config.set_option("server.enableStaticServing", False)
    config.set_option("server.headless", True)
    # One upload limit: the Import page's uploader, this server and the proxy (deploy/Caddyfile)
    # all take MILESTONE_IMPORT_MAX_MB (.streamlit/config.toml holds its default for other runners).
    config.set_option("server.maxUploadSize", settings.import_max_mb())
    routes = [Route(f"{base}/health", health), Route(f"{base}/metrics", metrics)]
    return st.App(str(PROJECT_ROOT / "app.py"), routes=routes,
                  middleware=[Middleware(SecurityHeaders), Middleware(RequestMetrics)], on_script_error=observability.report_error)


def serve(port: int = 8501, address: str = "127.0.0.1") -> int:
    import uvicorn

    os.chdir(PROJECT_ROOT)
    observability.setup_error_reporting()
    uvicorn.run(create_app(), host=address, port=port, log_level="warning", ws="auto")
    return 0

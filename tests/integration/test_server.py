"""The ASGI server: /health answers 200 or 503 with the database, /metrics, base path."""

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import sqlalchemy as sa

from milestone import db
from milestone.migrate import migrate
from tests import serving

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def _serve(db_url: str, base_path: str = ""):
    return serving.serve(db_url, base_path)


@pytest.fixture(scope="module")
def served(database):
    proc, url = _serve(database.url)
    yield url
    proc.terminate()
    proc.wait(10)


def test_health_is_200_with_the_database_up(served):
    status, body = _get(f"{served}/health")
    assert status == 200
    data = json.loads(body)
    assert data["status"] == "ok" and data["database"] == "ok"
    assert set(data) == {"status", "database", "version", "uptime_s"}


def test_metrics_expose_request_series(served):
    _get(f"{served}/health")
    status, body = _get(f"{served}/metrics")
    assert status == 200
    assert 'milestone_http_requests_total{route="/health",status="200"}' in body
    assert "milestone_http_request_duration_seconds_bucket" in body
    assert "milestone_errors_total" in body


def test_the_app_page_is_served(served):
    status, body = _get(f"{served}/")
    assert status == 200 and "<html" in body.lower()


def test_health_cli_exits_non_zero_when_unreachable():
    with socket.socket() as held:  # bound but not listening: nothing (no other worker's server) answers there
        held.bind(("127.0.0.1", 0))
        port = held.getsockname()[1]
        res = subprocess.run(
            [sys.executable, "-m", "milestone", "health", "--url", f"http://127.0.0.1:{port}/health"],
            cwd=PROJECT_ROOT,
            capture_output=True,
            text=True,
        )
    assert res.returncode == 1 and "did not answer" in res.stderr


def test_health_cli_exits_zero_when_healthy(served):
    res = subprocess.run(
        [sys.executable, "-m", "milestone", "health", "--url", f"{served}/health"],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
    )
    assert res.returncode == 0, res.stderr


def test_everything_lives_under_the_base_path(database):
    proc, url = _serve(database.url, "/milestone-app")
    try:
        assert _get(f"{url}/health")[0] == 200
        assert _get(f"{url}/metrics")[0] == 200
        assert _get(f"{url}/_stcore/health")[0] == 200
        assert _get(f"{url}/")[0] == 200
        root = url[: -len("/milestone-app")]
        assert _get(f"{root}/health")[0] == 404
    finally:
        proc.terminate()
        proc.wait(10)


def test_health_follows_the_database_down_and_back_up():
    tmp = Path(tempfile.mkdtemp(prefix="ms-health-"))
    srv = db.EmbeddedServer(tmp)
    srv.start()
    proc = None
    try:
        migrate(sa.create_engine(srv.url(), poolclass=sa.NullPool))
        proc, url = _serve(srv.url())
        assert _get(f"{url}/health")[0] == 200
        srv.stop()
        status, body = _get(f"{url}/health")
        assert status == 503 and json.loads(body)["database"] == "unavailable"
        srv.start()
        assert _get(f"{url}/health")[0] == 200
    finally:
        if proc:
            proc.terminate()
            proc.wait(10)
        srv.stop()
        shutil.rmtree(tmp, ignore_errors=True)


def test_security_headers_are_set(served):
    with urllib.request.urlopen(f"{served}/", timeout=10) as r:
        h = r.headers
    assert "frame-ancestors 'self'" in h["Content-Security-Policy"]
    assert h["X-Content-Type-Options"] == "nosniff"
    assert h["X-Frame-Options"] == "SAMEORIGIN"
    assert h["Referrer-Policy"] == "strict-origin-when-cross-origin"
    assert "Strict-Transport-Security" not in h
    req = urllib.request.Request(f"{served}/health", headers={"X-Forwarded-Proto": "https"})
    with urllib.request.urlopen(req, timeout=10) as r:
        assert r.headers["Strict-Transport-Security"].startswith("max-age=")


def test_no_source_or_directory_listing(served):
    for path in ("/app.py", "/milestone/", "/milestone/db.py", "/.env", "/static/", "/app/static/"):
        status, body = _get(f"{served}{path}")
        assert "import streamlit" not in body and "DATABASE_URL" not in body, path
        assert "Index of" not in body, path


def test_serve_refuses_a_default_cookie_key_outside_local_mode():
    env = {k: v for k, v in os.environ.items() if k != "MILESTONE_LOCAL"}
    env["MILESTONE_COOKIE_KEY"] = "change-me"
    res = subprocess.run(
        [sys.executable, "-m", "milestone", "serve", "--port", str(serving.free_port())],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert res.returncode == 1 and "MILESTONE_COOKIE_KEY" in res.stderr


def test_metrics_name_every_series(served):
    _get(f"{served}/")
    body = _get(f"{served}/metrics")[1]
    for series in (
        "milestone_http_requests_total",
        "milestone_http_request_duration_seconds",
        "milestone_page_render_seconds",
        "milestone_db_query_seconds",
        "milestone_errors_total",
        "milestone_active_sessions",
        "milestone_db_pool_in_use",
        "process_resident_memory_bytes",
        "process_cpu_seconds_total",
    ):
        assert f"# TYPE {series}" in body, series


def test_db_queries_are_timed_by_store_statement_name(database):
    from milestone import observability
    from milestone.services import users

    users.get_user("nobody")
    samples = {s.labels.get("statement") for m in observability.DB_QUERY.collect() for s in m.samples}
    assert "users.get_user" in samples


@pytest.mark.parametrize(
    "name, value",
    [
        ("MILESTONE_WRITES_PER_MINUTE", "ten"),
        ("MILESTONE_IMPORT_MAX_MB", "40.5"),
        ("MILESTONE_IDLE_MINUTES", "0"),
        ("MILESTONE_LOG_LEVEL", "LOUD"),
        ("MILESTONE_BASE_CURRENCY", "pounds"),
        ("SENTRY_DSN", "not-a-dsn"),
    ],
)
def test_serve_refuses_a_bad_setting_and_names_it(name, value):
    env = {**os.environ, "MILESTONE_LOCAL": "1", name: value}
    res = subprocess.run(
        [sys.executable, "-m", "milestone", "serve", "--port", "1"],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert res.returncode == 1
    assert name in res.stderr and "Traceback" not in res.stderr

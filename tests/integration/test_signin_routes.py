"""The server's own sign-in routes and gate, attacked over HTTP: cookies, CSRF, uploads, metrics."""

import http.client
import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlencode

import psutil
import pytest

from milestone import seed

PROJECT_ROOT = Path(__file__).resolve().parents[2]
METRICS_TOKEN = "metrics-token-for-the-tests-0123456789"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serve(db_url: str, base_path: str = "", **env_extra):
    port = _free_port()
    env = {**os.environ, "DATABASE_URL": db_url, "MILESTONE_LOCAL": "1", "MILESTONE_BASE_PATH": base_path, **env_extra}
    (PROJECT_ROOT / "test-artifacts").mkdir(exist_ok=True)
    log = open(PROJECT_ROOT / "test-artifacts" / f"server-{port}.log", "w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "milestone", "serve", "--port", str(port)],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    for _ in range(300):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return proc, port
        except OSError:
            if proc.poll() is not None:
                break
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError(f"server did not start; see test-artifacts/server-{port}.log")


class Client:
    """A tiny cookie-keeping HTTP client that never follows redirects."""

    def __init__(self, port: int, base: str = ""):
        self.port, self.base, self.cookies = port, base, {}

    def request(self, method: str, path: str, body: bytes | None = None, headers: dict | None = None):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        h = {"Host": f"127.0.0.1:{self.port}", **(headers or {})}
        if self.cookies:
            h["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        conn.request(method, self.base + path, body=body, headers=h)
        resp = conn.getresponse()
        data = resp.read().decode("utf-8", "replace")
        set_cookies = resp.headers.get_all("set-cookie") or []
        for sc in set_cookies:
            name, _, rest = sc.partition("=")
            value = rest.split(";", 1)[0]
            if "Max-Age=0" in sc:
                self.cookies.pop(name, None)
            else:
                self.cookies[name] = value
        conn.close()
        return resp.status, resp.headers, data, set_cookies

    def sign_in(self, username: str, password: str):
        status, _, page, _ = self.request("GET", "/signin")
        assert status == 200, page
        csrf = re.search(r'name="csrf" value="([0-9a-f]+)"', page).group(1)
        body = urlencode({"csrf": csrf, "username": username, "password": password}).encode()
        return self.request("POST", "/signin", body, {"Content-Type": "application/x-www-form-urlencoded"})


@pytest.fixture(scope="module")
def passwords(database):
    return seed.ensure_demo_users(database.owner)


@pytest.fixture(scope="module")
def port(database, passwords):
    proc, port = _serve(database.url)
    yield port
    proc.terminate()
    proc.wait(10)


def test_pages_without_a_session_go_to_the_sign_in_page(port):
    for path in ("/", "/project", "/users", "/import"):
        status, headers, _, _ = Client(port).request("GET", path)
        assert status == 303 and headers["location"] == "/signin", path
    status, _, page, _ = Client(port).request("GET", "/signin")
    assert status == 200 and 'name="password"' in page and 'action="/signin"' in page


def test_sign_in_sets_an_httponly_strict_cookie_and_opens_the_app(port, passwords):
    c = Client(port)
    status, headers, _, set_cookies = c.sign_in("finance", passwords["finance"])
    assert status == 303 and headers["location"] == "/"
    session = [sc for sc in set_cookies if sc.startswith("milestone_session=")][0]
    flags = {f.strip().split("=")[0].lower() for f in session.split(";")[1:]}
    assert {"httponly", "samesite", "path", "max-age"} <= flags and "SameSite=Strict" in session
    assert "Path=/;" in session + ";" and "Secure" not in session  # local mode: plain http
    assert c.request("GET", "/")[0] == 200


def test_the_cookie_is_secure_outside_local_mode(monkeypatch):
    from milestone import signin

    monkeypatch.delenv("MILESTONE_LOCAL", raising=False)
    assert "; Secure" in signin._cookie("milestone_session", "x", 60)
    monkeypatch.setenv("MILESTONE_LOCAL", "1")
    assert "Secure" not in signin._cookie("milestone_session", "x", 60)


def test_a_post_without_the_forms_csrf_token_is_refused(port, passwords):
    c = Client(port)
    c.request("GET", "/signin")  # has the nonce cookie, but forges the field
    body = urlencode({"csrf": "0" * 64, "username": "admin", "password": passwords["admin"]}).encode()
    status, _, page, set_cookies = c.request(
        "POST", "/signin", body, {"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert status == 400 and not any(sc.startswith("milestone_session=") for sc in set_cookies)
    fresh = Client(port)  # a cross-site form: no nonce cookie at all
    status, _, _, _ = fresh.request("POST", "/signin", body, {"Content-Type": "application/x-www-form-urlencoded"})
    assert status == 400


def test_wrong_passwords_get_the_plain_message_and_no_session(port):
    c = Client(port)
    status, _, page, set_cookies = c.sign_in("viewer", "not the password")
    assert status == 401 and "Username or password is incorrect." in page
    assert not any(sc.startswith("milestone_session=") for sc in set_cookies)


@pytest.mark.parametrize(
    "cookie",
    [
        "garbage",
        "a" * 43,
        "eyJhbGciOiJub25lIn0.eyJ1c2VybmFtZSI6ImFkbWluIn0.",
        "eyJhbGciOiJIUzUxMiIsImtpZCI6N30.eyJ1c2VybmFtZSI6ImFkbWluIn0.c2ln",
        "x" * 3000,
    ],
)
def test_a_forged_cookie_lands_on_the_sign_in_form(port, cookie):
    c = Client(port)
    c.cookies["milestone_session"] = cookie
    status, headers, _, _ = c.request("GET", "/")
    assert status == 303 and headers["location"].startswith("/signin")
    status, _, page, _ = c.request("GET", "/signin")
    assert status == 200 and 'name="password"' in page and "Traceback" not in page


def test_sign_out_revokes_the_session_even_for_a_copied_cookie(port, passwords):
    c = Client(port)
    c.sign_in("priya", passwords["priya"])
    stolen = dict(c.cookies)
    assert c.request("GET", "/")[0] == 200
    status, headers, _, _ = c.request("GET", "/signout")
    assert status == 303 and "m=signed_out" in headers["location"]
    thief = Client(port)
    thief.cookies.update(stolen)
    assert thief.request("GET", "/")[0] == 303


def _rss(pid: int) -> int:
    return psutil.Process(pid).memory_info().rss


def _upload(port: int, cookies: dict, size: int) -> int:
    """POST a multipart body of `size` bytes to Streamlit's upload route; the status, or 0 when
    the server closed the connection before the body was sent."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    head = (
        f"PUT /_stcore/upload_file/session/file HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"Content-Type: multipart/form-data; boundary=xx\r\nContent-Length: {size}\r\n"
        + (f"Cookie: {'; '.join(f'{k}={v}' for k, v in cookies.items())}\r\n" if cookies else "")
        + "\r\n"
    ).encode()
    sock.sendall(head)
    chunk = b"a" * (1 << 20)
    try:
        for _ in range(size >> 20):
            sock.sendall(chunk)
    except OSError:
        pass
    try:
        line = sock.makefile("rb").readline().decode()
        return int(line.split()[1]) if line else 0
    except (OSError, IndexError, ValueError):
        return 0
    finally:
        sock.close()


def test_uploads_need_an_admin_or_finance_session_and_memory_does_not_grow(database, passwords):
    proc, port = _serve(database.url)
    try:
        from milestone.services import sessions

        viewer = {"milestone_session": sessions.start("viewer")}  # (signed in like the route does)
        finance = {"milestone_session": sessions.start("finance")}
        Client(port).request("GET", "/signin")  # warm up
        before = _rss(proc.pid)
        for _ in range(6):
            assert _upload(port, {}, 59 << 20) in (403, 0)
        assert _upload(port, {"milestone_session": "forged" * 8}, 10 << 20) in (403, 0)
        assert _upload(port, viewer, 10 << 20) in (403, 0)
        grown = _rss(proc.pid) - before
        assert grown < 30 << 20, f"the server grew by {grown >> 20} MiB"
        # finance passes the gate (Streamlit itself then checks its XSRF token and the file); a viewer does not
        assert _refused_by_the_gate(port, viewer) and not _refused_by_the_gate(port, finance)
        # and the size limit is the import limit: more than it is refused before the body is read
        assert _upload(port, finance, 200 << 20) in (413, 0)
    finally:
        proc.terminate()
        proc.wait(10)


def _refused_by_the_gate(port, cookies) -> bool:
    c = Client(port)
    c.cookies.update(cookies)
    _, _, body, _ = c.request(
        "PUT", "/_stcore/upload_file/s/f", b"--xx--", {"Content-Type": "multipart/form-data; boundary=xx"}
    )
    return "need a signed-in admin or finance" in body


def test_metrics_need_the_token_or_a_direct_loopback_client(database):
    proc, port = _serve(database.url, MILESTONE_METRICS_TOKEN=METRICS_TOKEN)
    try:
        c = Client(port)
        for path in ("/metrics", "/_stcore/metrics"):
            assert c.request("GET", path)[0] == 403, path
            assert c.request("GET", path, headers={"Authorization": "Bearer wrong"})[0] == 403, path
            status, _, body, _ = c.request("GET", path, headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
            assert status == 200, path
    finally:
        proc.terminate()
        proc.wait(10)


def test_without_a_token_metrics_are_refused_through_a_proxy(port):
    c = Client(port)
    assert c.request("GET", "/metrics")[0] == 200  # the machine itself (monitoring on localhost)
    for path in ("/metrics", "/_stcore/metrics"):
        assert c.request("GET", path, headers={"X-Forwarded-For": "203.0.113.7"})[0] == 403, path


def test_the_csp_allows_only_this_origins_websocket(port):
    _, headers, _, _ = Client(port).request("GET", "/signin")
    csp = headers["content-security-policy"]
    connect = re.search(r"connect-src ([^;]*)", csp).group(1).split()
    assert connect == ["'self'", f"ws://127.0.0.1:{port}/_stcore/stream", f"wss://127.0.0.1:{port}/_stcore/stream"]
    _, headers, _, _ = Client(port).request("GET", "/signin", headers={"Host": 'evil.example"; script-src *'})
    assert re.search(r"connect-src ([^;]*)", headers["content-security-policy"]).group(1).split() == ["'self'"]


def test_the_sign_in_route_throttles_one_address_guessing_many_usernames(fresh_database):
    from milestone.services.users import ADDRESS_FAILURES

    seed.ensure_demo_users(fresh_database.owner)
    proc, port = _serve(fresh_database.url)
    try:
        c = Client(port)
        pages = [c.sign_in(f"guess{i}", "wrong")[2] for i in range(ADDRESS_FAILURES + 2)]
        assert all("Username or password is incorrect." in p for p in pages[:ADDRESS_FAILURES])
        assert all("Too many failed sign-ins from this network" in p for p in pages[ADDRESS_FAILURES:])
        assert fresh_database.scalar("SELECT count(DISTINCT address) FROM milestone.login_events") == 1
    finally:
        proc.terminate()
        proc.wait(10)


@pytest.mark.parametrize(
    "change, reason",
    [
        ("expires_at = now() - interval '1 second'", "expired"),
        ("idle_expires_at = now() - interval '1 second'", "idle"),
        ("revoked_at = now()", "revoked"),
    ],
)
def test_an_expired_idle_or_revoked_session_lands_on_the_sign_in_form(database, port, change, reason):
    import hashlib

    from milestone.services import sessions

    token = sessions.start("finance")
    c = Client(port)
    c.cookies["milestone_session"] = token
    assert c.request("GET", "/")[0] == 200
    database.execute(
        f"UPDATE milestone.sessions SET {change} WHERE token_hash = :h", h=hashlib.sha256(token.encode()).digest()
    )
    status, headers, _, _ = c.request("GET", "/")
    assert status == 303 and headers["location"] == f"/signin?m={reason}"
    status, _, page, set_cookies = c.request("GET", headers["location"])
    assert status == 200 and 'name="password"' in page
    assert any(sc.startswith("milestone_session=;") and "Max-Age=0" in sc for sc in set_cookies)  # cleared

"""Load benchmark: N simulated browsers against the real server, speaking Streamlit's protocol.

    .venv/bin/python bench/load.py --users 1,10,25,50 --scale 1 --seconds 60
    make bench-load LOAD_USERS=1,10,25,50 LOAD_SCALE=1 LOAD_SECONDS=60

It seeds a private embedded PostgreSQL at --scale (bench/common.py), starts
`python -m milestone serve` on a free 127.0.0.1 port against it, then for each N in --users
runs N simulated users for --seconds and reports rerun times, errors, bytes per rerun and the
server's CPU and memory. Everything stays on loopback and stops by itself: the users sign in
over --ramp seconds, the measured window opens when all have signed in and lasts --seconds, and
a rerun still running after that has at most --timeout seconds; the server and the database are
removed at the end. One server serves all the N values in turn (after one warm-up sign-in), so
its caches are warm as in use; every N starts with fresh sessions.

Each user does what a browser does:
GET the page and /_stcore/health (which sets the `_streamlit_xsrf` cookie), open the websocket
/_stcore/stream with the subprotocols ["streamlit", <xsrf token>] and that cookie, then exchange
protobufs: it sends BackMsg.rerun_script (a ClientState: query string, page script hash,
widget states, cached message hashes, context) and reads ForwardMsgs (new_session, deltas,
page_info_changed, navigation, script_finished ...) until script_finished. It signs in through
the real form (the Username/Password text inputs and the "Sign in" submit button, by the widget
ids the server sent), lands on the Dashboard, then every 2-5 s (seeded) changes the Period
selectbox or the Clients multiselect and sends a rerun with the new widget state. A rerun
counts only when script_finished (FINISHED_SUCCESSFULLY) arrives and that run drew the KPI
cards (a metric labelled "Revenue"); an exception element, an error alert or a lost connection
is an error.
"""

from __future__ import annotations

import argparse
import asyncio
import html
import json
import math
import os
import platform
import random
import re
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any

import psutil
from streamlit.proto.Alert_pb2 import Alert
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ClientState_pb2 import ClientState
from streamlit.proto.Element_pb2 import Element
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from streamlit.proto.WidgetStates_pb2 import WidgetState
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed
from websockets.typing import Origin, Subprotocol

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
KPI_LABEL = "Revenue"  # one of the Dashboard's KPI cards (milestone.metrics.Totals.kpis)
PERIOD_LABEL, CLIENTS_LABEL = "Period", "Clients"  # the sidebar filters (milestone/ui/filters.py)
SKIP_PERIODS = {"Custom"}  # needs a date range input; the presets are what people click
FINISHED = ForwardMsg.ScriptFinishedStatus


# ---------------------------------------------------------------- one simulated browser


class Disconnected(Exception):
    """The websocket closed while the user still expected messages."""


@dataclass
class Run:
    """What one script run sent: its elements by delta path, widgets and problems."""

    elements: dict[tuple[int, ...], Element] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)  # ref_hash messages not in the cache

    def widgets(self) -> dict[str, tuple[str, Any]]:
        """label -> (kind, proto) of every widget drawn in this run."""
        out: dict[str, tuple[str, Any]] = {}
        for el in self.elements.values():
            kind = el.WhichOneof("type")
            proto = getattr(el, kind) if kind else None
            if proto is not None and getattr(proto, "id", "") and hasattr(proto, "label"):
                out.setdefault(proto.label, (kind, proto))
        return out

    def metric_labels(self) -> set[str]:
        return {el.metric.label for el in self.elements.values() if el.WhichOneof("type") == "metric"}

    def problems(self) -> list[str]:
        found = [f"cached message {h} was not in the cache" for h in self.missing]
        for el in self.elements.values():
            kind = el.WhichOneof("type")
            if kind == "exception":
                found.append(f"exception: {el.exception.type}: {el.exception.message}"[:300])
            elif kind == "alert" and el.alert.format == Alert.ERROR:
                found.append(f"error alert: {el.alert.body}"[:300])
        return found


@dataclass
class Outcome:
    seconds: float
    bytes: int  # ForwardMsg bytes received (large elements the browser had come as references)
    messages: int
    status: str  # "ok", "no_kpi", "error", "timeout"
    detail: str = ""
    full_bytes: int = 0  # the run's ForwardMsgs at full size, as a browser without the cache gets them


async def _ws_connect(url: str, **kwargs: Any) -> ClientConnection:
    try:
        return await connect(url, **kwargs)
    except (TimeoutError, OSError) as exc:
        raise OSError(f"websocket {url} did not open: {exc!r}") from None


class Browser:
    """One user's tab: a websocket session, the browser's message cache and widget values."""

    def __init__(self, port: int, name: str, timeout: float):
        self.port, self.name, self.timeout = port, name, timeout
        self.ws: ClientConnection | None = None
        self.reader: asyncio.Task | None = None
        self.run = Run()
        self.finished: asyncio.Queue[int | None] = asyncio.Queue()
        self.query_string = ""
        self.page_script_hash = ""
        self.received_bytes = self.received_msgs = 0
        self.full_bytes = 0  # the same with each cache reference counted at its message's size
        # the frontend's ForwardMsg cache: hash -> (message, script runs since last used)
        self.cache: dict[str, list] = {}
        self.max_cache_age = 2
        self.closed_reason: str | None = None
        self.signed_in_over_http = False
        self.pages: dict[str, str] = {}  # page name -> script hash, from the navigation message

    # -- connection
    async def open(self, username: str, password: str) -> None:
        """Get the cookies a browser has before the app's websocket opens: the XSRF cookie, and
        the session cookie when the server signs people in on its own HTML page (/signin)."""
        base = f"http://127.0.0.1:{self.port}"
        cookies = await asyncio.to_thread(_http_sign_in, base, username, password, self.timeout)
        self.signed_in_over_http = bool(cookies)
        xsrf = await asyncio.to_thread(_get_xsrf_cookie, base, self.timeout, cookies)
        if xsrf:
            cookies["_streamlit_xsrf"] = xsrf
        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in cookies.items())} if cookies else {}
        self.ws = await _ws_connect(
            f"ws://127.0.0.1:{self.port}/_stcore/stream",
            subprotocols=[Subprotocol("streamlit"), Subprotocol(xsrf or "PLACEHOLDER_AUTH_TOKEN")],
            origin=Origin(base),
            additional_headers=headers,
            max_size=None,
            ping_interval=None,  # browsers send no websocket pings; the server's are answered
            open_timeout=self.timeout,
            user_agent_header="milestone-bench-load",
        )
        self.reader = asyncio.create_task(self._read(), name=f"read-{self.name}")

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()
        if self.reader is not None:
            self.reader.cancel()
            try:
                await self.reader
            except (asyncio.CancelledError, Exception):  # noqa: BLE001 - closing anyway
                pass

    async def _read(self) -> None:
        assert self.ws is not None
        try:
            async for raw in self.ws:
                if isinstance(raw, str):
                    continue
                self.received_bytes += len(raw)
                self.received_msgs += 1
                msg = ForwardMsg()
                msg.ParseFromString(raw)
                self.full_bytes += len(raw)
                self._handle(msg, len(raw))
        except ConnectionClosed as exc:
            self.closed_reason = f"websocket closed: {exc}"
        except Exception as exc:  # noqa: BLE001 - reported as a disconnect with its reason
            self.closed_reason = f"reader failed: {exc!r}"
        else:
            self.closed_reason = "websocket closed by the server"
        self.finished.put_nowait(None)

    def _handle(self, msg: ForwardMsg, size: int) -> None:
        kind = msg.WhichOneof("type")
        if kind == "ref_hash":  # a large element the browser said it had: take it from the cache
            cached = self.cache.get(msg.ref_hash)
            if cached is None:
                self.run.missing.append(msg.ref_hash)
                return
            cached[1] = 0
            self.full_bytes += cached[2] - size
            full = ForwardMsg()
            full.CopyFrom(cached[0])
            full.metadata.CopyFrom(msg.metadata)
            msg, kind = full, "delta"
        elif msg.metadata.cacheable and msg.hash:
            self.cache[msg.hash] = [msg, 0, size]
        if kind == "new_session":
            self.run = Run()
            if msg.new_session.HasField("initialize"):
                self.max_cache_age = msg.new_session.config.max_cached_message_age or 2
            if msg.new_session.page_script_hash:
                self.page_script_hash = msg.new_session.page_script_hash
        elif kind == "delta":
            delta = msg.delta.WhichOneof("type")
            if delta in ("new_element", "add_block"):  # replaces what was at this path, children too
                path = tuple(msg.metadata.delta_path)
                if any(len(k) > len(path) and k[: len(path)] == path for k in self.run.elements):
                    self.run.elements = {k: v for k, v in self.run.elements.items() if k[: len(path)] != path}
                if delta == "new_element":
                    self.run.elements[path] = msg.delta.new_element
        elif kind == "page_info_changed":
            self.query_string = msg.page_info_changed.query_string
        elif kind == "navigation":
            self.page_script_hash = msg.navigation.page_script_hash
            self.pages = {p.page_name: p.page_script_hash for p in msg.navigation.app_pages}
        elif kind == "script_finished":
            if msg.script_finished in (FINISHED.FINISHED_SUCCESSFULLY, FINISHED.FINISHED_WITH_COMPILE_ERROR):
                for entry in self.cache.values():  # age the cache as the frontend does
                    entry[1] += 1
                self.cache = {h: e for h, e in self.cache.items() if e[1] <= self.max_cache_age}
            self.finished.put_nowait(msg.script_finished)

    # -- one rerun
    async def rerun(self, widgets: list[WidgetState]) -> Outcome:
        """Send rerun_script with these widget states; wait for the run to finish successfully."""
        if self.closed_reason:
            raise Disconnected(self.closed_reason)
        assert self.ws is not None
        while not self.finished.empty():
            self.finished.get_nowait()
        state = ClientState(
            query_string=self.query_string,
            page_script_hash=self.page_script_hash,
            page_name="",
            cached_message_hashes=sorted(self.cache),
        )
        state.widget_states.widgets.extend(widgets)
        state.context_info.timezone = "Europe/London"
        state.context_info.timezone_offset = 0
        state.context_info.locale = "en-GB"
        state.context_info.url = f"http://127.0.0.1:{self.port}/"
        state.context_info.color_scheme = "light"
        back = BackMsg()
        back.rerun_script.CopyFrom(state)
        bytes0, msgs0, full0 = self.received_bytes, self.received_msgs, self.full_bytes
        t0 = time.perf_counter()

        def outcome(status: str, detail: str = "") -> Outcome:
            return Outcome(
                time.perf_counter() - t0,
                self.received_bytes - bytes0,
                self.received_msgs - msgs0,
                status,
                detail,
                self.full_bytes - full0,
            )

        try:
            await self.ws.send(back.SerializeToString())
        except ConnectionClosed as exc:
            raise Disconnected(f"websocket closed: {exc}") from None
        deadline = t0 + self.timeout
        while True:
            remaining = deadline - time.perf_counter()
            if remaining <= 0:
                return outcome("timeout", f"no script_finished within {self.timeout:.0f} s")
            try:
                status = await asyncio.wait_for(self.finished.get(), remaining)
            except TimeoutError:
                continue
            if status is None:
                raise Disconnected(self.closed_reason or "websocket closed")
            if status == FINISHED.FINISHED_EARLY_FOR_RERUN:  # st.rerun() in the script: wait for the next
                continue
            if status != FINISHED.FINISHED_SUCCESSFULLY:
                return outcome("error", f"script finished with status {FINISHED.Name(status)}")
            problems = self.run.problems()
            if problems:
                return outcome("error", "; ".join(problems))
            return outcome("ok" if KPI_LABEL in self.run.metric_labels() else "no_kpi")

    # -- what a person does
    async def sign_in(self, username: str, password: str) -> Outcome:
        first = await self.rerun([])  # the page load: the sign-in form, or the Dashboard when signed in
        if first.status == "error" or (self.signed_in_over_http and first.status == "ok"):
            return first
        if self.signed_in_over_http:
            first.status, first.detail = "error", f"signed in over HTTP but no KPI cards ({sorted(self.run.widgets())})"
            return first
        w = self.run.widgets()
        if "Username" not in w or "Password" not in w or "Sign in" not in w:
            first.status, first.detail = "error", f"no sign-in form on the first run (widgets: {sorted(w)})"
            return first
        submit = [
            _string(w["Username"][1].id, username),
            _string(w["Password"][1].id, password),
            _trigger(w["Sign in"][1].id),
        ]
        out = await self.rerun(submit)
        if out.status == "no_kpi":  # signed in on a run that still drew the form page: open the Dashboard
            out = _plus(out, await self.rerun([]))
        if out.status == "no_kpi":
            out.status, out.detail = "error", f"signed in but no KPI cards (widgets: {sorted(self.run.widgets())})"
        return _plus(first, out)


def _plus(a: Outcome, b: Outcome) -> Outcome:
    """Two runs as one step; the status is the later run's."""
    return Outcome(
        a.seconds + b.seconds,
        a.bytes + b.bytes,
        a.messages + b.messages,
        b.status,
        b.detail,
        a.full_bytes + b.full_bytes,
    )


def _selected(selectbox: Any) -> str | None:
    """The option a selectbox shows on its first draw (its default index)."""
    if selectbox.raw_value:
        return selectbox.raw_value
    if selectbox.HasField("default") and 0 <= selectbox.default < len(selectbox.options):
        return selectbox.options[selectbox.default]
    return None


def _string(widget_id: str, value: str) -> WidgetState:
    return WidgetState(id=widget_id, string_value=value)


def _trigger(widget_id: str) -> WidgetState:
    return WidgetState(id=widget_id, trigger_value=True)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):  # keep the 303 and its Set-Cookie
        return None


def _set_cookies(headers) -> dict[str, str]:
    out = {}
    for header in headers.get_all("Set-Cookie") or []:
        jar = SimpleCookie()
        jar.load(header)
        out.update({k: m.value for k, m in jar.items()})
    return out


def _http_sign_in(base: str, username: str, password: str, timeout: float) -> dict[str, str]:
    """Sign in on the server's own HTML sign-in page when it has one (GET /signin shows a form
    with a hidden csrf field; POST it with the csrf cookie; the 303 sets the session cookie).
    Returns the cookies to send from then on; {} when the app signs people in itself (st.form)."""
    opener = urllib.request.build_opener(_NoRedirect)
    try:
        with opener.open(urllib.request.Request(base + "/signin"), timeout=timeout) as resp:
            page, cookies = resp.read().decode("utf-8", "replace"), _set_cookies(resp.headers)
    except urllib.error.HTTPError as exc:
        if exc.code in (404, 405):
            return {}
        raise OSError(f"GET /signin failed: {exc!r}") from None
    except OSError as exc:
        raise OSError(f"GET /signin failed: {exc!r}") from None
    found = re.search(r'name="csrf" value="([^"]*)"', page)
    if not found or 'name="password"' not in page:
        return {}  # Streamlit's own page: the app draws the sign-in form
    body = urllib.parse.urlencode(
        {"csrf": html.unescape(found.group(1)), "username": username, "password": password}
    ).encode()
    req = urllib.request.Request(
        base + "/signin",
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "Origin": base,
            "Cookie": "; ".join(f"{k}={v}" for k, v in cookies.items()),
        },
    )
    try:
        with opener.open(req, timeout=timeout) as resp:
            status, headers = resp.status, resp.headers
    except urllib.error.HTTPError as exc:  # the 303 arrives here as the redirect is not followed
        status, headers = exc.code, exc.headers
    except OSError as exc:
        raise OSError(f"POST /signin failed: {exc!r}") from None
    session = _set_cookies(headers)
    if status not in (302, 303) or not session:
        raise OSError(f"POST /signin answered {status} without a session cookie")
    cookies.update(session)
    return {k: v for k, v in cookies.items() if v}


def _get_xsrf_cookie(base: str, timeout: float, cookies: dict[str, str] | None = None) -> str | None:
    """GET the page, then /_stcore/health as the frontend does; the latter sets the XSRF cookie."""
    token = None
    for path in ("/", "/_stcore/health", "/_stcore/host-config"):
        sent = {**(cookies or {}), **({"_streamlit_xsrf": token} if token else {})}
        req = urllib.request.Request(
            base + path, headers={"Cookie": "; ".join(f"{k}={v}" for k, v in sent.items())} if sent else {}
        )
        try:
            resp = urllib.request.urlopen(req, timeout=timeout)
        except OSError as exc:
            raise OSError(f"GET {path} failed: {exc!r}") from None
        with resp:
            resp.read()
            for header in resp.headers.get_all("Set-Cookie") or []:
                jar = SimpleCookie()
                jar.load(header)
                if "_streamlit_xsrf" in jar:
                    token = jar["_streamlit_xsrf"].value
    return token


# ---------------------------------------------------------------- one user's session


@dataclass
class UserLog:
    sign_in: Outcome | None = None
    reruns: list[tuple[float, Outcome]] = field(default_factory=list)  # (started at, outcome)
    errors: list[str] = field(default_factory=list)
    disconnected: bool = False


@dataclass
class Window:
    """The measured window: it opens when every user has signed in (or given up) and lasts
    `seconds`; a user starts no rerun after it closes."""

    users: int
    seconds: float
    signed_in: int = 0
    opened: asyncio.Event = field(default_factory=asyncio.Event)
    start: float = 0.0
    stop: float = 0.0

    def arrived(self) -> None:
        self.signed_in += 1
        if self.signed_in == self.users:
            self.start = time.perf_counter()
            self.stop = self.start + self.seconds
            self.opened.set()


async def user_session(
    b: Browser,
    username: str,
    password: str,
    rng: random.Random,
    start_at: float,
    window: Window,
    think: tuple[float, float],
) -> UserLog:
    log = UserLog()
    await asyncio.sleep(max(0.0, start_at - time.perf_counter()))
    arrived = False
    try:
        t0 = time.perf_counter()
        await b.open(username, password)
        out = await b.sign_in(username, password)
        out.seconds = time.perf_counter() - t0
        log.sign_in = out
        window.arrived()
        arrived = True
        if out.status != "ok":
            log.errors.append(f"sign-in: {out.status}: {out.detail}")
            return log
        await window.opened.wait()
        values: dict[str, WidgetState] = {}
        while True:
            await asyncio.sleep(rng.uniform(*think))
            if time.perf_counter() >= window.stop:
                break
            w = b.run.widgets()
            if PERIOD_LABEL not in w or CLIENTS_LABEL not in w:
                # the last run drew no Dashboard (e.g. the database was down): run the page again
                # as it stands, as a person pressing R would, and count that rerun
                values = {}
                started = time.perf_counter()
                out = await b.rerun([])
                log.reruns.append((started, out))
                if out.status in ("error", "timeout"):
                    log.errors.append(f"rerun: {out.status}: {out.detail}")
                continue
            period, clients = w[PERIOD_LABEL][1], w[CLIENTS_LABEL][1]
            if rng.random() < 0.5:  # another period preset than the one shown
                shown = values["period"].string_value if "period" in values else _selected(period)
                values["period"] = _string(
                    period.id, rng.choice([o for o in period.options if o not in SKIP_PERIODS and o != shown])
                )
            else:  # a different set of 0 to 3 clients (none: all clients)
                current = list(values["clients"].string_array_value.data) if "clients" in values else []
                options = list(clients.options)
                picked = current
                while picked == current:
                    picked = rng.sample(options, min(len(options), rng.choice([0, 1, 2, 3])))
                    if not options:
                        break
                state = WidgetState(id=clients.id)
                state.string_array_value.data.extend(picked)
                values["clients"] = state
            # the ids come from this run's deltas (they may change when the page changes)
            values.get("period", WidgetState()).id = period.id
            values.get("clients", WidgetState()).id = clients.id
            started = time.perf_counter()
            out = await b.rerun(list(values.values()))
            log.reruns.append((started, out))
            if out.status in ("error", "timeout"):
                log.errors.append(f"rerun: {out.status}: {out.detail}")
    except Disconnected as exc:
        log.disconnected = True
        log.errors.append(f"disconnected: {exc}")
    except (TimeoutError, OSError) as exc:
        log.disconnected = True
        log.errors.append(f"connection failed: {exc!r}")
    finally:
        if not arrived:
            window.arrived()
        await b.close()
    return log


# ---------------------------------------------------------------- the server and its sampling


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """`python -m milestone serve` on a free loopback port against the given database."""

    def __init__(self, database_url: str, log_path: Path, profile: Path | None = None):
        self.port = _free_port()
        self.data_dir = Path(tempfile.mkdtemp(prefix="ms-load-"))
        env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "MILESTONE_LOCAL": "1",
            "MILESTONE_DATA_DIR": str(self.data_dir),
            "MILESTONE_BASE_PATH": "",
            "MILESTONE_COOKIE_KEY": secrets.token_urlsafe(48),
        }
        if profile:
            env["MILESTONE_BENCH_PROFILE"] = str(profile)
        self.log = open(log_path, "w")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bench.profiled_serve" if profile else "milestone"]
            + ["serve", "--port", str(self.port), "--address", "127.0.0.1"],
            cwd=ROOT,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        self.ps = psutil.Process(self.proc.pid)

    def wait_ready(self, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the server exited with {self.proc.returncode}; see {self.log.name}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/_stcore/health", timeout=2) as r:
                    if r.status == 200:
                        return
            except OSError:
                time.sleep(0.3)
        raise RuntimeError(f"the server did not answer within {timeout:.0f} s; see {self.log.name}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(60)  # a profiled server writes its profile on the way out
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.log.close()
        shutil.rmtree(self.data_dir, ignore_errors=True)


def _cpu(p: psutil.Process, with_children: bool = False) -> float:
    try:
        t = p.cpu_times()
        total = t.user + t.system
        if with_children:  # reaped children (finished backends) and live ones
            total += t.children_user + t.children_system
            for c in p.children(recursive=True):
                try:
                    ct = c.cpu_times()
                    total += ct.user + ct.system
                except psutil.Error:
                    pass
        return total
    except psutil.Error:
        return 0.0


def _postmaster(database_url: str) -> psutil.Process | None:
    """The embedded PostgreSQL's postmaster, found by its socket directory in the URL."""
    sock = database_url.split("host=", 1)[-1].split("&", 1)[0]
    sock = urllib.request.unquote(sock)
    for p in psutil.process_iter(["name", "cmdline"]):
        try:
            if p.info["name"] == "postgres" and p.ppid() != 0 and sock in " ".join(p.info["cmdline"] or []):
                parent = p.parent()
                return p if parent is None or parent.name() != "postgres" else parent
        except psutil.Error:
            continue
    return None


class Sampler:
    """Samples the server's RSS every `every` seconds over the whole phase (sign-ins too);
    CPU seconds are counted from mark() (the window opening) to the end."""

    def __init__(self, server: psutil.Process, postgres: psutil.Process | None, every: float = 0.5):
        self.server, self.postgres, self.every = server, postgres, every
        self.rss: list[int] = []
        self.rss_times: list[float] = []  # perf_counter of each sample
        self.rss_at_mark = 0
        self.task: asyncio.Task | None = None

    def _cpus(self) -> tuple[float, float, float]:
        return (_cpu(self.server), _cpu(self.postgres, True) if self.postgres else 0.0, _cpu(psutil.Process()))

    async def __aenter__(self) -> Sampler:
        self.mark()
        self.task = asyncio.create_task(self._loop())
        return self

    def mark(self) -> None:
        self.cpu0, self.t0 = self._cpus(), time.perf_counter()
        self.rss_at_mark = self.rss[-1] if self.rss else 0

    async def _loop(self) -> None:
        while True:
            try:
                self.rss.append(self.server.memory_info().rss)
                self.rss_times.append(time.perf_counter())
            except psutil.Error:
                return
            await asyncio.sleep(self.every)

    async def __aexit__(self, *exc) -> None:
        assert self.task is not None
        self.task.cancel()
        try:
            await self.task
        except asyncio.CancelledError:
            pass
        self.wall = time.perf_counter() - self.t0
        now = self._cpus()
        self.cpu = (now[0] - self.cpu0[0], (now[1] - self.cpu0[1]) if self.postgres else None, now[2] - self.cpu0[2])


# ---------------------------------------------------------------- one phase: N users


def percentile(values: list[float], p: float) -> float | None:
    """Nearest-rank percentile (p in 0..100) of `values`; None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


async def run_phase(
    server: Server,
    postgres: psutil.Process | None,
    n: int,
    passwords: dict[str, str],
    seconds: float,
    ramp: float,
    timeout: float,
    seed: int,
    think: tuple[float, float],
    series_every: float = 0.0,
    outage: tuple[float, float] | None = None,
) -> dict[str, Any]:
    names = sorted(passwords)
    load_before, uptime_before = os.getloadavg(), _uptime()
    window = Window(n, seconds)
    async with Sampler(server.ps, postgres) as sampler:  # memory over the phase, CPU over the window
        t0 = time.perf_counter()
        tasks = []
        for i in range(n):
            name = names[i % len(names)]
            b = Browser(server.port, f"{name}-{i}", timeout)
            rng = random.Random(f"{seed}-{n}-{i}")
            tasks.append(
                asyncio.create_task(user_session(b, name, passwords[name], rng, t0 + ramp * i / n, window, think))
            )
        bound = ramp + 3 * timeout + seconds + 60  # sign-in (two runs), the window, the last rerun
        try:
            await asyncio.wait_for(window.opened.wait(), ramp + 2 * timeout + 30)
        except TimeoutError:
            pass
        sampler.mark()
        outage_task = asyncio.create_task(_outage(server, postgres, window, *outage)) if outage else None
        done, pending = await asyncio.wait(tasks, timeout=bound)
        outage_log = await outage_task if outage_task else None
        for t in pending:
            t.cancel()
        window_end = time.perf_counter()
    logs: list[UserLog] = [t.result() for t in done if not t.cancelled() and t.exception() is None]
    crashed = [repr(t.exception()) for t in done if not t.cancelled() and t.exception() is not None]
    reruns = [o for log in logs for started, o in log.reruns if started >= window.start]
    ok = [o for o in reruns if o.status == "ok"]
    times = [o.seconds for o in ok]
    sign_ins = [log.sign_in.seconds for log in logs if log.sign_in and log.sign_in.status == "ok"]
    errors = (
        [e for log in logs for e in log.errors]
        + [f"harness: {c}" for c in crashed]
        + ["harness: user still running at the time bound"] * len(pending)
    )
    measured = max(window_end - window.start, 1e-9) if window.start else 0.0
    rss = sampler.rss or [0]
    server_cpu, db_cpu, harness_cpu = sampler.cpu
    return {
        "users": n,
        "load_before": [round(x, 2) for x in load_before],
        "uptime_before": uptime_before,
        "sign_in_phase_s": round((window.start or window_end) - t0, 1),
        "measured_s": round(measured, 1),
        "reruns_ok": len(ok),
        "reruns_per_s": round(len(ok) / measured, 2) if measured else 0.0,
        "reruns_without_kpi": sum(o.status == "no_kpi" for o in reruns),
        "reruns_failed": sum(o.status in ("error", "timeout") for o in reruns),
        "p50_s": _r(percentile(times, 50)),
        "p95_s": _r(percentile(times, 95)),
        "max_s": _r(max(times, default=None)),
        "mean_s": _r(sum(times) / len(times) if times else None),
        "sign_ins_ok": len(sign_ins),
        "sign_in_p50_s": _r(percentile(sign_ins, 50)),
        "sign_in_max_s": _r(max(sign_ins, default=None)),
        "errors": len(errors),
        "disconnects": sum(log.disconnected for log in logs),
        "error_samples": sorted(set(errors))[:10],
        "bytes_per_rerun_p50": percentile([o.bytes for o in ok], 50),
        "bytes_per_rerun_mean": round(sum(o.bytes for o in ok) / len(ok)) if ok else None,
        "bytes_per_rerun_max": max((o.bytes for o in ok), default=None),
        "full_bytes_per_rerun_mean": round(sum(o.full_bytes for o in ok) / len(ok)) if ok else None,
        "full_bytes_per_rerun_p50": percentile([o.full_bytes for o in ok], 50),
        "full_bytes_per_rerun_max": max((o.full_bytes for o in ok), default=None),
        "messages_per_rerun_p50": percentile([o.messages for o in ok], 50),
        "server_cpu_s": round(server_cpu, 1),
        "server_cpu_per_s": round(server_cpu / sampler.wall, 2),
        # CPU the server spent per counted rerun: comparable across machine loads, unlike wall time
        "server_cpu_ms_per_rerun": round(server_cpu / len(ok) * 1000) if ok else None,
        "postgres_cpu_s": None if db_cpu is None else round(db_cpu, 1),
        "harness_cpu_s": round(harness_cpu, 1),
        "server_rss_mb_start": round(rss[0] / 2**20),
        "server_rss_mb_signed_in": round(sampler.rss_at_mark / 2**20),
        "server_rss_mb_max": round(max(rss) / 2**20),
        "server_rss_mb_end": round(rss[-1] / 2**20),
        "rerun_times_s": [round(t, 4) for t in times],
        "series": _series(logs, sampler, window.start, series_every) if series_every and window.start else [],
        "rss_growth_after_warm_up_pct": _rss_growth(sampler, window.start),
        "outage": outage_log,
    }


def _series(logs: list[UserLog], sampler: Sampler, start: float, every: float) -> list[dict[str, Any]]:
    """The measured window in slices of `every` seconds: reruns, p95, errors and the server's RSS."""
    reruns = sorted((t, o) for log in logs for t, o in log.reruns if t >= start)
    end = max([t + o.seconds for t, o in reruns] + [start])
    out = []
    k = 0
    while start + k * every < end:
        lo, hi = start + k * every, start + (k + 1) * every
        part = [o for t, o in reruns if lo <= t < hi]
        ok = [o.seconds for o in part if o.status == "ok"]
        rss = [r for r, at in zip(sampler.rss, sampler.rss_times, strict=True) if at < hi]
        out.append(
            {
                "from_s": round(k * every),
                "reruns_ok": len(ok),
                "errors": sum(o.status in ("error", "timeout") for o in part),
                "p50_s": _r(percentile(ok, 50)),
                "p95_s": _r(percentile(ok, 95)),
                "rss_mb": round(rss[-1] / 2**20) if rss else None,
                "error_samples": sorted({o.detail[:160] for o in part if o.status != "ok"})[:3],
            }
        )
        k += 1
    return out


def _rss_growth(sampler: Sampler, start: float, warm_up_s: float = 60.0) -> float | None:
    """RSS at the end against RSS one warm-up minute into the window, in per cent."""
    after = [r for r, at in zip(sampler.rss, sampler.rss_times, strict=True) if start and at >= start + warm_up_s]
    if len(after) < 2:
        return None
    return round(100 * (after[-1] - after[0]) / after[0], 1)


async def _outage(
    server: Server, postgres: psutil.Process | None, window: Window, at_s: float, seconds: float
) -> dict[str, Any]:
    """Stop the embedded PostgreSQL `at_s` into the window for `seconds`, then start it again;
    record /health while it is down and how long until it answers 200 again."""
    from milestone import db  # noqa: PLC0415

    assert postgres is not None, "an outage needs the private embedded server"
    pgdata = Path(next(a for a in postgres.cmdline() if "pgdata" in a))
    embedded = db.EmbeddedServer(pgdata.parent)
    await asyncio.sleep(max(0.0, window.start + at_s - time.perf_counter()))
    t_stop = time.perf_counter()
    await asyncio.to_thread(embedded.stop)
    health_down = await asyncio.to_thread(_health, server.port)
    await asyncio.sleep(max(0.0, t_stop + seconds - time.perf_counter()))
    await asyncio.to_thread(embedded.start)
    t_up = time.perf_counter()
    healthy_after = None
    while time.perf_counter() - t_up < 120:
        if await asyncio.to_thread(_health, server.port) == 200:
            healthy_after = time.perf_counter() - t_up
            break
        await asyncio.sleep(0.25)
    return {
        "stopped_at_s": round(t_stop - window.start, 1),
        "down_s": round(t_up - t_stop, 1),
        "health_while_down": health_down,
        "health_200_after_s": None if healthy_after is None else round(healthy_after, 2),
    }


def _health(port: int) -> int:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5) as r:
            return r.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except OSError:
        return 0


async def warm_up(server: Server, username: str, password: str, timeout: float) -> Outcome:
    """One sign-in before the phases, so the first phase does not pay the server's imports."""
    b = Browser(server.port, "warm-up", timeout)
    t0 = time.perf_counter()
    try:
        await b.open(username, password)
        out = await b.sign_in(username, password)
    finally:
        await b.close()
    out.seconds = time.perf_counter() - t0
    return out


async def page_payloads(server: Server, username: str, password: str, timeout: float) -> dict[str, Outcome]:
    """Open every page the user's navigation lists, once each, as a browser with an empty message
    cache: the ForwardMsg bytes of each page's first run (issue 14: each under 2 MB)."""
    b = Browser(server.port, "pages", timeout)
    out: dict[str, Outcome] = {}
    try:
        await b.open(username, password)
        await b.sign_in(username, password)
        for name, script_hash in list(b.pages.items()):
            b.page_script_hash, b.query_string = script_hash, ""
            b.cache.clear()
            out[name] = await b.rerun([])
    finally:
        await b.close()
    return out


def _r(x: float | None) -> float | None:
    return None if x is None else round(x, 4)


def _uptime() -> str:
    try:
        return subprocess.run(["uptime"], capture_output=True, text=True, timeout=5).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "load average: " + ", ".join(f"{x:.2f}" for x in os.getloadavg())


# ---------------------------------------------------------------- report


def _ms(x: float | None) -> str:
    if x is None:
        return "-"
    return f"{x * 1000:.0f} ms" if x < 1 else f"{x:.1f} s"


def table(phases: list[dict[str, Any]]) -> str:
    """One line per N. kB sent: mean ForwardMsg bytes per rerun as received (with the browser's
    message cache) / at full size. cpu/rerun: server CPU per counted rerun."""
    head = (
        f"{'users':>5} {'reruns':>6} {'/s':>5} {'p50':>7} {'p95':>7} {'max':>7} {'errors':>6} {'disc':>4} "
        f"{'kB sent':>9} {'cpu/rerun':>9} {'srv cpu':>7} {'pg cpu':>6} {'rss MB':>6}  load before (1/5/15 min)"
    )
    lines = [head, "-" * len(head)]

    def kb(x: float | None) -> str:
        return "-" if x is None else f"{x / 1000:.0f}"

    for p in phases:
        cpu_rerun = p["server_cpu_ms_per_rerun"] / 1000 if p["server_cpu_ms_per_rerun"] is not None else None
        pg = "-" if p["postgres_cpu_s"] is None else f"{p['postgres_cpu_s']:.0f} s"
        lines.append(
            f"{p['users']:>5} {p['reruns_ok']:>6} {p['reruns_per_s']:>5.2f} {_ms(p['p50_s']):>7} {_ms(p['p95_s']):>7} "
            f"{_ms(p['max_s']):>7} {p['errors']:>6} {p['disconnects']:>4} "
            f"{kb(p['bytes_per_rerun_mean']) + '/' + kb(p.get('full_bytes_per_rerun_mean')):>9} {_ms(cpu_rerun):>9} "
            f"{p['server_cpu_s']:>5.0f} s {pg:>6} {p['server_rss_mb_max']:>6}  "
            f"{' '.join(f'{x:.2f}' for x in p['load_before'])}"
        )
    return "\n".join(lines)


def first_over(phases: list[dict[str, Any]], limit: float) -> int | None:
    for p in phases:
        if p["p95_s"] is None or p["p95_s"] > limit or p["reruns_ok"] == 0:
            return p["users"]
    return None


# ---------------------------------------------------------------- main


def _users(raw: str) -> list[int]:
    try:
        values = [int(x) for x in raw.split(",") if x.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"--users must be numbers like 1,10,25,50, got {raw!r}") from None
    if not values or any(not 1 <= v <= 500 for v in values):
        raise argparse.ArgumentTypeError("--users: each N must be between 1 and 500")
    return values


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--users", type=_users, default=[1, 10, 25, 50], help="comma-separated N values (1,10,25,50)")
    p.add_argument("--scale", type=float, default=1.0, help="demo data scale (1 = about 1,000 projects)")
    p.add_argument(
        "--seconds", type=float, default=60.0, help="measured seconds per N, from when all N users have signed in"
    )
    p.add_argument("--ramp", type=float, default=10.0, help="seconds over which the N users sign in")
    p.add_argument(
        "--think",
        type=float,
        nargs=2,
        default=(2.0, 5.0),
        metavar=("MIN", "MAX"),
        help="seconds a user waits between filter changes (2 5)",
    )
    p.add_argument("--timeout", type=float, default=120.0, help="seconds to wait for one rerun before an error")
    p.add_argument("--p95-limit", type=float, default=2.0, help="report the first N whose p95 passes this (s)")
    p.add_argument("--seed", type=int, default=1, help="seeds the users' choices")
    p.add_argument("--out", type=Path, help="JSON file (default bench/results/load-<time>.json)")
    p.add_argument("--pages", action="store_true", help="first measure each page's payload (bytes of its first run)")
    p.add_argument(
        "--profile", action="store_true", help="run the server under yappi (CPU, all threads); print where it went"
    )
    p.add_argument(
        "--series", type=float, default=0.0, help="also report reruns, p95, errors and RSS per slice of this many s"
    )
    p.add_argument(
        "--outage",
        type=float,
        nargs=2,
        metavar=("AT", "SECONDS"),
        help="stop the database AT s into the window for SECONDS s, then start it again (reliability)",
    )
    args = p.parse_args(argv)
    if args.seconds <= 0 or args.seconds > 3600 or args.ramp < 0 or args.timeout <= 0:
        p.error("--seconds must be in (0, 3600], --ramp >= 0, --timeout > 0")
    if not 0 < args.think[0] <= args.think[1]:
        p.error("--think MIN MAX with 0 < MIN <= MAX")
    return args


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    sys.path.insert(0, str(ROOT / "bench"))
    from bench.common import private_database  # imports the app (and its database helpers) only here
    from milestone import seed as seeding  # noqa: PLC0415

    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    out_path = (args.out or RESULTS / f"load-{stamp}-scale{args.scale:g}.json").resolve()
    out_path.parent.mkdir(parents=True, exist_ok=True)
    t_seed = time.perf_counter()
    print(f"seeding a private database at scale {args.scale:g} ...", flush=True)
    with _demo_passwords(seeding) as passwords, private_database(args.scale) as (owner, url):
        seed_s = time.perf_counter() - t_seed
        profile = out_path.with_suffix(".prof") if args.profile else None
        server = Server(url, out_path.with_suffix(".server.log"), profile)
        try:
            server.wait_ready()
            postgres = _postmaster(url)
            print(f"seeded in {seed_s:.0f} s; server on 127.0.0.1:{server.port} (pid {server.proc.pid})", flush=True)
            warm = asyncio.run(warm_up(server, "admin", passwords["admin"], args.timeout))
            print(f"warm-up sign-in on the cold server: {warm.seconds:.1f} s ({warm.status}) {warm.detail}", flush=True)
            if warm.status != "ok":
                raise SystemExit(f"the warm-up sign-in failed: {warm.detail}")
            payloads = {}
            if args.pages:
                print("page payloads (admin, a first visit with an empty browser cache):", flush=True)
                for page, o in asyncio.run(page_payloads(server, "admin", passwords["admin"], args.timeout)).items():
                    payloads[page] = {"bytes": o.full_bytes, "seconds": round(o.seconds, 3), "status": o.status}
                    print(f"   {page:<20} {o.full_bytes / 1e6:6.2f} MB  {o.seconds:5.2f} s  {o.status}", flush=True)
            phases = []
            for n in args.users:
                print(
                    f"-- {n} user(s) for {args.seconds:g} s (+{args.ramp if n > 1 else 0:g} s ramp), {_uptime()}",
                    flush=True,
                )
                phase = asyncio.run(
                    run_phase(
                        server,
                        postgres,
                        n,
                        passwords,
                        args.seconds,
                        args.ramp,
                        args.timeout,
                        args.seed,
                        tuple(args.think),
                        args.series,
                        tuple(args.outage) if args.outage else None,
                    )
                )
                phases.append(phase)
                print(table([phase]).splitlines()[-1], flush=True)
                for sl in phase["series"]:
                    print(f"   {sl}", flush=True)
                if phase["outage"]:
                    print(f"   outage: {phase['outage']}", flush=True)
                print(f"   RSS growth after a warm-up minute: {phase['rss_growth_after_warm_up_pct']} %", flush=True)
                for e in phase["error_samples"][:3]:
                    print(f"   error: {e}", flush=True)
        finally:
            server.stop()
    if profile:
        if profile.exists():
            import pstats  # noqa: PLC0415

            print(f"\nwhere the server's CPU went (yappi, all threads; {profile.name}):")
            pstats.Stats(str(profile)).sort_stats("cumulative").print_stats(40)
            threads = profile.with_name(profile.name + ".threads.txt")
            if threads.exists():
                print("CPU by thread kind:\n" + threads.read_text())
        else:
            print(f"\nno profile was written ({profile}); see the server log", flush=True)
    over = first_over(phases, args.p95_limit)
    report = {
        "command": " ".join(
            [Path(sys.executable).name, "bench/load.py", *(argv if argv is not None else sys.argv[1:])]
        ),
        "started_utc": stamp,
        "scale": args.scale,
        "seconds": args.seconds,
        "ramp_s": args.ramp,
        "think_s": list(args.think),
        "seed": args.seed,
        "timeout_s": args.timeout,
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version()},
        "seed_s": round(seed_s, 1),
        "warm_up_sign_in_s": round(warm.seconds, 2),
        "p95_limit_s": args.p95_limit,
        "first_n_over_p95_limit": over,
        "page_payloads": payloads,
        "phases": phases,
    }
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text(json.dumps(report, indent=1))
    print()
    print(
        f"scale {args.scale:g}, {args.seconds:g} s per N, think {args.think[0]:g}-{args.think[1]:g} s, "
        f"{os.cpu_count()} CPUs"
    )
    print(table(phases))
    print(
        f"p95 passes {args.p95_limit:g} s at N = {over}"
        if over is not None
        else f"p95 stays under {args.p95_limit:g} s up to N = {max(args.users)}"
    )
    print(f"written {out_path.relative_to(ROOT) if out_path.is_relative_to(ROOT) else out_path}")
    return report


class _demo_passwords:
    """Capture the demo users' passwords that seed.ensure_demo_users makes in private_database."""

    def __init__(self, seeding):
        self.seeding, self.passwords = seeding, {}

    def __enter__(self) -> dict[str, str]:
        original = self.original = self.seeding.ensure_demo_users

        def capture(engine):
            created = original(engine)
            self.passwords.update(created)
            return created

        self.seeding.ensure_demo_users = capture
        return self.passwords

    def __exit__(self, *exc) -> None:
        self.seeding.ensure_demo_users = self.original


if __name__ == "__main__":
    main()

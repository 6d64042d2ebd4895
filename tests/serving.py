"""Serve the app for a test: `python -m milestone serve` on a free port of 127.0.0.1.

Tests run in parallel (pytest-xdist), so between choosing a free port and the server binding it
another worker's server could take it. The server is therefore only trusted once its own process
is seen listening on the port; if it died instead (the port was taken), another port is tried.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import psutil

from milestone.config import PROJECT_ROOT

ARTIFACTS = PROJECT_ROOT / "test-artifacts"
POLL_S = 0.1  # how often the start-up conditions are looked at (not a wait of its own)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _listens(pid: int, port: int) -> bool:
    try:
        proc = psutil.Process(pid)
        return any(
            c.status == psutil.CONN_LISTEN and c.laddr.port == port
            for p in (proc, *proc.children(recursive=True))
            for c in p.net_connections(kind="inet")
        )
    except psutil.Error:
        return False


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as r:
            return r.status == 200
    except (OSError, urllib.error.URLError):
        return False


def serve(
    db_url: str, base_path: str = "", extra_env: dict[str, str] | None = None, timeout: float = 60, attempts: int = 3
) -> tuple[subprocess.Popen, str]:
    """Start the app on `db_url` and return (process, base URL) once /_stcore/health answers 200.
    The server's output goes to test-artifacts/server-PORT.log."""
    ARTIFACTS.mkdir(exist_ok=True)
    env = {
        **os.environ,
        "DATABASE_URL": db_url,
        "MILESTONE_LOCAL": "1",
        "MILESTONE_BASE_PATH": base_path,
        **(extra_env or {}),
    }
    for _ in range(attempts):
        port = free_port()
        log_path = ARTIFACTS / f"server-{port}.log"
        with open(log_path, "w") as log:
            proc = subprocess.Popen(
                [sys.executable, "-m", "milestone", "serve", "--port", str(port), "--address", "127.0.0.1"],
                cwd=PROJECT_ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        url = f"http://127.0.0.1:{port}{base_path}"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and proc.poll() is None:
            if _listens(proc.pid, port) and _answers(f"{url}/_stcore/health"):
                return proc, url
            time.sleep(POLL_S)
        if proc.poll() is None:  # alive but not serving in time: that is a real failure
            proc.kill()
            proc.wait(10)
            raise RuntimeError(f"the app did not start on port {port} in {timeout:.0f} s; see {log_path}")
        output = log_path.read_text()
        if "address already in use" not in output.lower():
            raise RuntimeError(f"the app exited at start ({proc.returncode}); {log_path} says:\n{output[-2000:]}")
        # another process took the port between free_port() and the bind: try another one
    raise RuntimeError(f"the app found its port taken {attempts} times; see the server-*.log files in {ARTIFACTS}")


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(10)

"""Resource abuse through the served app, while others use it: a finance user uploads hostile
files to the Import page over Streamlit's own protocol (the browser's file-upload requests: ask
for upload URLs on the websocket, PUT the file, rerun with the uploader's state) while N users
rerun the Dashboard (bench/load.py). Records what the uploader was told, the server's RSS, and
the other users' rerun times per slice, against a first phase of the same users without abuse.

    .venv/bin/python -m bench.upload_abuse --users 5 --scale 1

The files: a CSV at the size limit (lines that fail the check), one byte over the limit, a CSV of
a million empty lines, a gzip file renamed .csv, and a valid 2,000-document export.
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import json
import os
import time
import urllib.error
import urllib.request
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.Common_pb2 import FileURLsRequest
from streamlit.proto.WidgetStates_pb2 import WidgetState
from websockets.typing import Origin, Subprotocol

from bench import load

HEADER = (
    b"ContactName,InvoiceNumber,InvoiceDate,Total,TaxTotal,InvoiceAmountDue,Status,Type,TrackingName1,TrackingOption1\n"
)


def files(limit: int) -> list[tuple[str, bytes]]:
    bad = b"x,1,not a date,abc,def,ghi,jkl,mno,Project,nowhere\n"
    good = b"".join(
        b"Acme,ABUSE-%d,2026-01-15,120.00,20.00,0.00,PAID,Sales invoice,Project,\n" % i for i in range(2000)
    )
    return [
        # the upload's multipart framing (a few hundred bytes) counts against the server's limit,
        # so the largest file that can arrive is a little under it
        ("just-under-the-limit.csv", HEADER + bad * ((limit - 4096 - len(HEADER)) // len(bad))),
        ("exactly-the-limit.csv", HEADER + b"a" * (limit - len(HEADER))),
        ("over-the-limit.csv", HEADER + b"a" * (limit + 1 - len(HEADER))),
        ("million-empty-lines.csv", HEADER + b"\n" * 1_000_000),
        ("gzip-renamed.csv", gzip.compress(HEADER + good)),
        ("valid-2000.csv", HEADER + good),
    ]


class Uploader(load.Browser):
    """A finance user's tab that can upload files like the browser does."""

    def __init__(self, port: int, name: str, timeout: float):
        super().__init__(port, name, timeout)
        self.session_id = ""
        self.pages: dict[str, str] = {}
        self.urls: asyncio.Queue[Any] = asyncio.Queue()
        self.cookies: dict[str, str] = {}

    async def open(self, username: str, password: str) -> None:
        base = f"http://127.0.0.1:{self.port}"
        cookies = await asyncio.to_thread(load._http_sign_in, base, username, password, self.timeout)
        self.signed_in_over_http = bool(cookies)
        xsrf = await asyncio.to_thread(load._get_xsrf_cookie, base, self.timeout, cookies)
        if xsrf:
            cookies["_streamlit_xsrf"] = xsrf
        self.cookies = cookies
        self.ws = await load._ws_connect(
            f"ws://127.0.0.1:{self.port}/_stcore/stream",
            subprotocols=[Subprotocol("streamlit"), Subprotocol(xsrf or "PLACEHOLDER_AUTH_TOKEN")],
            origin=Origin(base),
            additional_headers={"Cookie": "; ".join(f"{k}={v}" for k, v in cookies.items())},
            max_size=None,
            ping_interval=None,
            open_timeout=self.timeout,
        )
        self.reader = asyncio.create_task(self._read())

    def _handle(self, msg, size: int) -> None:
        kind = msg.WhichOneof("type")
        if kind == "new_session":
            self.session_id = msg.new_session.initialize.session_id or self.session_id
        elif kind == "navigation":
            for p in msg.navigation.app_pages:
                self.pages[p.url_pathname] = p.page_script_hash
        elif kind == "file_urls_response":
            self.urls.put_nowait(msg.file_urls_response)
        super()._handle(msg, size)

    def texts(self) -> list[str]:
        out = []
        for el in self.run.elements.values():
            kind = el.WhichOneof("type")
            if kind == "alert":
                out.append(el.alert.body)
            elif kind == "exception":
                out.append(f"EXCEPTION {el.exception.type}: {el.exception.message}")
        return out

    async def upload(self, name: str, data: bytes) -> dict[str, Any]:
        """Ask for the upload URL, PUT the file, rerun the page with the uploader's new state."""
        assert self.ws is not None
        req = BackMsg()
        req.file_urls_request.CopyFrom(
            FileURLsRequest(request_id=uuid.uuid4().hex, file_names=[name], session_id=self.session_id)
        )
        await self.ws.send(req.SerializeToString())
        answer = await asyncio.wait_for(self.urls.get(), self.timeout)
        urls = answer.file_urls[0]
        url = (
            urls.upload_url if urls.upload_url.startswith("http") else f"http://127.0.0.1:{self.port}{urls.upload_url}"
        )
        t0 = time.perf_counter()
        status = await asyncio.to_thread(self._put, url, name, data)
        out: dict[str, Any] = {"file": name, "bytes": len(data), "put_status": status}
        if status != 204 and status != 200:
            out["told"] = [f"the server refused the upload ({status}); nothing reached the page"]
            out["seconds"] = round(time.perf_counter() - t0, 2)
            return out
        uploader = self.run.widgets()["Xero CSV export"][1]
        state = WidgetState(id=uploader.id)
        info = state.file_uploader_state_value.uploaded_file_info.add()
        info.name, info.size, info.file_id = name, len(data), urls.file_id
        info.file_urls.CopyFrom(urls)
        result = await self.rerun([state])
        out["seconds"] = round(time.perf_counter() - t0, 2)
        out["run"] = result.status if result.status != "no_kpi" else "ok"
        out["told"] = [t[:300] for t in self.texts()]
        return out

    def _put(self, url: str, name: str, data: bytes) -> int | str:
        boundary = uuid.uuid4().hex
        body = (
            (
                f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
                "Content-Type: text/csv\r\n\r\n"
            ).encode()
            + data
            + f"\r\n--{boundary}--\r\n".encode()
        )
        req = urllib.request.Request(
            url,
            data=body,
            method="PUT",
            headers={
                "Content-Type": f"multipart/form-data; boundary={boundary}",
                "X-Xsrftoken": self.cookies.get("_streamlit_xsrf", ""),
                "Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items()),
                "Origin": f"http://127.0.0.1:{self.port}",
            },
        )
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as r:
                return r.status
        except urllib.error.HTTPError as exc:
            return exc.code
        except urllib.error.URLError as exc:  # the server answered 413 and closed while the body was sent
            return f"connection closed by the server before the body was read ({exc.reason})"


async def abuse(server: load.Server, password: str, start_after: float, timeout: float) -> list[dict[str, Any]]:
    from milestone import config  # noqa: PLC0415

    await asyncio.sleep(start_after)
    b = Uploader(server.port, "abuser", timeout)
    out = []
    try:
        await b.open("finance", password)
        signed = await b.sign_in("finance", password)
        if signed.status != "ok":
            return [{"error": f"sign-in: {signed.detail}"}]
        b.page_script_hash = b.pages.get("import", "")
        await b.rerun([])
        for name, data in files(config.import_max_bytes()):
            rss0 = server.ps.memory_info().rss
            peak = [rss0]
            done = asyncio.Event()

            async def sample(peak=peak, done=done):
                while not done.is_set():
                    peak[0] = max(peak[0], server.ps.memory_info().rss)
                    await asyncio.sleep(0.05)

            sampler = asyncio.create_task(sample())
            t_at = time.perf_counter()
            try:
                result = await b.upload(name, data)
            except (load.Disconnected, TimeoutError, OSError) as exc:
                result = {"file": name, "error": repr(exc)}
            done.set()
            await sampler
            result |= {
                "at_s": round(t_at, 1),
                "server_rss_mb_before": round(rss0 / 2**20),
                "server_rss_mb_peak": round(peak[0] / 2**20),
            }
            out.append(result)
            print(f"   upload {result}"[:600], flush=True)
            await asyncio.sleep(3)
    finally:
        await b.close()
    return out


async def both(server, postgres, args, passwords) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    t0 = time.perf_counter()
    phase_task = asyncio.create_task(
        load.run_phase(
            server, postgres, args.users, passwords, args.seconds, args.ramp, args.timeout, 7, (2.0, 5.0), 5.0
        )
    )
    uploads = await abuse(server, passwords["finance"], args.ramp + 10, args.timeout)
    phase = await phase_task
    for u in uploads:  # when each upload started, in the phase's seconds
        if "at_s" in u:
            u["at_s"] = round(u["at_s"] - t0 - phase["sign_in_phase_s"], 1)
    return phase, uploads


def main(argv: list[str] | None = None) -> dict[str, Any]:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--users", type=int, default=5)
    p.add_argument("--scale", type=float, default=1.0)
    p.add_argument("--seconds", type=float, default=90.0)
    p.add_argument("--ramp", type=float, default=5.0)
    p.add_argument("--timeout", type=float, default=120.0)
    p.add_argument("--out", type=Path, default=Path("test-artifacts/upload-abuse.json"))
    args = p.parse_args(argv)
    from bench.common import private_database  # noqa: PLC0415
    from milestone import seed as seeding  # noqa: PLC0415

    with load._demo_passwords(seeding) as passwords, private_database(args.scale) as (_owner, url):
        server = load.Server(url, args.out.with_suffix(".server.log"))
        try:
            server.wait_ready()
            postgres = load._postmaster(url)
            asyncio.run(load.warm_up(server, "admin", passwords["admin"], args.timeout))
            print(f"-- baseline: {args.users} users, no abuse, {load._uptime()}", flush=True)
            baseline = asyncio.run(
                load.run_phase(server, postgres, args.users, passwords, 60, args.ramp, args.timeout, 7, (2.0, 5.0), 5.0)
            )
            print(load.table([baseline]).splitlines()[-1], flush=True)
            print(f"-- with abuse: {load._uptime()}", flush=True)
            phase, uploads = asyncio.run(both(server, postgres, args, passwords))
            print(load.table([phase]).splitlines()[-1], flush=True)
            for sl in phase["series"]:
                print(f"   {sl}"[:300], flush=True)
        finally:
            server.stop()
    report = {
        "started_utc": datetime.now(UTC).isoformat(),
        "users": args.users,
        "scale": args.scale,
        "load": os.getloadavg(),
        "cpus": psutil.cpu_count(),
        "baseline": {k: baseline[k] for k in ("reruns_ok", "p50_s", "p95_s", "max_s", "errors", "server_rss_mb_max")},
        "with_abuse": {k: phase[k] for k in ("reruns_ok", "p50_s", "p95_s", "max_s", "errors", "server_rss_mb_max")},
        "series": phase["series"],
        "uploads": uploads,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1, default=str))
    print(json.dumps({k: report[k] for k in ("baseline", "with_abuse")}, indent=1))
    return report


if __name__ == "__main__":
    main()

"""Resource abuse (make reliability): each hostile input runs in a child process of its own so its
peak memory (ru_maxrss) is its own; each must end with a plain message (or a bounded, correct
result) within bounded memory and time. Figures go to test-artifacts/resource-abuse.json."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

from milestone import seed
from milestone.config import PROJECT_ROOT

pytestmark = pytest.mark.reliability

CHILD = textwrap.dedent(
    """
    import gzip, json, sys, time, uuid
    from datetime import date
    from decimal import Decimal
    from milestone import config
    from milestone.errors import MilestoneError
    from milestone.services import estimates, imports, users
    from milestone.validation import EstimateChanges, estimate_row
    import sqlalchemy as sa
    from milestone import db

    case = sys.argv[1]
    limit = config.import_max_bytes()
    header = (b"ContactName,InvoiceNumber,InvoiceDate,Total,TaxTotal,AmountDue,Status,Type,"
              b"TrackingName1,TrackingOption1\\n")
    # the file is built first, so the RSS below is the import's own (building it needs two copies)
    data = b""
    if case == "at_limit":
        bad = b"x,1,not a date,abc,def,ghi,jkl,mno,Project,nowhere\\n"
        data = header + bad * ((limit - len(header)) // len(bad))
    elif case == "over_limit":
        data = header + b"a" * (limit + 1 - len(header))
    elif case == "million_empty_lines":
        data = header + b"\\n" * 1_000_000
    elif case == "gzip_renamed_csv":
        data = gzip.compress(header + b"Acme,INV-1,2026-01-01,120,20,0,PAID,ACCREC,Project,x\\n" * 200_000)
    import gc; gc.collect()
    import psutil, threading
    me, peak_rss, done = psutil.Process(), [0], threading.Event()
    def sample():  # the current RSS every 5 ms: its peak during this case alone
        while not done.is_set():
            peak_rss[0] = max(peak_rss[0], me.memory_info().rss)
            time.sleep(0.005)
    base = me.memory_info().rss
    threading.Thread(target=sample, daemon=True).start()
    t0 = time.perf_counter()
    user = users.get_user("finance")
    outcome = "ok"
    try:
        if case == "estimates_paste":
            with db.engine().connect() as c:
                pid = c.scalar(sa.text("SELECT id::text FROM milestone.projects LIMIT 1"))
            changes, problems = EstimateChanges(), []
            for i in range(10_000):
                values = {"project_id": pid, "kind": "cost", "build_phase_id": None,
                          "description": f"Pasted {i}", "amount": "12.34", "date": date(2026, 5, 1)}
                row, p = estimate_row(values, f"Row {i}")
                problems += p
                changes.inserts.append((None, row))
            estimates.save_estimate_changes(changes, user)
        else:
            imports.import_file(data, case + ".csv", user, dry_run=False)
    except MilestoneError as exc:
        outcome = str(exc).splitlines()[0][:200]
    seconds = round(time.perf_counter() - t0, 2)
    done.set()
    time.sleep(0.02)
    peak = max(peak_rss[0], me.memory_info().rss)
    print(json.dumps({"case": case, "bytes": len(data), "seconds": seconds, "rss_start_mb": round(base / 2**20),
                      "peak_rss_mb": round(peak / 2**20), "rss_above_start_mb": round((peak - base) / 2**20),
                      "outcome": outcome}))
    """
)

CASES = ["at_limit", "over_limit", "million_empty_lines", "gzip_renamed_csv", "estimates_paste"]


def test_hostile_inputs_stay_bounded(fresh_database, artifacts):
    from tests import builders

    seed.ensure_demo_users(fresh_database.owner)
    builders.project(fresh_database, "Abuse", client="Abuse client")
    results = []
    for case in CASES:
        env = {**os.environ, "DATABASE_URL": fresh_database.url}
        out = subprocess.run(
            [sys.executable, "-c", CHILD, case], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=600
        )
        assert out.returncode == 0, out.stderr[-3000:]
        if case == "estimates_paste":
            assert fresh_database.scalar("SELECT count(*) FROM milestone.estimates") == 10_000
        results.append(json.loads(out.stdout.strip().splitlines()[-1]))
    (artifacts / "resource-abuse.json").write_text(json.dumps({"load": os.getloadavg(), "cases": results}, indent=1))
    print(json.dumps(results, indent=1))
    by = {r["case"]: r for r in results}
    assert "limit is" in by["over_limit"]["outcome"]
    assert "no invoices" in by["million_empty_lines"]["outcome"]
    assert "not" in by["gzip_renamed_csv"]["outcome"]  # not a CSV text file / not UTF-8
    assert by["estimates_paste"]["outcome"] == "ok"
    for r in results:
        assert r["rss_above_start_mb"] < 400, r

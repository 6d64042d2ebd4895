"""bench/load.py end to end: one simulated browser signs in through the real form on a real
server and changes the Dashboard's filters; every rerun it counts drew the KPI cards.
(About 30-60 s: a private database at scale 0.01, a server start and a short window.)"""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_one_user_signs_in_and_reruns_the_dashboard(tmp_path):
    out = tmp_path / "load.json"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.load",
            "--users",
            "1",
            "--scale",
            "0.01",
            "--seconds",
            "6",
            "--think",
            "0.5",
            "1.5",
            "--timeout",
            "60",
            "--out",
            str(out),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    report = json.loads(out.read_text())
    [phase] = report["phases"]
    assert phase["sign_ins_ok"] == 1
    assert phase["reruns_ok"] >= 1, phase
    assert phase["errors"] == 0 and phase["disconnects"] == 0 and phase["reruns_without_kpi"] == 0, phase
    assert phase["bytes_per_rerun_p50"] > 1000 and phase["full_bytes_per_rerun_mean"] >= phase["bytes_per_rerun_mean"]
    assert phase["server_rss_mb_max"] > 0 and phase["server_cpu_s"] > 0
    assert "p50" in proc.stdout and "kB sent" in proc.stdout

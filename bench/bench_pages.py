"""Time whole page renders the way a person meets them: AppTest on the real app.py, signed in.

Cold = every st.cache_data/st.cache_resource cleared, then a fresh session's first run;
warm = the same session run again with nothing changed (caches warm). Medians of --repeat
runs, per page and, for the dashboard and projects pages, per period preset.

    python -m bench.bench_pages --scale 1            # a private database seeded at scale 1
    python -m bench.bench_pages --scale 10 --profile # also wall-clock profiles of a cold and a warm dashboard run
    DATABASE_URL=... python -m bench.bench_pages --existing   # a database seeded already
"""

from __future__ import annotations

import argparse
import os
import secrets
import statistics
import time

import streamlit as st
from streamlit.testing.v1 import AppTest

from bench.common import private_database
from milestone import db, metrics
from milestone.config import PROJECT_ROOT
from milestone.services import users

PAGES = {
    "Dashboard": "views/dashboard.py",
    "Projects": "views/projects.py",
    "Estimates": "views/estimates.py",
    "Project P&L": "views/project.py",
}
PRESETS = tuple(p for p in metrics.PRESETS if p != "Custom")


def _session(page: str, preset: str | None) -> AppTest:
    os.environ.setdefault("MILESTONE_COOKIE_KEY", secrets.token_urlsafe(48))  # production refuses none
    at = AppTest.from_file(str(PROJECT_ROOT / "app.py"), default_timeout=300)
    at.session_state["user"] = users.get_user("admin")
    if preset:
        at.query_params["period"] = preset
    at.run()
    if page != "views/dashboard.py":
        at.switch_page(page).run()
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    if page in ("views/dashboard.py", "views/project.py"):
        assert any(m.label == "Revenue" for m in at.metric), "the KPI cards were not drawn"
    return at


def measure(page: str, preset: str | None, repeat: int) -> tuple[float, float]:
    """(median cold seconds, median warm seconds)."""
    cold, warm = [], []
    for _ in range(repeat):
        st.cache_data.clear()
        st.cache_resource.clear()
        t0 = time.perf_counter()
        at = _session(page, preset)
        cold.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        at.run()
        warm.append(time.perf_counter() - t0)
        assert not at.exception, at.exception
    return statistics.median(cold), statistics.median(warm)


def profile_dashboard(top: int = 25) -> None:
    """Wall-clock profiles (yappi) of one cold dashboard run (caches cleared, new session) and of
    one warm rerun."""
    import yappi

    def show(title: str) -> None:
        stats = yappi.get_func_stats()
        stats.sort("ttot")
        print(f"\nWall-clock profile of {title} (top {top} by total time):")
        stats.print_all(columns={0: ("name", 70), 1: ("ncall", 8), 3: ("ttot", 8), 4: ("tavg", 8)}, limit=top)
        yappi.clear_stats()

    yappi.set_clock_type("wall")
    st.cache_data.clear()
    st.cache_resource.clear()
    yappi.start()
    at = _session("views/dashboard.py", None)
    yappi.stop()
    show("one cold dashboard run")
    at.run()
    yappi.start()
    at.run()
    yappi.stop()
    show("one warm dashboard rerun")


def run(repeat: int, profile: bool) -> None:
    print(f"{'page':<14} {'period':<22} {'cold s':>8} {'warm s':>8}")
    for name, page in PAGES.items():
        for preset in PRESETS if name in ("Dashboard", "Projects") else (None,):
            cold, warm = measure(page, preset, repeat)
            print(f"{name:<14} {preset or '-':<22} {cold:8.2f} {warm:8.2f}", flush=True)
    if profile:
        profile_dashboard()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--profile", action="store_true", help="profile a cold and a warm dashboard run (yappi)")
    parser.add_argument("--existing", action="store_true", help="use the database in DATABASE_URL")
    args = parser.parse_args()
    if args.existing:
        db.ensure_database()
        print(f"the database in DATABASE_URL, median of {args.repeat} (admin, AppTest on app.py)")
        run(args.repeat, args.profile)
        return
    with private_database(args.scale):
        print(f"scale {args.scale}, median of {args.repeat} (admin, AppTest on app.py)")
        run(args.repeat, args.profile)


if __name__ == "__main__":
    main()

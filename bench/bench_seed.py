"""Time `seed` at a given scale into a private embedded PostgreSQL (or DATABASE_URL's server).

    .venv/bin/python bench/bench_seed.py --scale 10
"""
from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from milestone import db, seed  # noqa: E402
from milestone.migrate import migrate  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="ms-bench-"))
    server = db.EmbeddedServer(tmp)
    try:
        server.start()
        eng = db.make_engine(server.url(), app_role=False)
        migrate(eng)
        seed.ensure_demo_users(eng)
        t0 = time.perf_counter()
        counts = seed.load(eng, args.scale, args.seed, progress=True)
        elapsed = time.perf_counter() - t0
        rows = sum(counts.values())
        print(f"seed --scale {args.scale}: {rows:,} rows in {elapsed:.1f} s ({rows / elapsed:,.0f} rows/s)")
        eng.dispose()
    finally:
        server.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()

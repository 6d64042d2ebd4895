"""Time `seed` at a given scale into a private embedded PostgreSQL (or DATABASE_URL's server).

.venv/bin/python -m bench.bench_seed --scale 10
"""

from __future__ import annotations

import argparse
import time

from bench.common import private_database
from milestone import seed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()
    with private_database() as (eng, _):
        t0 = time.perf_counter()
        counts = seed.load(eng, args.scale, args.seed, progress=True)
        elapsed = time.perf_counter() - t0
        rows = sum(counts.values())
        print(f"seed --scale {args.scale}: {rows:,} rows in {elapsed:.1f} s ({rows / elapsed:,.0f} rows/s)")


if __name__ == "__main__":
    main()

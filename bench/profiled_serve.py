"""`python -m milestone serve` under yappi (CPU clock, every thread), for `bench/load.py --profile`.
The profile so far is written to $MILESTONE_BENCH_PROFILE (pstats format) every 5 seconds, since
the server may be stopped by a signal that ends the process without returning here."""

from __future__ import annotations

import os
import sys
import threading
import time

import yappi

from milestone.cli import main


def _keep_saving(path: str) -> None:
    while True:
        time.sleep(5)
        yappi.get_func_stats().save(path + ".tmp", type="pstat")
        os.replace(path + ".tmp", path)
        threads: dict[str, float] = {}  # CPU seconds per kind of thread (script runs, event loop, ...)
        for t in yappi.get_thread_stats():
            kind = t.name.rstrip("0123456789-_ ") or "?"
            threads[kind] = threads.get(kind, 0.0) + t.ttot
        with open(path + ".threads.txt", "w") as out:
            out.writelines(f"{cpu:9.2f} s  {kind}\n" for kind, cpu in sorted(threads.items(), key=lambda kv: -kv[1]))


if __name__ == "__main__":
    yappi.set_clock_type("cpu")
    yappi.start()
    threading.Thread(target=_keep_saving, args=(os.environ["MILESTONE_BENCH_PROFILE"],), daemon=True).start()
    sys.exit(main(sys.argv[1:]))

"""Metrics (Prometheus), error reporting (Sentry or JSON logs) and DB query timing.

Everything here is process-wide: the ASGI server and the Streamlit scripts it runs share
one registry, which /metrics exposes. Process memory and CPU come from prometheus-client's
default process collector (process_resident_memory_bytes, process_cpu_seconds_total).
"""
from __future__ import annotations

import json
import logging
import sys
import time
import traceback
from collections import deque
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import Iterator

import sqlalchemy as sa
from prometheus_client import Counter, Gauge, Histogram

from milestone import config

HTTP_REQUESTS = Counter("milestone_http_requests_total", "HTTP requests", ["route", "status"])
HTTP_DURATION = Histogram("milestone_http_request_duration_seconds", "HTTP request duration", ["route"])
PAGE_RENDER = Histogram("milestone_page_render_seconds", "Page script run duration", ["page"],
                        buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 3, 5, 10, 30))
DB_QUERY = Histogram("milestone_db_query_seconds", "DB query duration by store statement", ["statement"],
                     buckets=(0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 30))
ERRORS = Counter("milestone_errors_total", "Uncaught errors by exception type", ["type"])
ACTIVE_SESSIONS = Gauge("milestone_active_sessions", "Browser sessions connected (open app websockets)")
DB_POOL_IN_USE = Gauge("milestone_db_pool_in_use", "Connections checked out of the app pool")

STARTED = time.time()
RECENT_ERRORS: deque[dict[str, str]] = deque(maxlen=50)
_sentry_ready = False  # set by setup_error_reporting
log = logging.getLogger("milestone")


def _pool_in_use() -> float:
    from milestone import db
    if db.engine.cache_info().currsize == 0:  # engine not created yet: nothing checked out
        return 0.0
    try:
        return float(db.engine().pool.checkedout())  # type: ignore[attr-defined]
    except Exception:  # noqa: BLE001 - a gauge must never break /metrics
        return 0.0


DB_POOL_IN_USE.set_function(_pool_in_use)


# ---- DB query timing, labelled by the statement's name


def _before(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
    conn.info.setdefault("ms_query_start", []).append(time.perf_counter())


def _after(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
    starts = conn.info.get("ms_query_start")
    if starts:
        # store statements carry their name (milestone.store._sql.stmt); anything else is "other"
        name = context.execution_options.get("query_name", "other") if context is not None else "other"
        DB_QUERY.labels(name).observe(time.perf_counter() - starts.pop())


def instrument_sqlalchemy() -> None:
    """Time every query on every engine, labelled by the store statement's name."""
    if not sa.event.contains(sa.Engine, "before_cursor_execute", _before):
        sa.event.listen(sa.Engine, "before_cursor_execute", _before)
        sa.event.listen(sa.Engine, "after_cursor_execute", _after)


instrument_sqlalchemy()


@contextmanager
def page_timer(page: str) -> Iterator[None]:
    start = time.perf_counter()
    try:
        yield
    finally:
        PAGE_RENDER.labels(page).observe(time.perf_counter() - start)


# ---- errors: Sentry when SENTRY_DSN is set, else one JSON line on stdout


def setup_error_reporting() -> bool:
    """Initialise Sentry when SENTRY_DSN is set and sentry-sdk is installed; True if so."""
    dsn = config.sentry_dsn()
    if not dsn:
        return False
    try:
        import sentry_sdk
    except ImportError:
        log.warning("SENTRY_DSN is set but sentry-sdk is not installed: errors go to the JSON log only.")
        return False
    sentry_sdk.init(dsn=dsn, send_default_pii=False)
    global _sentry_ready
    _sentry_ready = True
    return True


def report_error(exc: BaseException) -> bool:
    """on_script_error hook: count, remember, and report; False keeps Streamlit's own display."""
    ERRORS.labels(type(exc).__name__).inc()
    entry = {"ts": datetime.now(timezone.utc).isoformat(timespec="seconds"), "level": "error",
             "type": type(exc).__name__, "message": str(exc)[:500]}
    RECENT_ERRORS.appendleft(entry)
    if _sentry_ready:
        try:
            import sentry_sdk
            sentry_sdk.capture_exception(exc)
            return False
        except ImportError:
            pass
    print(json.dumps({**entry, "traceback": "".join(traceback.format_exception(exc))[-4000:]}),
          file=sys.stdout, flush=True)
    return False


def uptime_s() -> float:
    return time.time() - STARTED


def _quantile(hist: Histogram, q: float) -> float | None:
    """Approximate quantile (upper bucket bound) over all label sets of a histogram."""
    buckets: dict[float, float] = {}
    for metric in hist.collect():
        for s in metric.samples:
            if s.name.endswith("_bucket"):
                le = float(s.labels["le"])
                buckets[le] = buckets.get(le, 0) + s.value
    if not buckets or buckets[max(buckets)] == 0:
        return None
    total = buckets[max(buckets)]
    for le in sorted(buckets):
        if buckets[le] >= q * total:
            return le
    return None


def _total(counter: Counter) -> float:
    return sum(s.value for m in counter.collect() for s in m.samples if s.name.endswith("_total"))


def _count(hist: Histogram) -> float:
    """How many observations a histogram holds (page runs, for the error rate)."""
    return sum(s.value for m in hist.collect() for s in m.samples if s.name.endswith("_count"))


def _total_gauge(gauge: Gauge) -> float:
    return sum(s.value for m in gauge.collect() for s in m.samples)


def snapshot() -> dict:
    """What the monitoring page shows, read from this process's metrics."""
    import resource
    runs = _count(PAGE_RENDER)
    errors = _total(ERRORS)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return {
        "uptime_s": uptime_s(),
        "render_p50_s": _quantile(PAGE_RENDER, 0.5),
        "render_p95_s": _quantile(PAGE_RENDER, 0.95),
        "errors": errors,
        "error_rate": errors / runs if runs else 0.0,  # script errors per page run
        "active_sessions": _total_gauge(ACTIVE_SESSIONS),
        "db_pool_in_use": _pool_in_use(),
        "memory_mb": usage.ru_maxrss / 1024,
        "cpu_s": usage.ru_utime + usage.ru_stime,
        "recent_errors": list(RECENT_ERRORS)[:10],
    }

"""Server-side write rate limit: at most WRITES_PER_WINDOW changes per user per window.

Kept in the rate_limit_events table (migration 006) so the limit holds across server
processes and restarts. Every save/import path calls check_write(username) before writing.
"""
from __future__ import annotations

import math
import os

from sqlalchemy import Engine

from milestone import repository

WRITES_PER_WINDOW = 10
WINDOW_S = 60


class RateLimited(Exception):
    def __init__(self, retry_after_s: float):
        self.retry_after_s = max(1, math.ceil(retry_after_s))
        super().__init__(f"Too many changes: try again in {self.retry_after_s} s")


def check_write(username: str, *, limit: int | None = None, window_s: int = WINDOW_S,
                eng: Engine | None = None) -> None:
    """Count one write for `username`, or raise RateLimited (and count nothing).

    The limit is MILESTONE_WRITES_PER_MINUTE (default 10) unless given."""
    if limit is None:
        limit = int(os.environ.get("MILESTONE_WRITES_PER_MINUTE", WRITES_PER_WINDOW))
    retry = repository.take_write_slot(username, limit, window_s, eng=eng)
    if retry is not None:
        raise RateLimited(retry)

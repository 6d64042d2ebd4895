"""Streamlit helpers every page uses: cached reads, the signed-in user, data freshness."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime, timedelta, timezone

import pandas as pd

import streamlit as st
from pydantic import ValidationError

from milestone import metrics, observability
from milestone.errors import DatabaseUnavailable
from milestone.formatting import as_text
from milestone.services import pnl
from milestone.store.sync_requests import SyncStatus
from milestone.store.users import User
from milestone.validation import Filters, describe_errors

STALE_AFTER = timedelta(hours=4)

def current_user() -> User:
    """The signed-in user, set by the login gate in app.py."""
    user: User = st.session_state["user"]
    return user


def clear_caches() -> None:
    """Call after any write made through the app, so every view shows the new numbers (cached
    reads, and the charts built from them)."""
    st.cache_data.clear()
    st.cache_resource.clear()


@st.cache_data(ttl=60, max_entries=4)
def _sync_status() -> SyncStatus:
    return pnl.sync_status()


def freshness_banner() -> None:
    """'Xero data as of ...', with a warning when the last sync failed or is old."""
    status = _sync_status()
    if status.last_completed_at is None:
        st.warning("No Xero sync has completed yet: invoices and bills may be missing.")
        return
    as_of = status.last_completed_at.astimezone()
    text = f"Xero data as of {as_of:%d %b %Y %H:%M}"
    if status.last_status == "FAILED":
        st.warning(f"{text}. The last sync failed: {as_text(status.last_error or 'no reason given')}.")
    elif datetime.now(timezone.utc) - status.last_completed_at > STALE_AFTER:
        st.warning(f"{text}, more than {STALE_AFTER.seconds // 3600} hours ago.")
    else:
        st.caption(text)


@contextmanager
def plain_when_database_down() -> Iterator[None]:
    """A plain message instead of a traceback when PostgreSQL cannot be reached (or gave up on a
    statement). The error is still reported like any other. Writes are transactions, so an
    interrupted save wrote nothing; the next run reconnects by itself (the pool checks
    connections before use)."""
    try:
        yield
    except DatabaseUnavailable as exc:
        observability.report_error(exc.__cause__ or exc)  # counted, listed on Monitoring, sent to Sentry
        st.error(str(exc), icon=":material/cloud_off:")


@st.cache_data(ttl=300, max_entries=32)
def load_projects(filters: Filters) -> pd.DataFrame:
    """The project table with P&L columns for these filters (Dashboard and Projects)."""
    return metrics.with_pnl(pnl.project_table(filters))


def date_range(value: object) -> tuple[date | None, date | None]:
    """(from, to) of a st.date_input range: empty, one day chosen so far, or both."""
    if isinstance(value, (tuple, list)):
        chosen = (tuple(value) + (None, None))[:2]
        return chosen[0], chosen[1]
    return (value, None) if isinstance(value, date) else (None, None)


def show_problems(exc: ValidationError, labels: dict[str, str]) -> None:
    """A refused form: every problem by field, and that nothing was saved."""
    st.error("Nothing was saved. Please correct:\n\n" + "\n".join(f"- {as_text(m)}" for m in describe_errors(exc, labels)))

"""Streamlit helpers every page uses: cached reads, the signed-in user, data freshness."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone

import streamlit as st
from sqlalchemy.exc import InterfaceError, OperationalError

from milestone import db, repository
from milestone.repository import User

STALE_AFTER = timedelta(hours=4)


@st.cache_resource
def engine():
    return db.engine()


def current_user() -> User:
    """The signed-in user, set by the login gate in app.py."""
    return st.session_state["user"]


def clear_caches() -> None:
    """Call after any write made through the app, so every view shows the new numbers."""
    st.cache_data.clear()


@st.cache_data(ttl=60, max_entries=4)
def _sync_status() -> repository.SyncStatus:
    return repository.sync_status(engine())


def freshness_banner() -> None:
    """'Xero data as of ...', with a warning when the last sync failed or is old."""
    status = _sync_status()
    if status.last_completed_at is None:
        st.warning("No Xero sync has completed yet: invoices and bills may be missing.")
        return
    as_of = status.last_completed_at.astimezone()
    text = f"Xero data as of {as_of:%d %b %Y %H:%M}"
    if status.last_status == "FAILED":
        st.warning(f"{text}. The last sync failed: {status.last_error or 'no reason given'}.")
    elif datetime.now(timezone.utc) - status.last_completed_at > STALE_AFTER:
        st.warning(f"{text}, more than {STALE_AFTER.seconds // 3600} hours ago.")
    else:
        st.caption(text)


@contextmanager
def plain_when_database_down() -> Iterator[None]:
    """A plain message instead of a traceback when PostgreSQL cannot be reached (psycopg also
    raises OperationalError for a statement timeout or a deadlock). The error is still reported
    like any other. Writes are transactions, so an interrupted save wrote nothing; the next run
    reconnects by itself (the pool checks connections before use)."""
    try:
        yield
    except (OperationalError, InterfaceError) as exc:
        from milestone import observability

        observability.report_error(exc)  # counted, listed on Monitoring, sent to Sentry when configured
        st.error("The database is not answering just now, so this page cannot be shown. A save that was not "
                 "confirmed on screen was not made (every save is all or nothing). Try again in a minute; if "
                 "it lasts, tell an admin.", icon=":material/cloud_off:")

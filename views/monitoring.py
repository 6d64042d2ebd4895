"""Monitoring (admin only): health, speed, errors, sessions, database, backups, sign-ins."""

import streamlit as st

from milestone import observability
from milestone.services import monitoring
from milestone.store.users import User

st.title("Monitoring")
signed_in: User | None = st.session_state.get("user")
if signed_in is None or signed_in.role != "admin":
    st.error("Not allowed: only admins can see monitoring.")
    st.stop()
user: User = signed_in


def _secs(v):
    return "n/a" if v is None else f"{v:.2f} s"


@st.fragment(run_every=15)
def panel():
    healthy = monitoring.database_ok()
    snap = observability.snapshot()
    st.caption("Refreshes every 15 s. Figures are for this server process since it started.")
    c = st.columns(4)
    c[0].metric("Health", "OK" if healthy else "DATABASE DOWN")
    c[1].metric("Uptime", f"{snap['uptime_s'] / 3600:.1f} h")
    c[2].metric("Page render p50", _secs(snap["render_p50_s"]))
    c[3].metric("Page render p95", _secs(snap["render_p95_s"]))
    c = st.columns(4)
    c[0].metric("Errors per page run", f"{snap['error_rate']:.1%}")
    c[1].metric("Active sessions", int(snap["active_sessions"]))
    c[2].metric("DB connections in use", int(snap["db_pool_in_use"]))
    c[3].metric("Memory (peak RSS)", f"{snap['memory_mb']:.0f} MB")
    st.caption(f"CPU time used: {snap['cpu_s']:.0f} s")
    last = monitoring.last_backup(user) if healthy else None
    st.subheader("Last backup")
    if last:
        st.write(f"{last['created_at']:%d %b %Y %H:%M} UTC, {last['file_name']}, {last['size_bytes'] / 1e6:.1f} MB")
    else:
        st.warning("No backup recorded. Run `python -m milestone backup`.")
    st.subheader("Recent errors")
    if snap["recent_errors"]:
        st.dataframe(snap["recent_errors"], width="stretch", hide_index=True)
    else:
        st.write("None since start.")
    if healthy:
        st.subheader("Recent sign-ins")
        st.dataframe(monitoring.recent_logins(user), width="stretch", hide_index=True)


@st.cache_data(ttl=300, show_spinner="Reconciling the ledger…")
def _ledger_checks(_user, username: str):
    return monitoring.ledger_checks(_user)


def ledger():
    st.subheader("Ledger reconciliation")
    if not monitoring.database_ok():
        st.write("The database is not answering.")
        return
    checks = _ledger_checks(user, user.username)
    failing = checks[~checks["ok"].astype(bool)]
    if failing.empty:
        st.success(
            f"Ledger reconciles: OK ({len(checks)} checks: lines = document subtotals, "
            "projects + unallocated = all lines, monthly rollup = lines, outstanding = amounts due)."
        )
    else:
        st.error(f"Ledger does not reconcile: {len(failing)} of {len(checks)} checks fail. Please report this.")
        st.dataframe(failing, width="stretch", hide_index=True)
    st.caption("Checked at most every 5 minutes (it adds up every line).")


panel()
ledger()

"""The sidebar filters: period presets, clients, statuses, build phases, owners, favourites.

The selection lives in the URL (st.query_params) so a view can be bookmarked and shared; a
copy in session_state carries it across page changes. Users can save named views (and one
default view) in user_preferences.
"""
from __future__ import annotations

from datetime import date

import streamlit as st

from milestone import metrics
from milestone.formatting import as_text
from milestone.services import pnl, preferences
from milestone.ui.common import clear_caches, current_user
from milestone.validation import PROJECT_STATUSES, Filters, phase_choices

_LIST_PARAMS = ("client", "status", "phase", "owner")
_SESSION_COPY = "filters_params"


@st.cache_data(ttl=300, max_entries=4)
def _options():
    return pnl.filter_options()


def _params_from_url() -> dict[str, object]:
    qp = st.query_params
    out: dict[str, object] = {k: qp.get_all(k) for k in _LIST_PARAMS if qp.get_all(k)}
    for k in ("period", "from", "to", "fav"):
        if k in qp:
            out[k] = qp[k]
    return out


def _initial_params() -> dict[str, object]:
    params = _params_from_url()
    if params:
        return params
    if _SESSION_COPY in st.session_state:
        return st.session_state[_SESSION_COPY]
    prefs = preferences.preferences(current_user().id)
    if prefs.default_view and prefs.default_view in prefs.saved_views:
        return prefs.saved_views[prefs.default_view]
    return {}


# The dates a filter accepts: a bookmark or a typed URL outside them is brought inside.
FIRST_DAY, LAST_DAY = date(2000, 1, 1), date(2099, 12, 31)


def _parse_date(raw: object) -> date | None:
    """A YYYY-MM-DD date from the URL, within FIRST_DAY..LAST_DAY, or None if unreadable."""
    try:
        day = date.fromisoformat(str(raw))
    except ValueError:
        return None
    return min(max(day, FIRST_DAY), LAST_DAY)


def _apply(params: dict[str, object]) -> None:
    """Make `params` the current selection (used by saved views): reset the widgets and rerun."""
    for key in [k for k in st.session_state if str(k).startswith("flt_")]:
        del st.session_state[key]
    st.session_state[_SESSION_COPY] = params
    st.query_params.from_dict(params)
    st.rerun()


def sidebar_filters(today: date | None = None) -> Filters:
    """Draw the filters in the sidebar and return what they select."""
    today = today or date.today()
    opts = _options()
    init = _initial_params()
    phase_names = phase_choices(opts["phases"]["id"], opts["phases"]["name"])
    owner_names = dict(zip(opts["owners"]["id"], opts["owners"]["display_name"]))
    clients = list(opts["clients"]["client_name"])

    def keep(values, allowed):  # drop values from an old bookmark that no longer exist
        return [v for v in (values or []) if v in allowed]

    with st.sidebar:
        st.subheader("Filters")
        period = st.selectbox("Period", metrics.PRESETS, key="flt_period",
                              index=metrics.PRESETS.index(init.get("period", "All time"))
                              if init.get("period") in metrics.PRESETS else 0)
        date_from, date_to = metrics.preset_range(period, today)
        if period == "Custom":
            start = _parse_date(init.get("from")) or today.replace(day=1)
            end = _parse_date(init.get("to")) or today
            if end < start:  # a link with its dates the wrong way round
                start, end = end, start
            picked = st.date_input("From - to", value=(start, end), key="flt_range", format="DD/MM/YYYY",
                                   min_value=FIRST_DAY, max_value=LAST_DAY)
            if isinstance(picked, tuple) and len(picked) == 2:
                date_from, date_to = picked
            else:
                st.caption("Pick an end date too.")
                date_from, date_to = (picked[0] if picked else None), None
        elif date_from:
            st.caption(f"{date_from:%d %b %Y} to {date_to:%d %b %Y}")
        chosen_clients = st.multiselect("Clients", clients, default=keep(init.get("client"), clients),
                                        key="flt_client", placeholder="All clients")
        statuses = st.multiselect("Project status", list(PROJECT_STATUSES), key="flt_status",
                                  default=keep(init.get("status"), PROJECT_STATUSES), placeholder="All statuses")
        phases = st.multiselect("Build phase", list(phase_names), format_func=phase_names.get, key="flt_phase",
                                default=keep(init.get("phase"), phase_names), placeholder="All phases")
        owners = st.multiselect("Owner", list(owner_names), format_func=owner_names.get, key="flt_owner",
                                default=keep(init.get("owner"), owner_names), placeholder="All owners")
        favourites_only = st.toggle("Favourite projects only", key="flt_fav", value=init.get("fav") == "1")

    params: dict[str, object] = {"period": period} if period != "All time" else {}
    if period == "Custom" and date_from and date_to:
        params.update({"from": date_from.isoformat(), "to": date_to.isoformat()})
    for key, values in (("client", chosen_clients), ("status", statuses), ("phase", phases), ("owner", owners)):
        if values:
            params[key] = list(values)
    if favourites_only:
        params["fav"] = "1"
    st.session_state[_SESSION_COPY] = params
    if params != _params_from_url():
        st.query_params.from_dict(params)

    project_ids: tuple[str, ...] = ()
    if favourites_only:
        favs = preferences.preferences(current_user().id).favourite_projects
        # no favourites yet: a project id that cannot exist, so the view is honestly empty
        project_ids = favs or ("00000000-0000-0000-0000-000000000000",)
    _saved_views(params)
    return Filters(date_from=date_from, date_to=date_to, clients=tuple(chosen_clients), statuses=tuple(statuses),
                   phases=tuple(phases), owners=tuple(owners), project_ids=project_ids)


def _saved_views(params: dict[str, object]) -> None:
    user = current_user()
    prefs = preferences.preferences(user.id)
    with st.sidebar.expander("Saved views"):
        if prefs.saved_views:
            names = sorted(prefs.saved_views)
            name = st.selectbox("View", names, key="views_pick",
                                format_func=lambda n: f"{n} (default)" if n == prefs.default_view else n)
            c1, c2 = st.columns(2)
            if c1.button("Open", key="views_open"):
                _apply(prefs.saved_views[name])
            if c2.button("Delete", key="views_delete"):
                preferences.delete_view(user, name)
                st.rerun()
        with st.form("views_save", clear_on_submit=True, border=False):
            new_name = st.text_input("Save current filters as", max_chars=60, placeholder="e.g. Loss makers FY")
            make_default = st.checkbox("Open this view by default")
            if st.form_submit_button("Save view"):
                if not new_name.strip():
                    st.error("Give the view a name.")
                elif "\x00" in new_name:
                    st.error("The view's name must not contain a NUL character.")
                else:
                    preferences.save_view(user, new_name.strip(), params, make_default)
                    st.success(f"Saved view “{as_text(new_name.strip())}”.")
                    clear_caches()

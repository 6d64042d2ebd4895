"""Generated bad input (hypothesis, derandomised) through every input model, without a database.

Each case ends one of two ways: the model accepts it and holds exactly what was given (text as
typed, amounts and dates as given), or it refuses with pydantic's ValidationError, which the
app turns into lines that name the field ("Row 3, Amount: ...", "Client: ..."). Nothing else
may come out: no other exception. 1,000 cases per model; the database-facing half (stored as
given, or refused with nothing written) is tests/integration/test_input_properties.py.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from milestone import metrics
from milestone.ui import filters as ui_filters
from milestone.validation import (
    ESTIMATE_LABELS,
    PROJECT_LABELS,
    PROJECT_STATUSES,
    USER_LABELS,
    Filters,
    NewUser,
    ProjectInput,
    SavedView,
    describe_errors,
    estimate_row,
    saved_view,
)
from tests.strategies import amounts, any_dates, hostile_text, maybe

CASES = settings(
    derandomize=True,
    max_examples=1000,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def _names_a_field(lines: list[str], labels: set[str]) -> None:
    assert lines, "a refusal says what is wrong"
    for line in lines:
        assert any(line.startswith(f"{label}:") or line.startswith(label) for label in labels), line


@CASES
@given(
    name=hostile_text(300),
    client=hostile_text(300),
    status=st.one_of(st.sampled_from(PROJECT_STATUSES), hostile_text(20)),
    start=maybe(any_dates()),
    end=maybe(any_dates()),
    budget_revenue=maybe(amounts()),
    budget_cost=maybe(amounts()),
)
def test_a_project_form_is_held_as_typed_or_refused_naming_the_field(
    name, client, status, start, end, budget_revenue, budget_cost
):
    given_values = {
        "name": name,
        "client_name": client,
        "status": status,
        "start_date": start,
        "end_date": end,
        "budget_revenue": budget_revenue,
        "budget_cost": budget_cost,
    }
    try:
        p = ProjectInput.model_validate(given_values)
    except ValidationError as exc:
        _names_a_field(describe_errors(exc, PROJECT_LABELS), set(PROJECT_LABELS.values()))
        return
    for got, typed in ((p.name, name), (p.client_name, client)):  # the form strips the ends only
        assert got in typed and got.strip() == typed.strip()
    assert "\x00" not in p.name + p.client_name and 1 <= len(p.name) <= 255
    assert (p.status, p.start_date, p.end_date) == (status, start, end)
    for got, want in ((p.budget_revenue, budget_revenue), (p.budget_cost, budget_cost)):
        assert got is None if want is None else got == Decimal(str(want).replace(",", "")) and got >= 0


@CASES
@given(
    project_id=st.one_of(st.uuids().map(str), hostile_text(40)),
    kind=st.one_of(st.sampled_from(["revenue", "cost"]), hostile_text(10), st.none()),
    phase=maybe(st.uuids().map(str)),
    description=st.one_of(hostile_text(600), st.none()),
    amount=st.one_of(amounts(), st.none(), hostile_text(12), st.floats(allow_nan=True, allow_infinity=True)),
    when=st.one_of(any_dates(), st.none(), hostile_text(12)),
    row=st.integers(1, 10_000),
)
def test_an_estimates_grid_row_is_held_as_typed_or_refused_naming_row_and_column(
    project_id, kind, phase, description, amount, when, row
):
    values = {
        "project_id": project_id,
        "kind": kind,
        "build_phase_id": phase,
        "description": description,
        "amount": amount,
        "date": when,
    }
    got, problems = estimate_row(values, f"Row {row}")
    if got is None:
        _names_a_field(problems, {f"Row {row}, {label}" for label in ESTIMATE_LABELS.values()})
        return
    assert problems == []
    assert got.description == description  # exactly as typed: not stripped
    assert (got.project_id, got.kind, got.build_phase_id, got.date) == (project_id, kind, phase, when)
    assert 0 < got.amount <= Decimal(10) ** 11 and got.amount.as_tuple().exponent >= -2
    if isinstance(amount, Decimal):
        assert got.amount == amount


@CASES
@given(
    username=st.one_of(st.from_regex(r"\A[a-z0-9._-]{2,64}\Z"), hostile_text(70)),
    display=hostile_text(300),
    email=st.one_of(st.none(), st.just(""), st.emails().map(str), hostile_text(40)),
    role=st.one_of(st.sampled_from(["admin", "finance", "viewer"]), hostile_text(10)),
)
def test_a_new_user_is_held_as_typed_or_refused_naming_the_field(username, display, email, role):
    try:
        u = NewUser.model_validate({"username": username, "display_name": display, "email": email, "role": role})
    except ValidationError as exc:
        _names_a_field(describe_errors(exc, USER_LABELS), set(USER_LABELS.values()))
        return
    assert (u.username, u.role) == (username.strip(), role)
    assert u.display_name in display and u.display_name.strip() == display.strip()
    assert u.email is None if not email else (u.email in email and u.email.strip() == email.strip())


@CASES
@given(
    name=hostile_text(100),
    params=st.dictionaries(
        st.sampled_from(["period", "from", "to", "client", "status", "phase", "owner", "fav", "x"]),
        st.one_of(hostile_text(30), st.lists(hostile_text(30), max_size=3)),
        max_size=6,
    ),
    default=st.booleans(),
)
def test_a_saved_view_is_held_as_typed_or_refused_naming_the_field(name, params, default):
    try:
        view = saved_view(name, params, default)
    except ValidationError as exc:
        _names_a_field(describe_errors(exc, {"name": "View name", "params": "Filters"}), {"View name", "Filters"})
        return
    assert isinstance(view, SavedView)
    assert (
        view.name in name
        and view.name.strip() == name.strip()
        and view.params == params
        and view.make_default is default
    )


url_value = st.one_of(
    hostile_text(30),
    any_dates().map(str),
    st.sampled_from(["0001-01-01", "9999-12-31", "2026-02-30", "2026-13-01", "", "Custom", "1"]),
)


@CASES
@given(
    period=st.one_of(st.sampled_from(metrics.PRESETS), url_value),
    raw_from=url_value,
    raw_to=url_value,
    clients=st.lists(hostile_text(30), max_size=4),
    phases=st.lists(hostile_text(40), max_size=3),
    today=st.dates(date(2000, 1, 1), date(2099, 12, 31)),
)
def test_filters_from_any_url_become_a_valid_selection_or_a_plain_refusal(
    period, raw_from, raw_to, clients, phases, today
):
    """What the sidebar does with query parameters (milestone/ui/filters.py): a date it cannot read
    is dropped, one out of range is brought inside, reversed ends are swapped, then Filters."""
    date_from, date_to = metrics.preset_range(period, today) if period in metrics.PRESETS else (None, None)
    if period == "Custom":
        start = ui_filters._parse_date(raw_from) or today.replace(day=1)
        end = ui_filters._parse_date(raw_to) or today
        if end < start:
            start, end = end, start
        date_from, date_to = start, end
        assert ui_filters.FIRST_DAY <= start <= end <= ui_filters.LAST_DAY
    try:
        f = Filters.model_validate(
            {"date_from": date_from, "date_to": date_to, "clients": tuple(clients), "phases": tuple(phases)}
        )
    except ValidationError as exc:
        lines = describe_errors(exc)
        assert lines and all(("date" in line) or ":" in line for line in lines), lines
        return
    assert f.clients == tuple(clients) and f.phases == tuple(phases)
    assert f.date_from is None or f.date_to is None or f.date_from <= f.date_to

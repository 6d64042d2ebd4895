"""The accountant's pages rendered in-process (AppTest) for each role, checked against SQL."""

from datetime import date
from decimal import Decimal

import pytest

from milestone import seed
from milestone.formatting import money, pct
from tests import oracle
from tests.apptest import app_as

PAGES = ["views/dashboard.py", "views/projects.py", "views/project.py"]
ROLES = ["admin", "finance", "viewer"]


@pytest.fixture(scope="module")
def demo(database):
    seed.ensure_demo_users(database.owner)
    seed.load(database.owner, 0.01, 1, anchor=date(2026, 11, 1), progress=False)
    return database


def _run(role, page=None, **query):
    at = app_as(role)
    for k, v in query.items():
        at.query_params[k] = v
    at.run()
    if page:
        at.switch_page(page).run()
    return at


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("page", PAGES)
def test_each_page_renders_for_each_role(demo, page, role):
    at = _run(role, page)
    assert not at.exception, at.exception


def _cards(at):
    return {m.label: m.value for m in at.metric}


def _overheads(tdb, date_from=None, date_to=None) -> dict[str, Decimal]:
    """The Unallocated lines' figures (project null), recounted from the lines."""
    rows = [v for k, v in oracle.pnl_rows(tdb, date_from, date_to).items() if k[0] is None]
    return {f: sum((v[f] for v in rows), Decimal(0)) for f in oracle.FIELDS}


def _expected(tdb, where="TRUE", date_from=None, date_to=None, overheads=False):
    """The KPI cards: the projects' sums, plus the overheads when no project filter is set."""
    sums = oracle.project_sums(tdb, date_from, date_to, where=where)
    if overheads:
        sums["(unallocated)"] = _overheads(tdb, date_from, date_to)
    rev = sum(p["revenue"] for p in sums.values())
    cost = sum(p["costs"] for p in sums.values())
    frev = rev + sum(p["estimate_revenue"] for p in sums.values())
    fcost = cost + sum(p["estimate_costs"] for p in sums.values())
    margin = lambda p, r: (100 * p / r).quantize(Decimal("0.1")) if r else None  # noqa: E731
    return {
        "Revenue": money(rev),
        "Costs": money(cost),
        "Profit": money(rev - cost),
        "Margin": pct(margin(rev - cost, rev)),
        "Forecast profit": money(frev - fcost),
        "Forecast margin": pct(margin(frev - fcost, frev)),
        "Outstanding": money(sum(p["outstanding"] for p in sums.values())),
    }


def test_dashboard_kpis_all_time_equal_sql(demo):
    """Unfiltered, the cards are the practice's P&L: projects + Unallocated (overheads)."""
    at = _run("viewer")
    assert _cards(at) == _expected(demo, overheads=True)
    overheads = _overheads(demo)
    assert overheads["costs"] > 0  # the seed has overhead bills
    assert any(
        c.value.startswith(
            f"Unallocated (overheads): revenue {money(overheads['revenue'])}, costs {money(overheads['costs'])}"
        )
        for c in at.caption
    )
    assert _cards(at) != _expected(demo)  # so the overheads really are in the cards


def test_dashboard_kpis_for_a_preset_include_the_periods_overheads(demo):
    at = _run("viewer", period="Last 12 months")
    from milestone import metrics

    date_from, date_to = metrics.preset_range("Last 12 months", date.today())
    assert _cards(at) == _expected(demo, date_from=date_from, date_to=date_to, overheads=True)


def test_dashboard_kpis_for_a_date_range_client_and_status_equal_sql(demo):
    client = demo.scalar(
        "SELECT client_name FROM milestone.projects WHERE status = 'Completed'"
        " GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 1"
    )
    at = _run(
        "finance", period="Custom", **{"from": "2025-04-01", "to": "2026-03-31"}, client=client, status="Completed"
    )
    want = _expected(
        demo,
        where=f"pr.client_name = '{client}' AND pr.status = 'Completed'",
        date_from=date(2025, 4, 1),
        date_to=date(2026, 3, 31),
    )
    assert _cards(at) == want  # a client filter: projects only, no overheads
    assert any(c.value.startswith("Projects only") for c in at.caption)
    assert at.metric[0].delta  # compared with the previous twelve months


def test_a_filter_matching_nothing_is_explained(demo):
    client = demo.scalar(
        "SELECT client_name FROM milestone.projects WHERE client_name NOT IN"
        " (SELECT client_name FROM milestone.projects WHERE status = 'On Hold') LIMIT 1"
    )
    at = _run("admin", client=client, status="On Hold")
    assert not at.exception
    assert any("No project matches" in i.value for i in at.info)


def test_filters_are_kept_in_the_url(demo):
    at = _run("admin")
    at.sidebar.selectbox(key="flt_period").set_value("Last 12 months").run()
    assert at.query_params["period"] in ("Last 12 months", ["Last 12 months"])


def test_pages_are_friendly_on_an_empty_database(fresh_database):
    seed.ensure_demo_users(fresh_database.owner)
    for role in ROLES:
        for page in PAGES:
            at = _run(role, page)
            assert not at.exception, (role, page)
            assert at.info, (role, page)


def test_project_page_numbers_equal_sql(demo):
    pid = demo.scalar("SELECT project_id::text FROM milestone.project_metrics ORDER BY revenue DESC LIMIT 1")
    at = _run("viewer", "views/project.py")
    at.selectbox(key="pnl_project").set_value(pid).run()
    assert not at.exception
    want = _expected(demo, where=f"pr.id = '{pid}'")
    assert _cards(at) == want


def test_creating_a_project_with_bad_values_lists_every_problem_and_saves_nothing(demo):
    before = demo.scalar("SELECT count(*) FROM milestone.projects")
    at = _run("finance", "views/projects.py")
    form = next(e for e in at.expander if e.label == "New project")
    form.text_input[0].set_value("")
    form.text_input[2].set_value("-5")
    form.text_input[3].set_value("12.345")
    form.button[0].click().run()
    errors = " ".join(e.value for e in at.error)
    assert "Name: must not be empty" in errors and "Client: must not be empty" in errors
    assert "Revenue budget: must not be negative" in errors and "Cost budget: has more than 2 decimal places" in errors
    assert demo.scalar("SELECT count(*) FROM milestone.projects") == before


def test_creating_a_valid_project_saves_it_with_the_audit_user(demo):
    at = _run("finance", "views/projects.py")
    form = next(e for e in at.expander if e.label == "New project")
    form.text_input[0].set_value("Quayside Offices")
    form.text_input[1].set_value("Harbour Trust")
    form.text_input[2].set_value("250,000.00")
    form.button[0].click().run()
    assert not at.error, [e.value for e in at.error]
    row = demo.rows(
        "SELECT p.budget_revenue, a.user_id FROM milestone.projects p JOIN milestone.audit_log a"
        " ON a.row_id = p.id WHERE p.name = 'Quayside Offices'"
    )
    assert row[0]["budget_revenue"] == Decimal("250000.00") and row[0]["user_id"] == "finance"


def test_viewers_get_no_project_form(demo):
    at = _run("viewer", "views/projects.py")
    assert not [e for e in at.expander if e.label == "New project"]
    assert not at.main.get("form")


@pytest.mark.parametrize(
    "query",
    [
        {"period": "Custom", "from": "2026-12-31", "to": "2020-01-01"},  # the wrong way round
        {"period": "Custom", "from": "0001-01-01", "to": "2026-01-31"},  # before the calendar allows a previous period
        {"period": "Custom", "from": "9999-12-31"},
        {"period": "Custom", "from": "not a date", "to": "2026-02-30"},
        {"period": "Next century"},
    ],
)
def test_a_hand_made_url_never_crashes_the_dashboard(demo, query):
    from streamlit.testing.v1 import AppTest

    from milestone.config import PROJECT_ROOT
    from milestone.services import users

    at = AppTest.from_file(str(PROJECT_ROOT / "app.py"), default_timeout=60)
    at.session_state["user"] = users.get_user("admin")
    for key, value in query.items():
        at.query_params[key] = value
    at.run()
    assert not at.exception, at.exception
    assert any(m.label == "Revenue" for m in at.metric)

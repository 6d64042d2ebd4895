from datetime import date
from decimal import Decimal

import pandas as pd

from milestone import metrics
from milestone.formatting import money, pct


def test_margin_is_undefined_without_revenue():
    assert metrics.margin(Decimal("-50"), Decimal("0")) is None
    assert pct(None) == "—"


def test_margin_rounds_half_up_to_one_decimal():
    assert metrics.margin(Decimal("1"), Decimal("8")) == Decimal("12.5")
    assert metrics.margin(Decimal("-30"), Decimal("100")) == Decimal("-30.0")


def test_totals_give_forecast_and_variance():
    t = metrics.Totals(
        revenue=Decimal("100"),
        costs=Decimal("150"),
        estimate_revenue=Decimal("100"),
        estimate_costs=Decimal("10"),
        budget_revenue=Decimal("120"),
        budget_cost=Decimal("90"),
    )
    assert t.profit == Decimal("-50")
    assert t.margin == Decimal("-50.0")
    assert t.forecast_profit == Decimal("40")
    assert t.forecast_margin == Decimal("20.0")
    assert (t.revenue_variance, t.cost_variance) == (Decimal("-20"), Decimal("60"))


def test_with_pnl_leaves_variance_empty_without_a_budget():
    frame = pd.DataFrame(
        {
            "revenue": [Decimal("0")],
            "costs": [Decimal("5")],
            "estimate_revenue": [Decimal("0")],
            "estimate_costs": [Decimal("0")],
            "budget_revenue": [None],
            "budget_cost": [None],
        }
    )
    out = metrics.with_pnl(frame)
    assert out.loc[0, "margin"] is None and out.loc[0, "revenue_variance"] is None
    assert out.loc[0, "profit"] == Decimal("-5")


def test_previous_period_is_the_months_before_or_equal_length_in_days():
    # whole months (every preset): the same number of whole months before, so both read pnl_monthly
    assert metrics.previous_period(date(2026, 4, 1), date(2026, 4, 30)) == (date(2026, 3, 1), date(2026, 3, 31))
    assert metrics.previous_period(date(2026, 1, 1), date(2026, 3, 31)) == (date(2025, 10, 1), date(2025, 12, 31))
    assert metrics.previous_period(date(2026, 4, 1), date(2027, 3, 31)) == (date(2025, 4, 1), date(2026, 3, 31))
    # any other range: the days of equal length just before it
    assert metrics.previous_period(date(2026, 4, 2), date(2026, 4, 30)) == (date(2026, 3, 4), date(2026, 4, 1))


def test_money_is_shown_in_full_with_the_pound_sign():
    assert money(Decimal("1234567.49")) == "£1,234,567"
    assert money(Decimal("-1234.5")) == "-£1,235"
    assert money(Decimal("0.5"), pence=True) == "£0.50"
    assert money(None) == "—"


def test_ageing_buckets_match_the_design():
    assert [metrics.ageing_bucket(d) for d in (-3, 0, 1, 30, 31, 60, 61, 90, 91)] == [
        "Current",
        "Current",
        "1-30",
        "1-30",
        "31-60",
        "31-60",
        "61-90",
        "61-90",
        "90+",
    ]


def test_period_presets():
    today = date(2026, 2, 14)
    assert metrics.preset_range("This month", today) == (date(2026, 2, 1), date(2026, 2, 28))
    assert metrics.preset_range("Last month", today) == (date(2026, 1, 1), date(2026, 1, 31))
    assert metrics.preset_range("This quarter", today) == (date(2026, 1, 1), date(2026, 3, 31))
    assert metrics.preset_range("This financial year", today) == (date(2025, 4, 1), date(2026, 3, 31))
    assert metrics.preset_range("This financial year", date(2026, 4, 1)) == (date(2026, 4, 1), date(2027, 3, 31))
    assert metrics.preset_range("Last 12 months", today) == (date(2025, 3, 1), date(2026, 2, 28))
    assert metrics.preset_range("All time", today) == (None, None)
    assert metrics.preset_range("This quarter", date(2026, 12, 31)) == (date(2026, 10, 1), date(2026, 12, 31))


def test_a_zero_budget_is_shown_for_editing_as_zero_not_empty():
    from milestone.formatting import amount_text

    assert amount_text(Decimal("0.00")) == "0.00"
    assert amount_text(None) == ""
    assert amount_text(Decimal("125000.50")) == "125000.50"


def test_projects_sharing_client_and_name_get_labels_that_tell_them_apart():
    from milestone.formatting import project_labels

    ids = [
        "aaaaaaaa-0000-4000-8000-000000000001",
        "bbbbbbbb-0000-4000-8000-000000000002",
        "cccccccc-0000-4000-8000-000000000003",
    ]
    labels = project_labels(ids, ["Twin Ltd", "Twin Ltd", "Solo Ltd"], ["Barn", "Barn", "House"])
    assert labels[ids[2]] == "Solo Ltd — House"
    assert labels[ids[0]] == "Twin Ltd — Barn (#aaaaaaaa)" and labels[ids[1]] == "Twin Ltd — Barn (#bbbbbbbb)"
    assert len(set(labels.values())) == 3


def test_a_previous_period_before_the_calendar_starts_is_none():
    assert metrics.previous_period(date(1, 1, 1), date(2026, 12, 31)) is None
    assert metrics.previous_period(date(1, 1, 3), date(1, 1, 7)) is None
    assert metrics.previous_period(date(1, 1, 10), date(1, 1, 12)) == (date(1, 1, 7), date(1, 1, 9))


def test_a_nul_character_in_any_text_is_refused_by_name():
    import pytest
    from pydantic import ValidationError

    from milestone.validation import PROJECT_LABELS, NewUser, ProjectInput, describe_errors, estimate_row

    with pytest.raises(ValidationError) as exc:
        ProjectInput(name="Barn\x00", client_name="Client")
    assert describe_errors(exc.value, PROJECT_LABELS) == ["Name: must not contain a NUL character (\\x00)"]
    with pytest.raises(ValidationError):
        NewUser(username="jo", display_name="Jo\x00", role="viewer")
    row, problems = estimate_row(
        {
            "project_id": "00000000-0000-4000-8000-000000000001",
            "kind": "cost",
            "description": "a\x00b",
            "amount": "1",
            "date": "2026-01-01",
        },
        "Row 1",
    )
    assert row is None and problems == ["Row 1, Description: must not contain a NUL character (\\x00)"]


def test_user_text_is_escaped_for_markdown_so_it_shows_as_typed():
    from milestone.formatting import as_text

    assert as_text("[win](http://evil.example)") == "\\[win\\]\\(http://evil\\.example\\)"
    assert as_text("**bold** _it_ :red[x] $x$ <b>") == "\\*\\*bold\\*\\* \\_it\\_ :red\\[x\\] \\$x\\$ \\<b\\>"
    assert as_text("line one\nline two") == "line one line two"
    assert as_text("Row 2, Amount: must be greater than 0") == "Row 2, Amount: must be greater than 0"

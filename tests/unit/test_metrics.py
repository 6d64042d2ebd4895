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
    t = metrics.Totals(revenue=Decimal("100"), costs=Decimal("150"), estimate_revenue=Decimal("100"),
                       estimate_costs=Decimal("10"), budget_revenue=Decimal("120"), budget_cost=Decimal("90"))
    assert t.profit == Decimal("-50")
    assert t.margin == Decimal("-50.0")
    assert t.forecast_profit == Decimal("40")
    assert t.forecast_margin == Decimal("20.0")
    assert (t.revenue_variance, t.cost_variance) == (Decimal("-20"), Decimal("60"))


def test_with_pnl_leaves_variance_empty_without_a_budget():
    frame = pd.DataFrame({"revenue": [Decimal("0")], "costs": [Decimal("5")], "estimate_revenue": [Decimal("0")],
                          "estimate_costs": [Decimal("0")], "budget_revenue": [None], "budget_cost": [None]})
    out = metrics.with_pnl(frame)
    assert out.loc[0, "margin"] is None and out.loc[0, "revenue_variance"] is None
    assert out.loc[0, "profit"] == Decimal("-5")


def test_previous_period_has_equal_length():
    assert metrics.previous_period(date(2026, 4, 1), date(2026, 4, 30)) == (date(2026, 3, 2), date(2026, 3, 31))


def test_money_is_shown_in_full_with_the_pound_sign():
    assert money(Decimal("1234567.49")) == "£1,234,567"
    assert money(Decimal("-1234.5")) == "-£1,235"
    assert money(Decimal("0.5"), pence=True) == "£0.50"
    assert money(None) == "—"


def test_ageing_buckets_match_the_design():
    assert [metrics.ageing_bucket(d) for d in (-3, 0, 1, 30, 31, 60, 61, 90, 91)] == [
        "Current", "Current", "1-30", "1-30", "31-60", "31-60", "61-90", "61-90", "90+"]


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

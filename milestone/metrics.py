"""Pure P&L arithmetic (docs/design.md, 'P&L definitions') on Decimals and DataFrames. No I/O."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

import pandas as pd

ZERO = Decimal("0.00")
CENT = Decimal("0.01")


def margin(profit: Decimal, revenue: Decimal) -> Decimal | None:
    """Margin % to one decimal; None (shown "—") when revenue is zero."""
    if not revenue:
        return None
    return (Decimal(100) * profit / revenue).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class Totals:
    """Sums for a set of projects, as the store returns them."""

    revenue: Decimal = ZERO
    costs: Decimal = ZERO
    estimate_revenue: Decimal = ZERO
    estimate_costs: Decimal = ZERO
    outstanding: Decimal = ZERO
    budget_revenue: Decimal = ZERO
    budget_cost: Decimal = ZERO

    @property
    def profit(self) -> Decimal:
        return self.revenue - self.costs

    @property
    def margin(self) -> Decimal | None:
        return margin(self.profit, self.revenue)

    @property
    def forecast_revenue(self) -> Decimal:
        return self.revenue + self.estimate_revenue

    @property
    def forecast_costs(self) -> Decimal:
        return self.costs + self.estimate_costs

    @property
    def forecast_profit(self) -> Decimal:
        return self.forecast_revenue - self.forecast_costs

    @property
    def forecast_margin(self) -> Decimal | None:
        return margin(self.forecast_profit, self.forecast_revenue)

    @property
    def revenue_variance(self) -> Decimal:
        return self.revenue - self.budget_revenue

    @property
    def cost_variance(self) -> Decimal:
        return self.costs - self.budget_cost

    def plus(self, other: Totals) -> Totals:
        """These sums and another's, figure by figure (projects + overheads = the practice)."""
        return Totals(*(getattr(self, f) + getattr(other, f) for f in self.__dataclass_fields__))

    def kpis(self) -> dict[str, Decimal | None]:
        """The dashboard's cards, labelled as accountants read them."""
        return {
            "Revenue": self.revenue,
            "Costs": self.costs,
            "Profit": self.profit,
            "Margin": self.margin,
            "Forecast profit": self.forecast_profit,
            "Forecast margin": self.forecast_margin,
            "Outstanding": self.outstanding,
        }


def _margin_column(profit: pd.Series, revenue: pd.Series) -> pd.Series:
    return pd.Series([margin(p, r) for p, r in zip(profit, revenue, strict=True)], index=profit.index, dtype=object)


def with_pnl(frame: pd.DataFrame) -> pd.DataFrame:
    """Add profit, margin, forecast and budget variance columns to per-project (or per-phase) sums.

    Expects Decimal columns revenue, costs, estimate_revenue, estimate_costs and, when present,
    budget_revenue/budget_cost (None = no budget, so no variance).
    """
    out = frame.copy()
    out["profit"] = out["revenue"] - out["costs"]
    out["margin"] = _margin_column(out["profit"], out["revenue"])
    out["forecast_revenue"] = out["revenue"] + out["estimate_revenue"]
    out["forecast_costs"] = out["costs"] + out["estimate_costs"]
    out["forecast_profit"] = out["forecast_revenue"] - out["forecast_costs"]
    out["forecast_margin"] = _margin_column(out["forecast_profit"], out["forecast_revenue"])
    if "budget_revenue" in out:
        out["revenue_variance"] = [
            None if b is None or pd.isna(b) else a - b
            for a, b in zip(out["revenue"], out["budget_revenue"], strict=True)
        ]
        out["cost_variance"] = [
            None if b is None or pd.isna(b) else a - b for a, b in zip(out["costs"], out["budget_cost"], strict=True)
        ]
    return out


def totals_of(frame: pd.DataFrame, outstanding: Decimal | None = None) -> Totals:
    """Sum a per-project frame into Totals (budgets: projects without one count as zero)."""

    def s(col: str) -> Decimal:
        if col not in frame or frame.empty:
            return ZERO
        return sum((v for v in frame[col] if v is not None and not pd.isna(v)), ZERO)

    return Totals(
        revenue=s("revenue"),
        costs=s("costs"),
        estimate_revenue=s("estimate_revenue"),
        estimate_costs=s("estimate_costs"),
        outstanding=s("outstanding") if outstanding is None else outstanding,
        budget_revenue=s("budget_revenue"),
        budget_cost=s("budget_cost"),
    )


def previous_period(date_from: date, date_to: date) -> tuple[date, date] | None:
    """The period just before this one (for KPI deltas), or None when that would start before
    the calendar does (a period from the year 1). A period of whole months (every preset) is
    compared with the same number of whole months before it (April with March, a quarter with
    the quarter before), so both read the monthly rollup; any other period with the period of
    equal length in days that ends the day before date_from."""
    if date_from.day == 1 and (date_to + timedelta(days=1)).day == 1 and date_to >= date_from:
        months = (date_to.year - date_from.year) * 12 + date_to.month - date_from.month + 1
        year, month = divmod(date_from.year * 12 + date_from.month - 1 - months, 12)
        if year < 1:
            return None
        return date(year, month + 1, 1), date_from - timedelta(days=1)
    length = (date_to - date_from).days + 1
    if length < 1 or (date_from - date.min).days < length:
        return None
    return date_from - timedelta(days=length), date_from - timedelta(days=1)


def with_cumulative_profit(monthly: pd.DataFrame) -> pd.DataFrame:
    out = monthly.sort_values("month").copy()
    out["profit"] = out["revenue"] - out["costs"]
    out["cumulative_profit"] = out["profit"].cumsum()
    return out


AGEING_BUCKETS = ("Current", "1-30", "31-60", "61-90", "90+")


def ageing_bucket(days_overdue: int) -> str:
    if days_overdue <= 0:
        return "Current"
    if days_overdue <= 30:
        return "1-30"
    if days_overdue <= 60:
        return "31-60"
    if days_overdue <= 90:
        return "61-90"
    return "90+"


PRESETS = ("All time", "This month", "Last month", "This quarter", "This financial year", "Last 12 months", "Custom")
FINANCIAL_YEAR_START_MONTH = 4  # UK practice: the financial year starts on 1 April


def preset_range(preset: str, today: date) -> tuple[date | None, date | None]:
    """The (from, to) dates of a period preset, inclusive; (None, None) for all time or custom."""
    if preset == "This month":
        return today.replace(day=1), _month_end(today)
    if preset == "Last month":
        last = today.replace(day=1) - timedelta(days=1)
        return last.replace(day=1), last
    if preset == "This quarter":
        first_month = 3 * ((today.month - 1) // 3) + 1
        start = date(today.year, first_month, 1)
        return start, _month_end(date(today.year, first_month + 2, 1))
    if preset == "This financial year":
        year = today.year if today.month >= FINANCIAL_YEAR_START_MONTH else today.year - 1
        return date(year, FINANCIAL_YEAR_START_MONTH, 1), date(year + 1, FINANCIAL_YEAR_START_MONTH, 1) - timedelta(
            days=1
        )
    if preset == "Last 12 months":
        start = (today.replace(day=1) - timedelta(days=1)).replace(day=1)
        for _ in range(10):
            start = (start - timedelta(days=1)).replace(day=1)
        return start, _month_end(today)
    return None, None


def _month_end(d: date) -> date:
    nxt = (d.replace(day=28) + timedelta(days=4)).replace(day=1)
    return nxt - timedelta(days=1)

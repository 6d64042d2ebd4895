"""Matplotlib charts for the PDF reports: DataFrame in, PNG bytes out. No SQL, no PDF.

The dashboard's Plotly charts need a browser (kaleido) to become images; matplotlib draws
them in-process (a bare Figure saves through Agg, so no backend is ever chosen or shown).
Every series is told apart by fill grey *and* hatching or line style and marker, so a report
printed in black and white reads the same as on screen. The object API (Figure, not pyplot)
keeps no global figure state; the print style is applied with
rc_context, which is global, so one lock serialises drawing across Streamlit's threads.
"""

from __future__ import annotations

import io
import threading
from collections.abc import Iterable, Sequence
from typing import Any

import matplotlib
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MaxNLocator
from matplotlib.typing import RcKeyType

from milestone.metrics import AGEING_BUCKETS
from milestone.validation import PROJECT_STATUSES

# (face grey, hatch) per series: light-to-dark greys plus patterns, readable on a mono printer.
STYLE = {
    "revenue": ("0.92", "////"),
    "costs": ("0.45", ""),
    "profit": ("white", "...."),
    "budget": ("white", "xxx"),
    "forecast": ("0.75", "\\\\\\\\"),
}
DPI = 200
_LOCK = threading.Lock()
_RC: dict[RcKeyType, Any] = {
    "hatch.linewidth": 0.5,
    "font.size": 8,
    "axes.titlesize": 9,
    "axes.titleweight": "bold",
    "axes.titlelocation": "left",
    "axes.spines.top": False,
    "axes.spines.right": False,
    "legend.fontsize": 7,
    "legend.frameon": False,
}


def _f(values: Iterable) -> list[float]:
    """Decimals (or None) to floats for drawing; the one place money leaves Decimal."""
    return [0.0 if v is None or pd.isna(v) else float(v) for v in values]


def _pounds(x: float, _pos=None) -> str:
    return f"-£{abs(x):,.0f}" if x < 0 else f"£{x:,.0f}"


def _bars(ax, x: Sequence[float], heights: Sequence[float], width: float, style: str, label: str):
    face, hatch = STYLE[style]
    return ax.bar(x, heights, width, color=face, hatch=hatch, edgecolor="black", linewidth=0.5, label=label)


def _money_axis(axis) -> None:
    axis.set_major_formatter(FuncFormatter(_pounds))
    axis.set_major_locator(MaxNLocator(6))


def _empty(ax, message: str) -> None:
    ax.text(0.5, 0.5, message, ha="center", va="center", transform=ax.transAxes, color="0.3")
    ax.set_xticks([])
    ax.set_yticks([])


def _draw(width_mm: float, height_mm: float, title: str, paint) -> bytes:
    """Build a figure under the print style and let `paint(ax)` fill it."""
    with _LOCK, matplotlib.rc_context(_RC):
        fig = Figure(figsize=(width_mm / 25.4, height_mm / 25.4), dpi=DPI, layout="constrained")
        ax = fig.add_subplot()
        ax.set_title(title)
        paint(ax)
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=DPI, facecolor="white")
        return buf.getvalue()


def _actual_months(frame: pd.DataFrame) -> pd.DataFrame:
    """Months in order, without the trailing ones that hold only estimates (nothing to draw but zeros)."""
    m = frame.sort_values("month")
    actual = [bool(r or c) for r, c in zip(m["revenue"], m["costs"], strict=True)]
    last = max((i for i, a in enumerate(actual) if a), default=-1)
    return m.iloc[: last + 1]


def _legend_above(ax) -> None:
    """Legend on the title's line, at the right, so it never covers a bar."""
    ax.legend(loc="lower right", bbox_to_anchor=(1, 1), ncols=3, borderaxespad=0.2)


def monthly(frame: pd.DataFrame, width_mm: float = 186, height_mm: float = 75) -> bytes:
    """Revenue and cost bars per month with the profit line (solid, round markers)."""

    def paint(ax):
        m = _actual_months(frame)
        if m.empty:
            return _empty(ax, "Nothing to show for these filters")
        x = list(range(len(m)))
        rev, cost = _f(m["revenue"]), _f(m["costs"])
        _bars(ax, [i - 0.2 for i in x], rev, 0.4, "revenue", "Revenue")
        _bars(ax, [i + 0.2 for i in x], cost, 0.4, "costs", "Costs")
        ax.plot(
            x,
            [r - c for r, c in zip(rev, cost, strict=True)],
            color="black",
            linewidth=1.2,
            marker="o",
            markersize=2.5,
            label="Profit",
        )
        ax.axhline(0, color="black", linewidth=0.6)
        labels = [f"{pd.Timestamp(d):%b %y}" for d in m["month"]]
        step = max(1, len(x) // 18)
        ax.set_xticks(x[::step], labels[::step], rotation=45, ha="right")
        _money_axis(ax.yaxis)
        _legend_above(ax)

    return _draw(width_mm, height_mm, "Monthly revenue and costs", paint)


def cumulative(frame: pd.DataFrame, width_mm: float = 92, height_mm: float = 62) -> bytes:
    """Running total of profit (expects metrics.with_cumulative_profit's column)."""

    def paint(ax):
        m = _actual_months(frame)
        if m.empty:
            return _empty(ax, "Nothing to show for these filters")
        x = list(range(len(m)))
        y = _f(m["cumulative_profit"])
        ax.fill_between(x, y, color="0.85", hatch="///", edgecolor="0.4", linewidth=0)
        ax.plot(x, y, color="black", linewidth=1.2)
        ax.axhline(0, color="black", linewidth=0.6)
        labels = [f"{pd.Timestamp(d):%b %y}" for d in m["month"]]
        step = max(1, len(x) // 6)
        ax.set_xticks(x[::step], labels[::step], rotation=45, ha="right")
        _money_axis(ax.yaxis)

    return _draw(width_mm, height_mm, "Cumulative profit", paint)


def ageing(frame: pd.DataFrame, width_mm: float = 92, height_mm: float = 62) -> bytes:
    """Outstanding receivables per days-past-due bucket, darker as they get older."""
    amounts = dict.fromkeys(AGEING_BUCKETS, 0.0)
    for bucket, amount in zip(frame.get("bucket", []), frame.get("amount", []), strict=True):
        amounts[bucket] = float(amount)

    def paint(ax):
        greys = ["0.95", "0.8", "0.6", "0.4", "0.2"]
        hatches = ["", "//", "xx", "", ""]
        ax.bar(list(amounts), list(amounts.values()), color=greys, hatch=hatches, edgecolor="black", linewidth=0.5)
        ax.set_xlabel("Days past due")
        _money_axis(ax.yaxis)

    return _draw(width_mm, height_mm, "Receivables ageing", paint)


def by_phase(phases: pd.DataFrame, width_mm: float = 186, height_mm: float = 68) -> bytes:
    """Revenue, costs and profit per build phase, grouped bars."""

    def paint(ax):
        if phases.empty:
            return _empty(ax, "Nothing to show for these filters")
        x = list(range(len(phases)))
        rev, cost = _f(phases["revenue"]), _f(phases["costs"])
        _bars(ax, [i - 0.27 for i in x], rev, 0.27, "revenue", "Revenue")
        _bars(ax, x, cost, 0.27, "costs", "Costs")
        _bars(ax, [i + 0.27 for i in x], [r - c for r, c in zip(rev, cost, strict=True)], 0.27, "profit", "Profit")
        ax.axhline(0, color="black", linewidth=0.6)
        ax.set_xticks(x, [_short(p, 16) for p in phases["phase"]], rotation=20, ha="right")
        _money_axis(ax.yaxis)
        _legend_above(ax)

    return _draw(width_mm, height_mm, "Revenue, costs and profit by build phase", paint)


def profit_by_client(projects: pd.DataFrame, n: int = 12, width_mm: float = 110, height_mm: float = 75) -> bytes:
    """Profit of the n clients with most revenue; losses hatched so they stand out without red."""

    def paint(ax):
        if projects.empty:
            return _empty(ax, "Nothing to show for these filters")
        by_client = (
            projects.assign(r=_f(projects["revenue"]), p=_f(projects["profit"]))
            .groupby("client_name")[["r", "p"]]
            .sum()
            .sort_values("r", ascending=False)
            .head(n)
            .sort_values("p")
        )
        y = list(range(len(by_client)))
        profits = list(by_client["p"])
        ax.barh(
            y,
            profits,
            0.6,
            color=["0.3" if p < 0 else "0.8" for p in profits],
            hatch=["xxx" if p < 0 else "" for p in profits],
            edgecolor="black",
            linewidth=0.5,
        )
        ax.axvline(0, color="black", linewidth=0.6)
        ax.set_yticks(y, [_short(c, 26) for c in by_client.index])
        _money_axis(ax.xaxis)
        ax.tick_params(axis="x", rotation=30)

    return _draw(width_mm, height_mm, f"Profit by client (top {n} by revenue)", paint)


def by_status(projects: pd.DataFrame, width_mm: float = 72, height_mm: float = 75) -> bytes:
    """How many projects are in each status (bars with counts, not a colour-coded donut)."""
    order = list(PROJECT_STATUSES)
    counts = projects["status"].value_counts() if not projects.empty else pd.Series(dtype=int)
    values = [int(counts.get(s, 0)) for s in order]

    def paint(ax):
        bars = ax.bar(range(4), values, 0.6, color="0.8", edgecolor="black", linewidth=0.5)
        ax.bar_label(bars, fontsize=7)
        ax.set_xticks(range(4), order, rotation=20, ha="right")
        ax.yaxis.set_major_locator(MaxNLocator(5, integer=True))

    return _draw(width_mm, height_mm, "Projects by status", paint)


def budget_actual_forecast(
    budget: Sequence, actual: Sequence, forecast: Sequence, width_mm: float = 80, height_mm: float = 62
) -> bytes:
    """One project's (revenue, costs) as budget, actual and forecast; no budget draws no bar."""

    def paint(ax):
        x = [0, 1]
        _bars(ax, [i - 0.27 for i in x], _f(budget), 0.27, "budget", "Budget")
        _bars(ax, x, _f(actual), 0.27, "costs", "Actual")
        _bars(ax, [i + 0.27 for i in x], _f(forecast), 0.27, "forecast", "Forecast")
        ax.set_xticks(x, ["Revenue", "Costs"])
        _money_axis(ax.yaxis)
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.1), ncols=3)

    return _draw(width_mm, height_mm, "Budget vs actual vs forecast", paint)


def _short(text: str, n: int) -> str:
    text = str(text)
    return text if len(text) <= n else text[: n - 1] + "…"

"""Plotly figure builders: DataFrame in, Figure out. No Streamlit, no SQL.

One colour map for every chart, so revenue, costs and profit look the same everywhere.
"""
from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

COLOURS = {"revenue": "#2E7D32", "costs": "#C62828", "profit": "#1565C0", "forecast": "#90A4AE",
           "loss": "#C62828", "budget": "#9E9E9E"}
MONEY_HOVER = "£%{y:,.2f}"


def _layout(fig: go.Figure, title: str, height: int = 380) -> go.Figure:
    fig.update_layout(title=title, height=height, margin=dict(l=10, r=10, t=50, b=10),
                      legend=dict(orientation="h", yanchor="bottom", y=1.0, xanchor="right", x=1),
                      yaxis=dict(tickprefix="£", tickformat=",.0f"), hovermode="x unified")
    return fig


def monthly_revenue_costs(monthly: pd.DataFrame) -> go.Figure:
    """Bars of revenue and costs per month with the profit line."""
    m = monthly.sort_values("month")
    x = pd.to_datetime(m["month"])
    rev, cost = m["revenue"].astype(float), m["costs"].astype(float)
    fig = go.Figure([
        go.Bar(x=x, y=rev, name="Revenue", marker_color=COLOURS["revenue"], hovertemplate=MONEY_HOVER),
        go.Bar(x=x, y=cost, name="Costs", marker_color=COLOURS["costs"], hovertemplate=MONEY_HOVER),
        go.Scatter(x=x, y=rev - cost, name="Profit", mode="lines+markers",
                   line=dict(color=COLOURS["profit"], width=3), hovertemplate=MONEY_HOVER),
    ])
    fig.update_layout(barmode="group")
    return _layout(fig, "Monthly revenue and costs")

"""Plotly figure builders: DataFrame in, Figure out. No Streamlit, no SQL.

One colour map for every chart, so revenue, costs and profit look the same everywhere.
Money arrives as Decimal and becomes float only here, for drawing; hovers show exact pounds.
"""

from __future__ import annotations

import html

import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio

from milestone.metrics import AGEING_BUCKETS

COLOURS = {
    "revenue": "#2E7D32",
    "costs": "#C62828",
    "profit": "#1565C0",
    "forecast": "#90A4AE",
    "loss": "#C62828",
    "gain": "#2E7D32",
    "budget": "#9E9E9E",
    "over": "#E65100",
}
STATUS_COLOURS = {"Planning": "#90A4AE", "In Progress": "#1565C0", "Completed": "#2E7D32", "On Hold": "#F9A825"}
AGEING_COLOURS = ["#2E7D32", "#9E9D24", "#F9A825", "#EF6C00", "#C62828"]
MONEY_HOVER = "%{fullData.name}: £%{y:,.2f}<extra></extra>"
MONEY_HOVER_X = "%{y}: £%{x:,.2f}<extra></extra>"


def _template() -> go.layout.Template:
    """plotly_white cut down to what these charts use (2-D axes, bars, lines, a pie): the whole
    template is 7 kB of JSON in every figure sent to the browser (8 on the Dashboard) and is
    deep-copied whenever a figure is drawn; this one is under 1 kB and looks the same."""
    white = pio.templates["plotly_white"]
    keep = {"autotypenumbers", "colorway", "font", "hovermode", "hoverlabel", "paper_bgcolor", "plot_bgcolor"}
    keep |= {"xaxis", "yaxis", "title", "shapedefaults", "annotationdefaults"}
    layout = {k: v for k, v in white.layout.to_plotly_json().items() if k in keep}
    data = {k: v for k, v in white.data.to_plotly_json().items() if k in ("bar", "scatter", "pie")}
    return go.layout.Template(layout=layout, data=data)


# Every figure starts from this template as plotly's default (go.Figure applies the default
# without validating it; naming it in each figure's layout would cost ~1 ms of validation per
# figure, plotly_white ~0.1 s). `import streamlit` sets the default to its own theme, so _figure
# sets ours again whenever it is not the default: the look never depends on import order.
pio.templates["milestone"] = _template()


def _f(series: pd.Series) -> list[float]:
    return [float(v) for v in series]


def _labels(values) -> list[str]:
    """Names as plotly labels: plotly reads <a>, <b> and <br> in labels as markup, so < > & are
    written as entities and a name shows exactly as typed, never as a link."""
    return [html.escape(str(v), quote=False) for v in values]


def _figure(data, title: str, height: int = 380, money_axis: str = "y", **layout) -> go.Figure:
    """The figure in one constructor call, its layout complete: building it with update_layout /
    update_xaxes afterwards costs about five times as much (plotly validates each update)."""
    if pio.templates.default != "milestone":
        pio.templates.default = "milestone"
    axis = dict(tickprefix="£", tickformat=",.0f", separatethousands=True)
    if money_axis in ("x", "y"):
        layout[f"{money_axis}axis"] = {**axis, **layout.get(f"{money_axis}axis", {})}
    return go.Figure(
        data=data,
        layout=dict(
            title=dict(text=title, x=0, font=dict(size=16)),
            height=height,
            margin=dict(l=10, r=10, t=60, b=10),
            legend=dict(orientation="h", yanchor="bottom", y=1.0, xanchor="right", x=1),
        )
        | layout,
    )


def empty(title: str, message: str = "Nothing to show for these filters") -> go.Figure:
    return _figure(
        [],
        title,
        height=220,
        money_axis="none",
        annotations=[dict(text=message, showarrow=False, font=dict(size=14, color="#666"))],
        xaxis=dict(visible=False),
        yaxis=dict(visible=False),
    )


def monthly_revenue_costs(monthly: pd.DataFrame) -> go.Figure:
    """Bars of revenue and costs per month with the profit line."""
    title = "Monthly revenue and costs"
    if monthly.empty:
        return empty(title)
    m = monthly.sort_values("month")
    x = pd.to_datetime(m["month"])
    rev, cost = _f(m["revenue"]), _f(m["costs"])
    return _figure(
        [
            go.Bar(x=x, y=rev, name="Revenue", marker_color=COLOURS["revenue"], hovertemplate=MONEY_HOVER),
            go.Bar(x=x, y=cost, name="Costs", marker_color=COLOURS["costs"], hovertemplate=MONEY_HOVER),
            go.Scatter(
                x=x,
                y=[r - c for r, c in zip(rev, cost, strict=True)],
                name="Profit",
                mode="lines+markers",
                line=dict(color=COLOURS["profit"], width=3),
                hovertemplate=MONEY_HOVER,
            ),
        ],
        title,
        barmode="group",
        hovermode="x unified",
    )


def cumulative_profit(monthly: pd.DataFrame) -> go.Figure:
    """Running total of profit month by month (expects a cumulative_profit column)."""
    title = "Cumulative profit"
    if monthly.empty:
        return empty(title)
    m = monthly.sort_values("month")
    return _figure(
        [
            go.Scatter(
                x=pd.to_datetime(m["month"]),
                y=_f(m["cumulative_profit"]),
                name="Cumulative profit",
                mode="lines",
                fill="tozeroy",
                line=dict(color=COLOURS["profit"], width=3),
                hovertemplate=MONEY_HOVER,
            )
        ],
        title,
        height=320,
    )


def margin_by_project(projects: pd.DataFrame, n: int = 10) -> go.Figure:
    """Top and bottom n projects by margin; loss makers in red. Projects without revenue are left out."""
    cols = projects[["id", "name", "margin", "profit"]]  # sort 4 columns, not the whole table
    with_margin = cols[[m is not None for m in cols["margin"]]]
    title = f"Margin by project (top and bottom {n} of {len(with_margin):,} with revenue)"
    if with_margin.empty:
        return empty("Margin by project", "No project has revenue for these filters")
    ordered = with_margin.assign(m=[float(v) for v in with_margin["margin"]]).sort_values("m")
    picked = pd.concat([ordered.head(n), ordered.tail(n)]).drop_duplicates("id").sort_values("m")
    colours = [COLOURS["loss"] if p < 0 else COLOURS["gain"] for p in _f(picked["profit"])]
    return _figure(
        [
            go.Bar(
                x=picked["m"],
                y=_labels(picked["name"]),
                orientation="h",
                marker_color=colours,
                name="Margin",
                customdata=[[float(p)] for p in picked["profit"]],
                hovertemplate="%{y}<br>Margin %{x:.1f}%<br>Profit £%{customdata[0]:,.2f}<extra></extra>",
            )
        ],
        title,
        height=max(320, 26 * len(picked) + 80),
        money_axis="none",
        xaxis=dict(ticksuffix="%"),
        yaxis=dict(automargin=True),
    )


def profit_by_client(projects: pd.DataFrame, n: int = 15) -> go.Figure:
    if projects.empty:
        return empty("Profit by client")
    title = f"Profit by client (top {n} of {projects['client_name'].nunique():,} clients by revenue)"
    money = pd.DataFrame(
        {"client_name": projects["client_name"], "revenue": _f(projects["revenue"]), "profit": _f(projects["profit"])}
    )
    by_client = money.groupby("client_name").agg(revenue=("revenue", "sum"), profit=("profit", "sum")).reset_index()
    by_client = by_client.assign(r=_f(by_client["revenue"])).sort_values("r", ascending=False).head(n)
    by_client = by_client.assign(p=_f(by_client["profit"])).sort_values("p")
    colours = [COLOURS["loss"] if p < 0 else COLOURS["profit"] for p in by_client["p"]]
    return _figure(
        [
            go.Bar(
                x=by_client["p"],
                y=_labels(by_client["client_name"]),
                orientation="h",
                marker_color=colours,
                name="Profit",
                hovertemplate=MONEY_HOVER_X,
            )
        ],
        title,
        height=max(320, 26 * len(by_client) + 80),
        money_axis="x",
        yaxis=dict(automargin=True),
    )


def budget_vs_actual(projects: pd.DataFrame, n: int = 15) -> go.Figure:
    """Revenue and costs against budget for the projects furthest over their cost budget."""
    cols = projects[["name", "cost_variance", "budget_revenue", "revenue", "budget_cost", "costs"]]
    budgeted = cols[[v is not None and not pd.isna(v) for v in cols["cost_variance"]]]
    title = f"Budget vs actual ({min(n, len(budgeted))} of {len(budgeted):,} budgeted projects, most over budget first)"
    if budgeted.empty:
        return empty("Budget vs actual", "No project with a budget matches these filters")
    top = budgeted.assign(v=_f(budgeted["cost_variance"])).sort_values("v", ascending=False).head(n)
    names = _labels(top["name"])
    over = [v > 0 for v in top["v"]]
    return _figure(
        [
            go.Bar(
                x=names,
                y=_f(top["budget_revenue"]),
                name="Revenue budget",
                marker_color="#A5D6A7",
                hovertemplate=MONEY_HOVER,
            ),
            go.Bar(
                x=names,
                y=_f(top["revenue"]),
                name="Revenue",
                marker_color=COLOURS["revenue"],
                hovertemplate=MONEY_HOVER,
            ),
            go.Bar(
                x=names, y=_f(top["budget_cost"]), name="Cost budget", marker_color="#EF9A9A", hovertemplate=MONEY_HOVER
            ),
            go.Bar(
                x=names,
                y=_f(top["costs"]),
                name="Costs",
                hovertemplate=MONEY_HOVER,
                marker=dict(
                    color=[COLOURS["over"] if o else COLOURS["costs"] for o in over],
                    line=dict(color=["#000" if o else "rgba(0,0,0,0)" for o in over], width=2),
                ),
            ),
        ],
        title,
        height=420,
        barmode="group",
        xaxis=dict(tickangle=-30, automargin=True),
    )


def receivables_ageing(ageing: pd.DataFrame) -> go.Figure:
    title = "Receivables ageing (days past due)"
    amounts = {b: 0.0 for b in AGEING_BUCKETS}
    for _, r in ageing.iterrows():
        amounts[r["bucket"]] = float(r["amount"])
    return _figure(
        [
            go.Bar(
                x=list(amounts),
                y=list(amounts.values()),
                marker_color=AGEING_COLOURS,
                name="Outstanding",
                hovertemplate="%{x}: £%{y:,.2f}<extra></extra>",
            )
        ],
        title,
        height=320,
    )


def projects_by_status(projects: pd.DataFrame) -> go.Figure:
    title = "Projects by status"
    if projects.empty:
        return empty(title)
    counts = projects["status"].value_counts()
    order = [s for s in STATUS_COLOURS if s in counts]
    return _figure(
        [
            go.Pie(
                labels=order,
                values=[int(counts[s]) for s in order],
                hole=0.5,
                sort=False,
                marker=dict(colors=[STATUS_COLOURS[s] for s in order]),
                hovertemplate="%{label}: %{value} projects<extra></extra>",
            )
        ],
        title,
        height=320,
        money_axis="none",
    )


def by_phase(phases: pd.DataFrame) -> go.Figure:
    """Revenue, costs and profit per build phase."""
    title = "Revenue, costs and profit by build phase"
    if phases.empty:
        return empty(title)
    names = _labels(phases["phase"])
    rev, cost = _f(phases["revenue"]), _f(phases["costs"])
    return _figure(
        [
            go.Bar(x=names, y=rev, name="Revenue", marker_color=COLOURS["revenue"], hovertemplate=MONEY_HOVER),
            go.Bar(x=names, y=cost, name="Costs", marker_color=COLOURS["costs"], hovertemplate=MONEY_HOVER),
            go.Bar(
                x=names,
                y=[r - c for r, c in zip(rev, cost, strict=True)],
                name="Profit",
                marker_color=COLOURS["profit"],
                hovertemplate=MONEY_HOVER,
            ),
        ],
        title,
        barmode="group",
    )


def budget_actual_forecast(budget_revenue, revenue, forecast_revenue, budget_cost, costs, forecast_costs) -> go.Figure:
    """One project's budget vs actual vs forecast, for revenue and for costs (None budget = no bar)."""
    cats = ["Revenue", "Costs"]

    def v(x):
        return None if x is None or pd.isna(x) else float(x)

    return _figure(
        [
            go.Bar(
                x=cats,
                y=[v(budget_revenue), v(budget_cost)],
                name="Budget",
                marker_color=COLOURS["budget"],
                hovertemplate=MONEY_HOVER,
            ),
            go.Bar(
                x=cats,
                y=[v(revenue), v(costs)],
                name="Actual",
                marker_color=[COLOURS["revenue"], COLOURS["costs"]],
                hovertemplate=MONEY_HOVER,
            ),
            go.Bar(
                x=cats,
                y=[v(forecast_revenue), v(forecast_costs)],
                name="Forecast",
                marker_color=COLOURS["forecast"],
                hovertemplate=MONEY_HOVER,
            ),
        ],
        "Budget vs actual vs forecast",
        height=360,
        barmode="group",
        legend=dict(orientation="h", yanchor="top", y=-0.12, xanchor="left", x=0),  # a narrow column
    )

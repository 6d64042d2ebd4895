"""Chart builders on small frames: traces, colours and values."""

from datetime import date
from decimal import Decimal as D

import pandas as pd

from milestone import charts, metrics


def _projects():
    frame = pd.DataFrame(
        {
            "id": ["a", "b", "c"],
            "name": ["Alpha", "Beta", "Gamma"],
            "client_name": ["X", "X", "Y"],
            "status": ["In Progress", "Completed", "In Progress"],
            "revenue": [D("100"), D("0"), D("50")],
            "costs": [D("80"), D("30"), D("70")],
            "estimate_revenue": [D("0")] * 3,
            "estimate_costs": [D("0")] * 3,
            "budget_revenue": [D("120"), None, D("40")],
            "budget_cost": [D("70"), None, D("60")],
        }
    )
    return metrics.with_pnl(frame)


def test_monthly_chart_has_revenue_costs_and_profit_in_the_shared_colours():
    monthly = pd.DataFrame(
        {"month": [date(2026, 1, 1), date(2026, 2, 1)], "revenue": [D("10"), D("20")], "costs": [D("4"), D("25")]}
    )
    fig = charts.monthly_revenue_costs(monthly)
    assert [t.name for t in fig.data] == ["Revenue", "Costs", "Profit"]
    assert fig.data[0].marker.color == charts.COLOURS["revenue"] and fig.data[1].marker.color == charts.COLOURS["costs"]
    assert list(fig.data[2].y) == [6.0, -5.0]
    assert "£" in fig.data[0].hovertemplate


def test_margin_chart_leaves_out_projects_without_revenue_and_colours_losses_red():
    fig = charts.margin_by_project(_projects())
    bar = fig.data[0]
    assert list(bar.y) == ["Gamma", "Alpha"]  # Beta has no revenue, so no margin
    assert list(bar.marker.color) == [charts.COLOURS["loss"], charts.COLOURS["gain"]]
    assert list(bar.x) == [-40.0, 20.0]
    # a percentage axis, not money: "-40%", never "£-40%"
    assert fig.layout.xaxis.ticksuffix == "%" and fig.layout.xaxis.tickprefix is None


def test_money_axes_are_pounds_and_every_figure_starts_from_the_small_template():
    import streamlit.elements.plotly_chart  # noqa: F401 - sets plotly's global default to Streamlit's theme

    monthly = pd.DataFrame({"month": [date(2026, 1, 1)], "revenue": [D("10")], "costs": [D("4")]})
    fig = charts.monthly_revenue_costs(monthly)
    assert fig.layout.yaxis.tickprefix == "£" and fig.layout.yaxis.tickformat == ",.0f"
    assert fig.layout.template.layout.plot_bgcolor == "white"  # ours, whatever the import order
    assert len(fig.layout.template.to_plotly_json().__repr__()) < 2000  # not the whole of plotly_white
    assert charts.profit_by_client(_projects()).layout.xaxis.tickprefix == "£"


def test_profit_by_client_sums_projects():
    fig = charts.profit_by_client(_projects())
    assert dict(zip(fig.data[0].y, fig.data[0].x, strict=True)) == {"X": -10.0, "Y": -20.0}


def test_budget_chart_highlights_projects_over_their_cost_budget():
    fig = charts.budget_vs_actual(_projects())
    costs = fig.data[3]
    assert list(costs.x) == ["Alpha", "Gamma"]  # Beta has no budget
    assert list(costs.marker.color) == [charts.COLOURS["over"], charts.COLOURS["over"]]


def test_ageing_chart_always_shows_every_bucket_in_order():
    fig = charts.receivables_ageing(pd.DataFrame({"bucket": ["90+"], "amount": [D("5")]}))
    assert list(fig.data[0].x) == list(metrics.AGEING_BUCKETS) and list(fig.data[0].y) == [0, 0, 0, 0, 5.0]


def test_status_and_phase_charts():
    status = charts.projects_by_status(_projects())
    assert dict(zip(status.data[0].labels, status.data[0].values, strict=True)) == {"In Progress": 2, "Completed": 1}
    phases = pd.DataFrame({"phase": ["Frame", "Unassigned"], "revenue": [D("5"), D("1")], "costs": [D("2"), D("3")]})
    fig = charts.by_phase(phases)
    assert [t.name for t in fig.data] == ["Revenue", "Costs", "Profit"] and list(fig.data[2].y) == [3.0, -2.0]


def test_empty_frames_give_a_friendly_empty_chart():
    empty = pd.DataFrame(columns=["month", "revenue", "costs", "cumulative_profit"])
    for fig in (charts.monthly_revenue_costs(empty), charts.cumulative_profit(empty)):
        assert fig.layout.annotations[0].text.startswith("Nothing to show")


def test_names_in_chart_labels_are_text_not_markup():
    from decimal import Decimal

    projects = pd.DataFrame(
        {
            "id": ["1"],
            "name": ['<a href="http://evil.example">Barn</a>'],
            "client_name": ["<b>Client</b> & Co"],
            "margin": [Decimal("10")],
            "profit": [Decimal("5")],
            "revenue": [Decimal("50")],
        }
    )
    margin = charts.margin_by_project(projects)
    assert list(margin.data[0].y) == ['&lt;a href="http://evil.example"&gt;Barn&lt;/a&gt;']
    clients = charts.profit_by_client(projects)
    assert list(clients.data[0].y) == ["&lt;b&gt;Client&lt;/b&gt; &amp; Co"]

"""KPI cards and P&L tables as Streamlit shows them (formatting only; numbers come computed)."""
from __future__ import annotations

from decimal import Decimal

import pandas as pd
import streamlit as st

from milestone.formatting import money, pct
from milestone.metrics import Totals

MONEY_COLUMNS = {"revenue": "Revenue", "costs": "Costs", "profit": "Profit", "budget_revenue": "Revenue budget",
                 "budget_cost": "Cost budget", "revenue_variance": "Revenue vs budget", "cost_variance": "Costs vs budget",
                 "forecast_revenue": "Forecast revenue", "forecast_costs": "Forecast costs",
                 "forecast_profit": "Forecast profit", "estimate_revenue": "Estimated revenue",
                 "estimate_costs": "Estimated costs", "outstanding": "Outstanding"}
PCT_COLUMNS = {"margin": "Margin", "forecast_margin": "Forecast margin"}
KPI_CARD_WIDTH = 250  # px: fits £999,999,999 at Streamlit's metric size


def _delta(label: str, now, before) -> str | None:
    if now is None or before is None:
        return None
    diff = Decimal(now) - Decimal(before)
    if "margin" in label.lower():
        return f"{diff:+.1f} pp"
    return ("+" if diff >= 0 else "") + money(diff)


def kpi_cards(totals: Totals, previous: Totals | None = None, period_label: str = "") -> None:
    """The seven KPI cards, wide enough for full amounts; they wrap onto more rows on a tablet.
    Deltas compare with the previous period of equal length when one is given."""
    now = totals.kpis()
    before = previous.kpis() if previous else {}
    help_text = f"Change against {period_label}" if period_label else None
    with st.container(horizontal=True, wrap=True, gap="small"):
        for label, value in now.items():
            shown = pct(value) if "margin" in label.lower() else money(value)
            st.metric(label, shown, delta=_delta(label, value, before.get(label)) if previous else None,
                      delta_color="inverse" if label == "Costs" else "normal", help=help_text, border=True,
                      width=KPI_CARD_WIDTH)


def money_table(frame: pd.DataFrame, columns: dict[str, str], height: int | None = None, key: str | None = None,
                link_column: str | None = None, selectable: bool = False):
    """Show `frame[columns]` with money as £1,234 and margins as 12.5% while sorting on the numbers.

    `columns` maps frame columns to headings, in order. Loss-making rows' profit is shown in red.
    """
    shown = frame[list(columns)].copy()
    fmt = {}
    for c in shown.columns:
        if c in MONEY_COLUMNS:
            shown[c] = pd.to_numeric(pd.Series([None if v is None else float(v) for v in shown[c]], index=shown.index))
            fmt[c] = lambda v: money(None if pd.isna(v) else v)
        elif c in PCT_COLUMNS:
            shown[c] = pd.to_numeric(pd.Series([None if v is None else float(v) for v in shown[c]], index=shown.index))
            fmt[c] = lambda v: pct(None if pd.isna(v) else v)
    styler = shown.style.format(fmt)
    red = [c for c in ("profit", "forecast_profit", "margin") if c in shown.columns]
    if red:
        styler = styler.map(lambda v: "color: #C62828" if isinstance(v, float) and v < 0 else "", subset=red)
    config = {c: st.column_config.Column(label) for c, label in columns.items()}
    if link_column:
        config[link_column] = st.column_config.LinkColumn(columns[link_column], display_text="Open ↗")
    kwargs = dict(hide_index=True, column_config=config, width="stretch", key=key)
    if height:
        kwargs["height"] = height
    if selectable:
        kwargs.update(on_select="rerun", selection_mode="single-row")
    return st.dataframe(styler, **kwargs)


def project_table(projects: pd.DataFrame, columns: dict[str, str], key: str, height: int = 400) -> pd.Series | None:
    """A sortable P&L table of projects with a link to each project's page; when a row is
    selected, offer to open it and return that project's row."""
    table = projects.assign(link="project?project=" + projects["id"])
    picked = money_table(table, columns | {"link": "Page"}, key=key, link_column="link", selectable=True,
                         height=height)
    rows = picked.selection.rows if picked else []
    if not rows:
        return None
    chosen = table.iloc[rows[0]]
    st.page_link("views/project.py", label=f"Open the P&L of {chosen['name']}", icon=":material/open_in_new:",
                 query_params={"project": chosen["id"]})
    return chosen

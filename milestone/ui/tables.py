"""KPI cards and P&L tables as Streamlit shows them (formatting only; numbers come computed)."""
from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

import pandas as pd
import streamlit as st

from milestone.formatting import as_text, money, pct
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


PAGE_ROWS = 500  # rows a table sends to the browser at once; more are paged


def _number_columns(columns: dict[str, str]) -> dict[str, object]:
    """Money as accounting figures (1,234 and (1,234) for a loss) and margins as 12.5%, formatted
    by the browser: Python formats nothing, and sorting still works on the numbers."""
    config: dict[str, object] = {}
    for c, label in columns.items():
        if c in MONEY_COLUMNS:
            config[c] = st.column_config.NumberColumn(f"{label} (£)", format="accounting", step=1)
        elif c in PCT_COLUMNS:
            config[c] = st.column_config.NumberColumn(label, format="%.1f%%")
        else:
            config[c] = st.column_config.Column(label)
    return config


def _as_numbers(frame: pd.DataFrame) -> pd.DataFrame:
    """Decimal money and margins as floats for drawing (None stays empty)."""
    numeric = [c for c in frame.columns if c in MONEY_COLUMNS or c in PCT_COLUMNS]
    return frame.assign(**{c: pd.to_numeric(frame[c], errors="coerce").astype("float64") for c in numeric})


def page_of(frame: pd.DataFrame, key: str, noun: str = "rows") -> pd.DataFrame:
    """At most PAGE_ROWS rows of `frame`, with a page picker and a note when there are more."""
    if len(frame) <= PAGE_ROWS:
        return frame
    pages = (len(frame) + PAGE_ROWS - 1) // PAGE_ROWS
    picker, note = st.columns([1, 4], vertical_alignment="bottom")
    page = picker.number_input(f"Page (of {pages:,})", min_value=1, max_value=pages, value=1, step=1,
                               key=f"{key}__page")
    start = (int(page) - 1) * PAGE_ROWS
    note.caption(f"Showing {noun} {start + 1:,}–{min(start + PAGE_ROWS, len(frame)):,} of {len(frame):,}; "
               "sorting by a column heading sorts this page. Narrow the filters, or export for every row.")
    return frame.iloc[start:start + PAGE_ROWS]


def money_table(frame: pd.DataFrame, columns: dict[str, str], height: int | None = None, key: str | None = None,
                link_column: str | None = None, selectable: bool = False):
    """Show `frame[columns]` with money and margins formatted by the browser (see _number_columns).

    `columns` maps frame columns to headings, in order."""
    shown = _as_numbers(frame[list(columns)])
    config = _number_columns(columns)
    if link_column:
        config[link_column] = st.column_config.LinkColumn(columns[link_column], display_text="Open ↗")
    kwargs: dict[str, object] = dict(hide_index=True, column_config=config, width="stretch", key=key)
    if height:
        kwargs["height"] = height
    if selectable:
        kwargs.update(on_select="rerun", selection_mode="single-row")
    return st.dataframe(shown, **kwargs)


@st.fragment
def project_table(projects: pd.DataFrame, columns: dict[str, str], key: str, height: int = 400,
                  on_pick: Callable[[pd.Series], None] | None = None) -> None:
    """A sortable, paged P&L table of projects with a link to each project's page. Selecting a
    row reruns only this table (a fragment): it offers to open the project and calls `on_pick`."""
    table = page_of(projects, key, "projects")
    table = table.assign(link="project?project=" + table["id"])
    picked = money_table(table, columns | {"link": "Page"}, key=key, link_column="link", selectable=True,
                         height=height)
    rows = picked.selection.rows if picked else []
    if not rows:
        return
    chosen = table.iloc[rows[0]]
    st.page_link("views/project.py", label=f"Open the P&L of {as_text(chosen['name'])}", icon=":material/open_in_new:",
                 query_params={"project": chosen["id"]})
    if on_pick:
        on_pick(chosen)

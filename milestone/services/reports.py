"""PDF reports: the portfolio P&L (dashboard KPIs, charts, project table) and one project's P&L.

fpdf2 writes the PDF in-process (no browser, unlike Plotly's kaleido); milestone/pdfcharts.py
draws the charts. The numbers come from the same services and metrics calls as the pages,
so a report always agrees with the screen. Text is DejaVu Sans, which matplotlib ships, so £,
accents and most scripts print without a new font dependency. Every report is recorded in
export_log with format 'pdf'.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from datetime import date, datetime
from pathlib import Path

import matplotlib
import pandas as pd
from fpdf import FPDF
from fpdf.enums import TableBordersLayout
from fpdf.fonts import FontFace, TTFFont

from milestone import metrics, pdfcharts
from milestone.formatting import DASH, money, pct
from milestone.services import exports, pnl
from milestone.services.projects import project_header, project_page
from milestone.store.users import User
from milestone.validation import Filters, phase_choices

FONT_DIR = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
DOCUMENT_CAP = 500  # invoices and bills listed per project report; the CSV export has them all
MARGIN = 12  # mm, all sides
WIDTH = 210 - 2 * MARGIN  # usable A4 width in mm
_HEADER_FILL = (215, 215, 215)
_STRIPE_FILL = (242, 242, 242)


class _Report(FPDF):
    """A4 portrait with the report title on top and page / data-as-of / generated-by at the foot."""

    def __init__(self, title: str, footer: str):
        super().__init__(orientation="P", unit="mm", format="A4")
        self.report_title, self.footer_text = title, footer
        self.set_margins(MARGIN, MARGIN, MARGIN)
        self.set_auto_page_break(True, margin=MARGIN + 6)
        self.add_font("DejaVu", "", FONT_DIR / "DejaVuSans.ttf")
        self.add_font("DejaVu", "B", FONT_DIR / "DejaVuSans-Bold.ttf")
        regular, bold = self.fonts["dejavu"], self.fonts["dejavuB"]
        assert isinstance(regular, TTFFont) and isinstance(bold, TTFFont)  # the two TrueType files added above
        self._glyphs = set(regular.cmap) & set(bold.cmap)
        self._fallback_loaded = False
        self.set_title(title)
        self.set_creator("Milestone")
        self.alias_nb_pages()

    def normalize_text(self, text: str) -> str:
        """fpdf2 calls this on all text before drawing it. A character DejaVu lacks (CJK, say)
        then prints as Last Resort's box naming its Unicode block instead of nothing. That font
        takes over a second to load, so only a report that needs it loads it."""
        if not self._fallback_loaded and any(ord(c) not in self._glyphs and c.isprintable() for c in text):
            self.add_font("LastResort", "", FONT_DIR / "LastResortHE-Regular.ttf")
            self.set_fallback_fonts(["LastResort"], exact_match=False)
            self._fallback_loaded = True
        return super().normalize_text(text)

    def header(self) -> None:
        if self.page_no() == 1:
            return  # the first page has the full title block instead
        self.set_font("DejaVu", "B", 8)
        self.set_text_color(80)
        self.cell(0, 5, self.report_title, new_x="LMARGIN", new_y="NEXT")
        self.set_draw_color(150)
        self.line(MARGIN, self.get_y(), 210 - MARGIN, self.get_y())
        self.ln(3)
        self.set_text_color(0)

    def footer(self) -> None:
        self.set_y(-MARGIN - 2)
        self.set_font("DejaVu", "", 7)
        self.set_text_color(80)
        self.cell(0, 4, f"Page {self.page_no()} of {{nb}} · {self.footer_text}", align="C")
        self.set_text_color(0)


# --------------------------------------------------------------------------- words


def _when(moment: datetime) -> str:
    return f"{moment.astimezone():%d %b %Y %H:%M %Z}".strip()


def data_as_of() -> str:
    """'Data as of <last completed Xero sync>' or that there has been none."""
    done = pnl.sync_status().last_completed_at
    return f"Data as of {_when(done)}" if done else "Data as of: no Xero sync yet"


def _footer(user: User) -> str:
    return f"{data_as_of()} · Generated {_when(datetime.now().astimezone())} by {user.display_name}"


def _period(f: Filters) -> str:
    if f.date_from and f.date_to:
        return f"{f.date_from:%d %b %Y} to {f.date_to:%d %b %Y}"
    if f.date_from:
        return f"from {f.date_from:%d %b %Y}"
    if f.date_to:
        return f"up to {f.date_to:%d %b %Y}"
    return "all time"


def _listed(kind: str, names: Sequence[str]) -> str:
    names = list(names)
    shown = ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
    return f"{kind}: {shown}"


def describe_filters(f: Filters) -> str:
    """The filters in words, e.g. 'Period: 01 Apr 2026 to 31 Mar 2027 · Clients: Harper Homes'."""
    parts = [f"Period: {_period(f)}"]
    if f.clients:
        parts.append(_listed("Clients", f.clients))
    if f.statuses:
        parts.append(_listed("Status", f.statuses))
    if f.phases or f.owners or f.project_ids:  # ids: look their names up only when needed
        opts = pnl.filter_options()
        phase_names = phase_choices(opts["phases"]["id"], opts["phases"]["name"])
        owner_names = dict(zip(opts["owners"]["id"], opts["owners"]["display_name"], strict=True))
        project_names = dict(zip(opts["projects"]["id"], opts["projects"]["name"], strict=True))
        for kind, ids, names in (
            ("Build phases", f.phases, phase_names),
            ("Owners", f.owners, owner_names),
            ("Projects", f.project_ids, project_names),
        ):
            if ids:
                parts.append(_listed(kind, [names.get(i, "(removed)") for i in ids]))
    if len(parts) == 1:
        parts.append("all clients, statuses, phases and owners")
    return " · ".join(parts)


def _slug(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")[:60]


def portfolio_file_name(f: Filters, today: date | None = None) -> str:
    """milestone-portfolio-2026-04-01_2027-03-31.pdf, or the report date when there is no period."""
    return exports.file_name("portfolio", f, "pdf", today)


def project_file_name(name: str, project_id: str, today: date | None = None) -> str:
    """milestone-project-riverside-extension-2026-11-23.pdf (the id's start when the name has no Latin letters)."""
    return f"milestone-project-{_slug(name) or project_id[:8]}-{(today or date.today()).isoformat()}.pdf"


# --------------------------------------------------------------------------- drawing blocks


def _title_block(pdf: _Report, title: str, subtitle: str) -> None:
    pdf.set_font("DejaVu", "B", 16)
    pdf.multi_cell(0, 8, title, new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("DejaVu", "", 8.5)
    pdf.set_text_color(60)
    pdf.multi_cell(0, 4.5, subtitle, new_x="LMARGIN", new_y="NEXT")
    pdf.set_text_color(0)
    pdf.ln(3)


def _heading(pdf: _Report, text: str, room_mm: float = 30) -> None:
    """A section heading, moved to the next page rather than left alone at the foot of one."""
    if pdf.get_y() + room_mm > pdf.page_break_trigger:
        pdf.add_page()
    pdf.ln(2)
    pdf.set_font("DejaVu", "B", 11)
    pdf.cell(0, 6, text, new_x="LMARGIN", new_y="NEXT")
    pdf.ln(1)


def _note(pdf: _Report, text: str) -> None:
    pdf.set_font("DejaVu", "", 8)
    pdf.set_text_color(60)
    pdf.multi_cell(0, 4.5, text, new_x="LMARGIN", new_y="NEXT")
    pdf.set_text_color(0)
    pdf.ln(1)


def _kpis(pdf: _Report, cards: dict[str, str], per_row: int = 4) -> None:
    """Boxed KPI cards: label small and grey above the figure, large and bold."""
    w, h, gap = (WIDTH - (per_row - 1) * 3) / per_row, 15, 3
    items = list(cards.items())
    for start in range(0, len(items), per_row):
        y = pdf.get_y()
        for i, (label, value) in enumerate(items[start : start + per_row]):
            x = MARGIN + i * (w + gap)
            pdf.set_draw_color(120)
            pdf.rect(x, y, w, h)
            pdf.set_xy(x + 2, y + 1.5)
            pdf.set_font("DejaVu", "", 7.5)
            pdf.set_text_color(70)
            pdf.cell(w - 4, 4, label)
            pdf.set_xy(x + 2, y + 6.5)
            pdf.set_font("DejaVu", "B", 12)
            pdf.set_text_color(0)
            pdf.cell(w - 4, 6, value)
        pdf.set_xy(MARGIN, y + h + gap)


def _kpi_cards(totals: metrics.Totals, extra: dict[str, str] | None = None) -> dict[str, str]:
    return {label: (pct(v) if "margin" in label.lower() else money(v)) for label, v in totals.kpis().items()} | (
        extra or {}
    )


def _image(pdf: _Report, png: bytes, w: float, h: float, x: float | None = None, advance: bool = True) -> None:
    if advance and pdf.get_y() + h > pdf.page_break_trigger:
        pdf.add_page()
    y = pdf.get_y()
    pdf.image(png, x=MARGIN if x is None else x, y=y, w=w, h=h)
    if advance:
        pdf.set_y(y + h + 2)


def _table(
    pdf: _Report,
    headings: Sequence[str],
    rows: Sequence[Sequence[str]],
    widths: Sequence[float],
    right: set[int],
    font_size: float = 7,
) -> None:
    """fpdf2's table: grey heading row repeated on every page, striped rows, money right-aligned."""
    pdf.set_font("DejaVu", "", font_size)
    align = tuple("RIGHT" if i in right else "LEFT" for i in range(len(headings)))
    with pdf.table(
        col_widths=tuple(widths),
        width=sum(widths),
        align="LEFT",
        text_align=align,
        line_height=font_size * 0.5,
        padding=(0.6, 1),
        borders_layout=TableBordersLayout.HORIZONTAL_LINES,
        headings_style=FontFace(family="DejaVu", emphasis="BOLD", fill_color=_HEADER_FILL),
        cell_fill_color=_STRIPE_FILL,
        cell_fill_mode="ROWS",
        repeat_headings=1,
    ) as table:
        table.row(list(headings))
        for r in rows:
            table.row(list(r))
    pdf.ln(2)


def _text(value) -> str:
    return value if isinstance(value, str) else DASH  # pandas 3 gives NaN for missing text


def _day(value) -> str:
    return DASH if value is None or pd.isna(value) else f"{value:%d/%m/%Y}"


# --------------------------------------------------------------------------- portfolio


_PROJECT_TABLE = (
    ("Project", 40, "name"),
    ("Client", 30, "client_name"),
    ("Status", 16, "status"),
    ("Revenue", 18, "revenue"),
    ("Costs", 18, "costs"),
    ("Profit", 18, "profit"),
    ("Margin", 13, "margin"),
    ("Forecast profit", 17, "forecast_profit"),
    ("Forecast margin", 16, "forecast_margin"),
)


def portfolio_pdf(filters: Filters, user: User, today: date | None = None) -> bytes:
    """The dashboard on paper for these filters: KPIs, charts, then every project in a table.

    `today` dates the receivables ageing (as the dashboard does). Logged as table 'portfolio'
    with the number of projects listed."""
    today = today or date.today()
    projects = metrics.with_pnl(pnl.project_table(filters))
    pdf = _Report("Milestone · Portfolio P&L report", _footer(user))
    pdf.add_page()
    _title_block(pdf, "Portfolio P&L report", describe_filters(filters))
    if projects.empty:
        _note(
            pdf,
            "There is nothing to report: no project matches these filters. "
            "Widen the period or clear a filter, then make the report again.",
        )
    else:
        _portfolio_body(pdf, filters, projects, today)
    out = bytes(pdf.output())
    exports.log_export(user, "portfolio", "pdf", filters.model_dump(exclude_defaults=True, mode="json"), len(projects))
    return out


def _portfolio_body(pdf: _Report, f: Filters, projects: pd.DataFrame, today: date) -> None:
    monthly = metrics.with_cumulative_profit(pnl.monthly_series(f))
    phases = pnl.phase_breakdown(f)
    ageing = pnl.receivables_ageing(f, today)
    overheads = pnl.unallocated(f)
    _kpis(pdf, _kpi_cards(pnl.practice_totals(projects, overheads), {"Projects": f"{len(projects):,}"}))
    if overheads is not None:
        _note(
            pdf,
            f"Unallocated (overheads): revenue {money(overheads.revenue)}, costs {money(overheads.costs)}, "
            f"outstanding {money(overheads.outstanding)}: included in the practice totals above and in the "
            "monthly, phase and ageing charts; the project table and project charts leave them out.",
        )
    else:
        _note(
            pdf,
            "Projects only: a client, status, owner or project filter leaves the overheads (lines with "
            "no project) out of these figures.",
        )
    _image(pdf, pdfcharts.monthly(monthly), WIDTH, 75)
    half = (WIDTH - 4) / 2
    y = pdf.get_y()
    if y + 62 > pdf.page_break_trigger:
        pdf.add_page()
        y = pdf.get_y()
    _image(pdf, pdfcharts.cumulative(monthly, half, 62), half, 62, advance=False)
    _image(pdf, pdfcharts.ageing(ageing, half, 62), half, 62, x=MARGIN + half + 4, advance=False)
    pdf.set_y(y + 64)
    _image(pdf, pdfcharts.by_phase(phases), WIDTH, 68)
    client_w = WIDTH * 0.6
    if pdf.get_y() + 75 > pdf.page_break_trigger:
        pdf.add_page()
    y = pdf.get_y()
    _image(pdf, pdfcharts.profit_by_client(projects, width_mm=client_w), client_w, 75, advance=False)
    _image(
        pdf,
        pdfcharts.by_status(projects, width_mm=WIDTH - client_w - 4),
        WIDTH - client_w - 4,
        75,
        x=MARGIN + client_w + 4,
        advance=False,
    )
    pdf.set_y(y + 77)

    _heading(pdf, f"Projects ({len(projects):,})")
    headings = [h for h, _, _ in _PROJECT_TABLE]
    money_cols = {"revenue", "costs", "profit", "forecast_profit"}
    rows = []
    for rec in projects[[c for _, _, c in _PROJECT_TABLE]].itertuples(index=False):
        rows.append(
            [
                money(v) if c in money_cols else pct(v) if "margin" in c else _text(v)
                for (_, _, c), v in zip(_PROJECT_TABLE, rec, strict=True)
            ]
        )
    _table(pdf, headings, rows, [w for _, w, _ in _PROJECT_TABLE], right=set(range(3, 9)))


# --------------------------------------------------------------------------- one project


_PHASE_TABLE = (
    ("Build phase", 36, "phase"),
    ("Revenue", 21, "revenue"),
    ("Costs", 21, "costs"),
    ("Profit", 21, "profit"),
    ("Margin", 13, "margin"),
    ("Est. revenue", 20, "estimate_revenue"),
    ("Est. costs", 20, "estimate_costs"),
    ("Forecast profit", 21, "forecast_profit"),
    ("Fcst margin", 13, "forecast_margin"),
)
_DOCUMENT_TABLE = (
    ("Number", 16, "number"),
    ("{party}", 20, "party"),
    ("Date", 16, "date"),
    ("Due date", 16, "due_date"),
    ("Status", 15, "status"),
    ("Type", 15, "doc_type"),
    ("Phase", 20, "phase"),
    ("This project", 22, "share"),
    ("Subtotal", 22, "subtotal"),
    ("Total", 22, "total"),
)


def project_pdf(project_id: str, user: User) -> bytes:
    """One project's P&L: header, KPIs, budget vs actual vs forecast, monthly chart, phases,
    invoices and bills (newest DOCUMENT_CAP of each). Raises LookupError for an unknown project.

    Logged as table 'project' with the number of invoices and bills listed."""
    header = project_header(project_id)
    if header is None:
        raise LookupError(f"No project with id {project_id}: it may have been deleted.")
    only = Filters(project_ids=(project_id,))
    page = project_page(project_id, DOCUMENT_CAP)
    totals = metrics.with_pnl(page.totals)
    row = totals.iloc[0]
    phases = metrics.with_pnl(page.phases)
    monthly = page.monthly

    pdf = _Report(f"Milestone · Project P&L · {header.name}", _footer(user))
    pdf.add_page()
    dates = " to ".join(f"{d:%d %b %Y}" for d in (header.start_date, header.end_date) if d) or "no dates set"
    _title_block(
        pdf,
        f"Project P&L: {header.name}",
        f"Client: {header.client_name} · Status: {header.status} · {dates} · Owner: {header.owner or 'nobody yet'}",
    )
    _kpis(pdf, _kpi_cards(metrics.totals_of(totals)))
    _budget_block(pdf, row)
    _image(pdf, pdfcharts.monthly(monthly, height_mm=70), WIDTH, 70)

    _heading(pdf, "P&L by build phase")
    if phases.empty:
        _note(pdf, "No invoices, bills or estimates for this project yet.")
    else:
        money_cols = {"revenue", "costs", "profit", "estimate_revenue", "estimate_costs", "forecast_profit"}
        rows = [
            [
                money(v) if c in money_cols else pct(v) if "margin" in c else _text(v)
                for (_, _, c), v in zip(_PHASE_TABLE, rec, strict=True)
            ]
            for rec in phases[[c for _, _, c in _PHASE_TABLE]].itertuples(index=False)
        ]
        _table(pdf, [h for h, _, _ in _PHASE_TABLE], rows, [w for _, w, _ in _PHASE_TABLE], right=set(range(1, 9)))

    _documents(pdf, "invoices", "Customer", page.invoices, page.invoice_count)
    _documents(pdf, "bills", "Supplier", page.bills, page.bill_count)
    listed = len(page.invoices) + len(page.bills)
    out = bytes(pdf.output())
    exports.log_export(user, "project", "pdf", only.model_dump(exclude_defaults=True, mode="json"), listed)
    return out


def _budget_block(pdf: _Report, row: pd.Series) -> None:
    """The budget chart beside the same figures as a table, with the variances spelled out."""

    def val(v):
        return None if v is None or pd.isna(v) else v

    chart_w, h = 78, 62
    if pdf.get_y() + h > pdf.page_break_trigger:
        pdf.add_page()
    y = pdf.get_y()
    _image(
        pdf,
        pdfcharts.budget_actual_forecast(
            (val(row["budget_revenue"]), val(row["budget_cost"])),
            (row["revenue"], row["costs"]),
            (row["forecast_revenue"], row["forecast_costs"]),
            chart_w,
            h,
        ),
        chart_w,
        h,
        advance=False,
    )
    pdf.set_left_margin(MARGIN + chart_w + 6)
    pdf.set_xy(MARGIN + chart_w + 6, y + 4)
    budget_profit = (
        None if val(row["budget_revenue"]) is None else row["budget_revenue"] - (val(row["budget_cost"]) or 0)
    )
    rows = [
        [
            "Revenue",
            money(val(row["budget_revenue"])),
            money(row["revenue"]),
            money(row["forecast_revenue"]),
            money(val(row["revenue_variance"])),
        ],
        [
            "Costs",
            money(val(row["budget_cost"])),
            money(row["costs"]),
            money(row["forecast_costs"]),
            money(val(row["cost_variance"])),
        ],
        [
            "Profit",
            money(budget_profit),
            money(row["profit"]),
            money(row["forecast_profit"]),
            money(None if budget_profit is None else row["profit"] - budget_profit),
        ],
    ]
    _table(
        pdf,
        ["", "Budget", "Actual", "Forecast", "Actual vs budget"],
        rows,
        [16, 20, 20, 20, 26],
        right={1, 2, 3, 4},
        font_size=7.5,
    )
    if val(row["budget_revenue"]) is None:
        _note(pdf, "This project has no budget, so there is no budget variance.")
    else:
        _note(pdf, "Actual vs budget: positive revenue is ahead of budget; positive costs are over budget.")
    pdf.set_left_margin(MARGIN)
    pdf.set_xy(MARGIN, max(pdf.get_y(), y + h + 2))


def _documents(pdf: _Report, kind: str, party: str, frame: pd.DataFrame, total: int) -> None:
    _heading(pdf, f"{kind.capitalize()} ({total:,})")
    if frame.empty:
        _note(pdf, f"No {kind} for this project yet.")
        return
    if total > len(frame):
        _note(pdf, f"Showing the newest {len(frame):,} of {total:,} {kind}; the CSV or Excel export has all of them.")
    if frame["split"].any():
        _note(
            pdf,
            f"Split (*): {int(frame['split'].sum()):,} of these {kind} also have lines on other projects or on "
            "overheads; 'This project' is this project's share (ex tax) of the document's subtotal.",
        )
    rows = []
    for rec in frame[[c for _, _, c in _DOCUMENT_TABLE] + ["split"]].itertuples(index=False):
        number, who, on, due, status, doc_type, phase, share, subtotal, doc_total, split = rec
        sign = -1 if doc_type == "credit_note" else 1  # a credit note takes money off: shown negative
        rows.append(
            [
                _text(number) + (" *" if split else ""),
                _text(who),
                _day(on),
                _day(due),
                _text(status),
                _text(doc_type).replace("_", " ").capitalize(),
                _text(phase),
                money(sign * share, pence=True),
                money(sign * subtotal, pence=True),
                money(sign * doc_total, pence=True),
            ]
        )
    headings = [h.format(party=party) for h, _, _ in _DOCUMENT_TABLE]
    _table(pdf, headings, rows, [w for _, w, _ in _DOCUMENT_TABLE], right={7, 8, 9}, font_size=6.5)

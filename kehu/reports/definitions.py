"""The reports a user can open: what each shows, as one table and one chart.

A `ReportDefinition` names a report and builds its `ReportTable` (columns, rows, a total
row, the chart's series) from a selector. The index, the report page and the CSV
download read only tables, so a new report is one more definition: pipeline by stage,
win rate and sales cycle length (when opportunities exist) will each be a selector in
this app reading the sales app's opportunities, and a definition here.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from kehu.reports import selectors
from kehu.reports.selectors import Dimension, Figures, ReportFilters
from kehu.tenancy.models import User

Cell = str | int | Decimal | None


@dataclass(frozen=True)
class Column:
    key: str
    label: Promise
    kind: str = "money"  # text, count, money, percent or hours: how a cell is shown


@dataclass(frozen=True)
class Series:
    """One series of the chart: a column drawn as bars or a line, on the left axis
    (amounts) or the right (percentages)."""

    column: str
    style: str = "bar"
    right_axis: bool = False
    stack: str = ""


@dataclass
class ReportTable:
    columns: Sequence[Column]
    rows: list[dict[str, Cell]]
    total: dict[str, Cell] | None
    series: Sequence[Series]
    other_currencies: list[selectors.CurrencyFigures] = field(default_factory=list)

    def line(self, row: dict[str, Cell]) -> list[tuple[Cell, str]]:
        """A row's cells in column order, each with its column's kind."""
        return [(row.get(c.key), c.kind) for c in self.columns]

    def lines(self) -> list[list[tuple[Cell, str]]]:
        return [self.line(row) for row in self.rows]

    def total_line(self) -> list[tuple[Cell, str]]:
        return self.line(self.total) if self.total else []

    def chart(self) -> dict[str, Any]:
        """What kehu/static/kehu/reports.js draws: labels and named series of numbers."""
        names = {c.key: str(c.label) for c in self.columns}
        return {
            "labels": [str(row["label"]) for row in self.rows],
            "series": [
                {
                    "name": names[s.column],
                    "style": s.style,
                    "right": s.right_axis,
                    "stack": s.stack,
                    "data": [_number(row[s.column]) for row in self.rows],
                }
                for s in self.series
            ],
        }


def _number(value: Cell) -> float | None:
    return None if value is None or isinstance(value, str) else float(value)


@dataclass(frozen=True)
class ReportDefinition:
    slug: str
    title: Promise
    description: Promise
    build: Callable[[User, ReportFilters], ReportTable]
    by_period: bool = False  # shows the period choice (month, quarter, year)
    drill_down: bool = False  # the region report: a province's cities
    top: bool = False  # shows "top N"


# --- revenue and profit ----------------------------------------------------------------

FIGURE_COLUMNS = (
    Column("orders", _("订单数"), "count"),
    Column("revenue", _("收入")),
    Column("cost", _("成本")),
    Column("profit", _("毛利")),
    Column("margin", _("毛利率 %"), "percent"),
)
FIGURE_SERIES = (Series("revenue"), Series("profit"), Series("margin", "line", right_axis=True))


def figure_cells(figures: Figures) -> dict[str, Cell]:
    return {
        "orders": figures.orders,
        "revenue": figures.revenue,
        "cost": figures.cost,
        "profit": figures.profit,
        "margin": figures.margin,
    }


def _revenue_builder(by: str, heading: Promise) -> Callable[[User, ReportFilters], ReportTable]:
    def build(user: User, filters: ReportFilters) -> ReportTable:
        report = selectors.revenue_report(user, filters, by)
        rows = [{"key": r.key, "label": r.label, **figure_cells(r.figures)} for r in report.rows]
        return ReportTable(
            (Column("label", heading, "text"), *FIGURE_COLUMNS),
            rows,
            {"label": str(_("合计")), **figure_cells(report.total)},
            FIGURE_SERIES,
            report.other_currencies,
        )

    return build


def _revenue(
    slug: str, by: str, title: Promise, heading: Promise, **options: Any
) -> ReportDefinition:
    description = _("已确认和已完成订单的收入、成本、毛利和毛利率（退货冲减），人民币。")
    return ReportDefinition(slug, title, description, _revenue_builder(by, heading), **options)


# --- effort ----------------------------------------------------------------------------


def _customer_effort(user: User, filters: ReportFilters) -> ReportTable:
    found = selectors.customer_effort(user, filters)
    rows: list[dict[str, Cell]] = [
        {
            "key": c.party_id,
            "label": c.name,
            "hours": c.hours,
            **figure_cells(c.figures),
            "profit_per_hour": c.profit_per_hour,
        }
        for c in found
    ]
    minutes = sum(c.minutes for c in found)
    total = sum((c.figures for c in found), Figures())
    columns = (
        Column("label", _("客户"), "text"),
        Column("hours", _("工时（小时）"), "hours"),
        Column("revenue", _("收入")),
        Column("profit", _("毛利")),
        Column("profit_per_hour", _("每小时毛利（人效）")),
    )
    total_row = {
        "label": str(_("合计")),
        "hours": selectors.hours(minutes),
        **figure_cells(total),
        "profit_per_hour": selectors.per_hour(total.profit, minutes),
    }
    series = (Series("hours", right_axis=True), Series("profit", "line"))
    return ReportTable(columns, rows, total_row, series)


def split_cells(split: selectors.Split) -> dict[str, Cell]:
    return {
        "new_revenue": split.new.revenue,
        "existing_revenue": split.existing.revenue,
        "new_revenue_share": split.new_revenue_share,
        "new_profit": split.new.profit,
        "existing_profit": split.existing.profit,
        "new_profit_share": split.new_profit_share,
        "new_hours": selectors.hours(split.new_minutes),
        "existing_hours": selectors.hours(split.existing_minutes),
        "prospect_hours": selectors.hours(split.prospect_minutes),
        "new_hours_share": split.new_hours_share,
        "existing_hours_share": split.existing_hours_share,
    }


def _new_vs_existing(user: User, filters: ReportFilters) -> ReportTable:
    splits = selectors.new_vs_existing(user, filters)
    rows = [{"key": s.start.isoformat(), "label": s.label, **split_cells(s)} for s in splits]
    columns = (
        Column("label", _("期间"), "text"),
        Column("new_revenue", _("新客户收入")),
        Column("existing_revenue", _("老客户收入")),
        Column("new_revenue_share", _("新客户收入占比 %"), "percent"),
        Column("new_profit", _("新客户毛利")),
        Column("existing_profit", _("老客户毛利")),
        Column("new_profit_share", _("新客户毛利占比 %"), "percent"),
        Column("new_hours", _("新客户工时"), "hours"),
        Column("existing_hours", _("老客户工时"), "hours"),
        Column("prospect_hours", _("潜在客户工时"), "hours"),
        Column("new_hours_share", _("新客户工时占比 %"), "percent"),
        Column("existing_hours_share", _("老客户工时占比 %"), "percent"),
    )
    series = (
        Series("new_revenue_share", "line"),
        Series("new_hours_share", "line"),
        Series("existing_hours_share", "line"),
    )
    return ReportTable(columns, rows, _split_total(splits), series)


def _split_total(splits: list[selectors.Split]) -> dict[str, Cell]:
    if not splits:
        return {}
    whole = selectors.Split(splits[0].start, str(_("合计")))
    for s in splits:
        whole.new += s.new
        whole.existing += s.existing
        whole.new_minutes += s.new_minutes
        whole.existing_minutes += s.existing_minutes
        whole.prospect_minutes += s.prospect_minutes
    return {"label": whole.label, **split_cells(whole)}


REPORT_LIST = [
    _revenue(
        "revenue-by-period", Dimension.PERIOD, _("收入与毛利（按期间）"), _("期间"), by_period=True
    ),
    _revenue("revenue-by-rep", Dimension.REP, _("收入与毛利（按销售）"), _("销售负责人")),
    _revenue("revenue-by-team", Dimension.TEAM, _("收入与毛利（按团队）"), _("团队")),
    _revenue("revenue-by-product", Dimension.PRODUCT, _("收入与毛利（按产品）"), _("产品")),
    _revenue(
        "revenue-by-category", Dimension.CATEGORY, _("收入与毛利（按产品分类）"), _("产品分类")
    ),
    _revenue(
        "revenue-by-region", Dimension.REGION, _("收入与毛利（按地区）"), _("地区"), drill_down=True
    ),
    _revenue("revenue-by-channel", Dimension.CHANNEL, _("收入与毛利（按渠道）"), _("来源渠道")),
    ReportDefinition(
        "customer-effort",
        _("客户工时与人效"),
        _("工时最多的客户，及其收入、毛利和每小时毛利。"),
        _customer_effort,
        top=True,
    ),
    ReportDefinition(
        "new-vs-existing",
        _("新老客户：精力花在哪里"),
        _("每期新客户与老客户的收入、毛利和员工工时占比。"),
        _new_vs_existing,
        by_period=True,
    ),
]
REPORTS = {definition.slug: definition for definition in REPORT_LIST}

"""The reports a user can open: what each shows, as one table and one chart.

A `ReportDefinition` names a report and builds its `ReportTable` (columns, rows, a total
row, the chart's series) from a selector. The index, the report page and the CSV
download read only tables, so a new report is one more definition. The pipeline reports
(by stage, win rate, lost reasons, sales cycle, time in stage) read
`pipeline_selectors`.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Generic, TypeVar

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from kehu.reports import pipeline_selectors as pipeline
from kehu.reports import selectors
from kehu.reports.pipeline_selectors import By
from kehu.reports.selectors import Dimension, Figures, ReportFilters
from kehu.tenancy.models import User

Cell = str | int | Decimal | None


@dataclass(frozen=True)
class Column:
    key: str
    label: Promise
    kind: str = "money"  # text, count, money, percent, hours or days: how a cell is shown


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
    pipelines: str = ""  # shows the pipeline choice: "one" (by stage) or "any" (a filter)
    note: Promise | None = None  # what the figures count, when not booked orders


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


# --- the pipeline ----------------------------------------------------------------------

DEALS_NOTE = _(
    "按商机统计：已关闭的商机按关闭日期计入所选期间；金额为人民币，其他币种的商机只计数。"
)


def _pipeline_by_stage(user: User, filters: ReportFilters) -> ReportTable:
    report = pipeline.pipeline_by_stage(user, filters)
    rows = [stage_cells(row) for row in report.rows]
    columns = (
        Column("label", _("阶段"), "text"),
        Column("kind", _("类型"), "text"),
        Column("probability", _("赢单概率 %"), "count"),
        Column("deals", _("商机数"), "count"),
        Column("amount", _("金额")),
        Column("weighted", _("加权金额")),
        Column("other_currency", _("其他币种商机数"), "count"),
    )
    total = stage_cells(report.total()) | {"kind": "", "probability": None}
    series = (Series("amount"), Series("weighted"), Series("deals", "line", right_axis=True))
    return ReportTable(columns, rows, total, series)


def stage_cells(row: pipeline.StageRow) -> dict[str, Cell]:
    stage = row.stage
    return {
        "key": stage.pk,
        "label": stage.name,
        "kind": str(stage.get_kind_display()),
        "probability": stage.probability,
        "deals": row.deals,
        "amount": row.amount,
        "weighted": row.weighted,
        "other_currency": row.other_currency,
    }


def win_rate_cells(row: pipeline.WinRate) -> dict[str, Cell]:
    return {
        "key": row.key,
        "label": row.label,
        "won": row.won,
        "lost": row.lost,
        "win_rate": row.win_rate,
        "won_amount": row.won_amount,
        "lost_amount": row.lost_amount,
    }


WIN_RATE_COLUMNS = (
    Column("won", _("赢单数"), "count"),
    Column("lost", _("输单数"), "count"),
    Column("win_rate", _("赢单率 %"), "percent"),
    Column("won_amount", _("赢单金额")),
    Column("lost_amount", _("输单金额")),
)
WIN_RATE_SERIES = (
    Series("won", stack="deals"),
    Series("lost", stack="deals"),
    Series("win_rate", "line", right_axis=True),
)
Row = TypeVar("Row")


@dataclass(frozen=True)
class ClosedDealsReport(Generic[Row]):
    """How a report of closed deals by period, rep, team or pipeline reads its rows
    and shows them."""

    read: Callable[[User, ReportFilters, str], pipeline.GroupedReport[Row]]
    cells: Callable[[Row], dict[str, Cell]]
    columns: Sequence[Column]
    series: Sequence[Series]
    description: Promise


def _closed_deals(
    shape: ClosedDealsReport[Any],
    slug: str,
    by: str,
    title: Promise,
    heading: Promise,
    **options: Any,
) -> ReportDefinition:
    def build(user: User, filters: ReportFilters) -> ReportTable:
        report = shape.read(user, filters, by)
        rows = [shape.cells(r) for r in report.rows]
        columns = (Column("label", heading, "text"), *shape.columns)
        return ReportTable(columns, rows, shape.cells(report.total), shape.series)

    return ReportDefinition(
        slug, title, shape.description, build, pipelines="any", note=DEALS_NOTE, **options
    )


WIN_RATE = ClosedDealsReport(
    pipeline.win_rate,
    win_rate_cells,
    WIN_RATE_COLUMNS,
    WIN_RATE_SERIES,
    _("赢单数 ÷（赢单数 + 输单数），附赢单和输单的数量与金额。"),
)


def lost_reason_cells(row: pipeline.LostReasonRow) -> dict[str, Cell]:
    return {
        "key": row.key,
        "label": row.label,
        "deals": row.deals,
        "share": row.share,
        "amount": row.amount,
    }


def _lost_reasons(user: User, filters: ReportFilters) -> ReportTable:
    report = pipeline.lost_reasons(user, filters)
    columns = (
        Column("label", _("输单原因"), "text"),
        Column("deals", _("输单数"), "count"),
        Column("share", _("占比 %"), "percent"),
        Column("amount", _("输单金额")),
    )
    rows = [lost_reason_cells(r) for r in report.rows]
    series = (Series("deals"), Series("amount", "line", right_axis=True))
    return ReportTable(columns, rows, lost_reason_cells(report.total), series)


def cycle_cells(row: pipeline.Cycle) -> dict[str, Cell]:
    return {
        "key": row.key,
        "label": row.label,
        "deals": row.deals,
        "won": row.won,
        "median_days": row.median_days,
        "mean_days": row.mean_days,
        "won_median_days": row.won_median_days,
        "lost_median_days": row.lost_median_days,
    }


CYCLE = ClosedDealsReport(
    pipeline.sales_cycle,
    cycle_cells,
    (
        Column("deals", _("已关闭商机数"), "count"),
        Column("won", _("赢单数"), "count"),
        Column("median_days", _("周期中位数（天）"), "days"),
        Column("mean_days", _("平均周期（天）"), "days"),
        Column("won_median_days", _("赢单周期中位数（天）"), "days"),
        Column("lost_median_days", _("输单周期中位数（天）"), "days"),
    ),
    (Series("median_days"), Series("mean_days", "line")),
    _("商机从创建到赢单或输单的天数：中位数和平均数。"),
)


def _cycle_distribution(user: User, filters: ReportFilters) -> ReportTable:
    buckets = pipeline.cycle_distribution(user, filters)
    columns = (
        Column("label", _("销售周期"), "text"),
        Column("won", _("赢单数"), "count"),
        Column("lost", _("输单数"), "count"),
    )
    rows: list[dict[str, Cell]] = [
        {"key": b.low, "label": b.label, "won": b.won, "lost": b.lost} for b in buckets
    ]
    total: dict[str, Cell] = {
        "label": str(_("合计")),
        "won": sum(b.won for b in buckets),
        "lost": sum(b.lost for b in buckets),
    }
    series = (Series("won", stack="deals"), Series("lost", stack="deals"))
    return ReportTable(columns, rows, total, series)


def stage_time_cells(row: pipeline.StageTime) -> dict[str, Cell]:
    return {
        "key": row.stage.pk,
        "label": row.stage.name,
        "stays": row.stays,
        "median_days": row.median_days,
        "mean_days": row.mean_days,
        "current": row.current,
        "current_mean_days": row.current_mean_days,
    }


def _time_in_stage(user: User, filters: ReportFilters) -> ReportTable:
    report = pipeline.time_in_stage(user, filters)
    columns = (
        Column("label", _("阶段"), "text"),
        Column("stays", _("离开该阶段的次数"), "count"),
        Column("median_days", _("停留中位数（天）"), "days"),
        Column("mean_days", _("平均停留（天）"), "days"),
        Column("current", _("当前在该阶段的商机"), "count"),
        Column("current_mean_days", _("当前已停留平均（天）"), "days"),
    )
    series = (Series("median_days"), Series("mean_days"), Series("current_mean_days", "line"))
    return ReportTable(columns, [stage_time_cells(r) for r in report.rows], None, series)


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
    ReportDefinition(
        "pipeline-by-stage",
        _("销售漏斗（按阶段）"),
        _("所选销售流程每个阶段的进行中商机：数量、金额和加权金额；以及期间内的赢单和输单。"),
        _pipeline_by_stage,
        pipelines="one",
        note=_(
            "进行中的阶段为今天的商机；赢单和输单为所选期间内关闭的商机。"
            "加权金额 = 金额 × 阶段赢单概率；金额为人民币，其他币种的商机只计数。"
        ),
    ),
    _closed_deals(
        WIN_RATE, "win-rate-by-period", By.PERIOD, _("赢单率（按期间）"), _("期间"), by_period=True
    ),
    _closed_deals(WIN_RATE, "win-rate-by-rep", By.REP, _("赢单率（按销售）"), _("销售负责人")),
    _closed_deals(WIN_RATE, "win-rate-by-team", By.TEAM, _("赢单率（按团队）"), _("团队")),
    _closed_deals(
        WIN_RATE, "win-rate-by-pipeline", By.PIPELINE, _("赢单率（按销售流程）"), _("销售流程")
    ),
    ReportDefinition(
        "lost-reasons",
        _("输单原因"),
        _("期间内输掉的商机按原因分布。"),
        _lost_reasons,
        pipelines="any",
        note=DEALS_NOTE,
    ),
    _closed_deals(
        CYCLE,
        "sales-cycle-by-period",
        By.PERIOD,
        _("销售周期（按期间）"),
        _("期间"),
        by_period=True,
    ),
    _closed_deals(CYCLE, "sales-cycle-by-rep", By.REP, _("销售周期（按销售）"), _("销售负责人")),
    _closed_deals(
        CYCLE, "sales-cycle-by-pipeline", By.PIPELINE, _("销售周期（按销售流程）"), _("销售流程")
    ),
    ReportDefinition(
        "sales-cycle-distribution",
        _("销售周期分布"),
        _("期间内关闭的商机，按从创建到关闭的天数分组。"),
        _cycle_distribution,
        pipelines="any",
        note=DEALS_NOTE,
    ),
    ReportDefinition(
        "time-in-stage",
        _("阶段停留时间"),
        _("商机在每个阶段停留多久（来自阶段变更记录）。"),
        _time_in_stage,
        pipelines="one",
        note=_(
            "停留：商机进入该阶段到离开的天数，离开日期在所选期间内的计入；"
            "当前：现在仍在该阶段的进行中商机已停留的天数。"
        ),
    ),
]
REPORTS = {definition.slug: definition for definition in REPORT_LIST}

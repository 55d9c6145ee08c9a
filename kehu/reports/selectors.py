"""The reports' figures, each a few GROUP BY queries on the database.

Every read starts from `booked_orders` (or `report_parties`), which applies the
tenant, the reader's scope (see the package docstring) and the filters. Sums are in
CNY; `other_currencies` lists what was sold in other currencies, unconverted. The
revenue reports and new-vs-existing read the daily sales summary instead when the reader
sees every party (`reads_summary`); staff effort (hours per customer, new-vs-existing)
comes from the daily effort summary for every reader (decision 0015); `live_*` keep the
reads of the orders and of the activities.
"""

import datetime
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import (
    BooleanField,
    Case,
    DateField,
    F,
    Min,
    OuterRef,
    QuerySet,
    Subquery,
    Sum,
    When,
)
from django.utils.translation import gettext as _

from kehu.activities.models import DailyEffort
from kehu.activities.selectors import party_effort
from kehu.activities.summary import TOTAL, effort_rows
from kehu.core.context import current_tenant_id
from kehu.parties.models import Party
from kehu.parties.selectors import parties_visible_to
from kehu.reports.periods import (
    MAX_DAYS,
    TRUNC,
    Period,
    Preset,
    period_label,
    period_start,
    period_starts,
    preset_range,
)
from kehu.sales.models import (
    BOOKED,
    Currency,
    DailySales,
    Order,
    OrderKind,
    OrderLine,
    SummaryDimension,
)
from kehu.sales.pipeline_selectors import deleted_parties
from kehu.sales.selectors import orders_visible_to
from kehu.sales.summary import LINE_SUMS, NEW_LEVEL, ORDER_SUMS, day_or_month, summary_heal
from kehu.tenancy.models import Role, User, Visibility

REPORT_CURRENCY = Currency.CNY
FIRM_WIDE_ROLES = frozenset({Role.ADMIN, Role.MANAGER, Role.ANALYST})
CENTS = Decimal("0.01")
ZERO = Decimal("0.00")
TOP_DEFAULT, TOP_MAX = 20, 200


def sees_firm(user: User) -> bool:
    """Admins, managers and analysts read the whole firm's reports."""
    return user.role in FIRM_WIDE_ROLES


@dataclass(frozen=True)
class ReportFilters:
    since: datetime.date
    until: datetime.date  # included
    period: str = Period.MONTH
    team_id: int | None = None
    owner_id: int | None = None
    province: str = ""  # the region report's drill-down: this province's cities
    pipeline_id: int | None = None  # the pipeline reports' (pipeline_selectors)
    top: int = TOP_DEFAULT


def report_filters(
    *,
    today: datetime.date,
    preset: str = "",
    since: datetime.date | None = None,
    until: datetime.date | None = None,
    **options: Any,
) -> ReportFilters:
    """The filters of a page or an endpoint. A date given overrides the preset's; a
    range that ends before it starts, or spans over ten years, names the field."""
    default_since, default_until = preset_range(preset or Preset.LAST_12_MONTHS, today)
    since, until = since or default_since, until or default_until
    if until < since:
        raise ValidationError({"until": _("结束日期不能早于开始日期。")})
    if (until - since).days > MAX_DAYS:
        raise ValidationError({"since": _("日期范围最长十年。")})
    given = {name: value for name, value in options.items() if value is not None}
    return ReportFilters(since=since, until=until, **given)


# --- figures: orders, revenue, cost, gross profit --------------------------------------


@dataclass(frozen=True)
class Figures:
    orders: int = 0
    revenue: Decimal = ZERO
    cost: Decimal = ZERO
    profit: Decimal = ZERO

    @property
    def margin(self) -> Decimal | None:
        """Gross profit as a percentage of revenue, to one decimal."""
        if not self.revenue:
            return None
        return (self.profit * 100 / self.revenue).quantize(Decimal("0.1"))

    def __add__(self, other: "Figures") -> "Figures":
        return Figures(
            self.orders + other.orders,
            self.revenue + other.revenue,
            self.cost + other.cost,
            self.profit + other.profit,
        )


def _money(value: Any) -> Decimal:
    # SQLite sums decimals as floats; PostgreSQL's numeric keeps more places on shares.
    return Decimal(str(value or 0)).quantize(CENTS)


def _figures(row: Mapping[str, Any]) -> Figures:
    return Figures(
        row["orders"] or 0, _money(row["revenue"]), _money(row["cost"]), _money(row["profit"])
    )


def _in_scope(user: User) -> QuerySet[Order]:
    if sees_firm(user):
        return Order.objects.filter(party__deleted_at__isnull=True)
    return orders_visible_to(user)


def booked_orders(user: User, filters: ReportFilters) -> QuerySet[Order]:
    """Booked orders and returns in the range that `user` may report on, in any currency,
    filtered by rep (the order's owner) and team (the owner's)."""
    orders = _in_scope(user).filter(
        status__in=BOOKED, order_date__gte=filters.since, order_date__lte=filters.until
    )
    if filters.owner_id:
        orders = orders.filter(owner_id=filters.owner_id)
    if filters.team_id:
        orders = orders.filter(owner__team_memberships__team_id=filters.team_id)
    return orders


@dataclass(frozen=True)
class Row:
    key: str | int | None
    label: str
    figures: Figures


@dataclass(frozen=True)
class CurrencyFigures:
    currency: str
    figures: Figures


@dataclass
class RevenueReport:
    rows: list[Row]
    total: Figures
    other_currencies: list[CurrencyFigures] = field(default_factory=list)


class Dimension:
    """What a revenue report groups by."""

    PERIOD = "period"
    REP = "rep"
    TEAM = "team"
    PRODUCT = "product"
    CATEGORY = "category"
    REGION = "region"
    CHANNEL = "channel"
    ALL = (PERIOD, REP, TEAM, PRODUCT, CATEGORY, REGION, CHANNEL)


class Book:
    """Where a revenue report's figures come from: the orders themselves (`LiveBook`) or
    the daily summary (`SummaryBook`). Both give, for a dimension, rows to GROUP BY with
    `sums`, under the same key names except the few named here."""

    day = "order_date"
    province = "party__province"
    city = "party__city"
    source = "party__source"
    category = "product__category"
    sums: Mapping[str, Any] = ORDER_SUMS
    line_sums: Mapping[str, Any] = LINE_SUMS

    def rows(self, by: str, *, cny: bool | None = True) -> QuerySet[Any]:
        """What to group for the `by` report: CNY only, (False) the other currencies, or
        (None) every currency."""
        raise NotImplementedError

    def total(self, by: str, *, cny: bool | None = True) -> QuerySet[Any]:
        return self.rows(Dimension.PERIOD, cny=cny)


class LiveBook(Book):
    def __init__(self, user: User, filters: ReportFilters, by: str):
        self.orders = booked_orders(user, filters)
        if by == Dimension.REGION and filters.province:
            self.orders = self.orders.filter(party__province=filters.province)

    def rows(self, by: str, *, cny: bool | None = True) -> QuerySet[Any]:
        orders = self.orders
        if cny is not None:
            orders = in_currency(orders, cny=cny)
        return _lines(orders) if by in (Dimension.PRODUCT, Dimension.CATEGORY) else orders


# The summary rows each report reads.
SUMMARY_ROWS = {
    Dimension.PERIOD: SummaryDimension.OWNER,
    Dimension.REP: SummaryDimension.OWNER,
    Dimension.TEAM: SummaryDimension.OWNER,
    Dimension.PRODUCT: SummaryDimension.PRODUCT,
    Dimension.CATEGORY: SummaryDimension.CATEGORY,
    Dimension.REGION: SummaryDimension.REGION,
    Dimension.CHANNEL: SummaryDimension.CHANNEL,
}
SUMMARY_SUMS = {name: Sum(name) for name in ("orders", "revenue", "cost", "profit")}


class SummaryBook(Book):
    day = "day"
    province = "province"
    city = "city"
    source = "source"
    category = "category"
    sums = SUMMARY_SUMS
    line_sums = SUMMARY_SUMS

    def __init__(self, filters: ReportFilters, by: str):
        summary_heal()
        self.filters, self.by = filters, by

    def rows(self, by: str, *, cny: bool | None = True) -> QuerySet[Any]:
        return summary_rows(self.filters, SUMMARY_ROWS[by], by=self.by, cny=cny)

    def total(self, by: str, *, cny: bool | None = True) -> QuerySet[Any]:
        # Product rows count an order once per product; region rows, when a province is
        # chosen, are the only ones that know it.
        by_province = self.by == Dimension.REGION and self.filters.province
        return self.rows(Dimension.REGION if by_province else Dimension.PERIOD, cny=cny)


class PartyBook(SummaryBook):
    """The summary's party rows of the parties `user` sees: for own and team visibility,
    whose book is some parties' orders (decision 0016). Every row is a party's, so the
    rows are also the total."""

    def __init__(self, user: User, filters: ReportFilters, by: str):
        super().__init__(filters, by)
        self.seen = parties_visible_to(user).values("pk")

    def rows(self, by: str, *, cny: bool | None = True) -> QuerySet[Any]:
        rows = summary_rows(self.filters, SummaryDimension.PARTY, cny=cny)
        if self.by == Dimension.REGION and self.filters.province:
            rows = rows.filter(province=self.filters.province)
        return rows.filter(party_key__in=self.seen)

    def total(self, by: str, *, cny: bool | None = True) -> QuerySet[Any]:
        return self.rows(by, cny=cny)


# The reports the party rows serve (products and categories are not split by party).
PARTY_REPORTS = frozenset(
    {Dimension.PERIOD, Dimension.REP, Dimension.TEAM, Dimension.REGION, Dimension.CHANNEL}
)


def in_currency(rows: QuerySet[Any], *, cny: bool) -> QuerySet[Any]:
    """The rows in the report currency, or (False) in the others."""
    if cny:
        return rows.filter(currency=REPORT_CURRENCY)
    return rows.exclude(currency=REPORT_CURRENCY)


def summary_rows(
    filters: ReportFilters, dimension: str, *, by: str = "", cny: bool | None = True
) -> QuerySet[DailySales]:
    equal: dict[str, Any] = {"tenant_id": current_tenant_id(), "dimension": dimension}
    if filters.owner_id:
        equal["owner_id"] = filters.owner_id
    rows = DailySales.objects.filter(day_or_month(filters.since, filters.until, **equal))
    if cny is not None:
        rows = in_currency(rows, cny=cny)
    if filters.team_id:
        rows = rows.filter(owner__team_memberships__team_id=filters.team_id)
    if by == Dimension.REGION and filters.province and dimension == SummaryDimension.REGION:
        rows = rows.filter(province=filters.province)
    return rows


def reads_summary(user: User, by: str = "") -> bool:
    """Whether `user`'s report `by` reads the summary: when they see every party (the
    summary knows no owner of a party, no account team) and the report has summary rows."""
    sees_all = sees_firm(user) or user.effective_visibility == Visibility.ALL
    return sees_all and (not by or by in SUMMARY_ROWS)


def revenue_report(user: User, filters: ReportFilters, by: str) -> RevenueReport:
    """From the daily summary when it serves (its party rows for a reader of some
    parties), else from the orders (`live_revenue_report`)."""
    if reads_summary(user, by):
        return _revenue_report(SummaryBook(filters, by), filters, by)
    if by in PARTY_REPORTS:
        return _revenue_report(PartyBook(user, filters, by), filters, by)
    return live_revenue_report(user, filters, by)


def live_revenue_report(user: User, filters: ReportFilters, by: str) -> RevenueReport:
    """Three queries on the orders: the rows, the total, and the other currencies' totals."""
    return _revenue_report(LiveBook(user, filters, by), filters, by)


def _revenue_report(book: Book, filters: ReportFilters, by: str) -> RevenueReport:
    """The rows, then the total and the other currencies' totals in one query grouped by
    currency; by period, all three from one query grouped by period and currency (a
    period's rows are the total's, split)."""
    if by == Dimension.PERIOD:
        return _period_report(book, filters)
    rows = ROW_READERS[by](book, filters)
    grouped = book.total(by, cny=None).values("currency").annotate(**book.sums)
    totals = {row["currency"]: _figures(row) for row in grouped.order_by()}
    return _with_totals(rows, totals)


def _with_totals(rows: list[Row], totals: Mapping[str, Figures]) -> RevenueReport:
    """The report of `rows`, with the total of the report currency and the others'."""
    others = [CurrencyFigures(c, f) for c, f in sorted(totals.items()) if c != REPORT_CURRENCY]
    return RevenueReport(rows, totals.get(REPORT_CURRENCY, Figures()), others)


def _grouped(rows: QuerySet[Any], *keys: str, sums: Mapping[str, Any] = ORDER_SUMS) -> Any:
    return rows.values(*keys).annotate(**sums).order_by()


def _by_revenue(rows: Iterable[Row]) -> list[Row]:
    return sorted(rows, key=lambda r: (-r.figures.revenue, r.label))


def _period_report(book: Book, filters: ReportFilters) -> RevenueReport:
    period = filters.period
    rows = book.rows(Dimension.PERIOD, cny=None).annotate(start=TRUNC[Period(period)](book.day))
    found: dict[datetime.date, Figures] = {}
    totals: dict[str, Figures] = {}
    for row in _grouped(rows, "start", "currency", sums=book.sums):
        figures = _figures(row)
        totals[row["currency"]] = totals.get(row["currency"], Figures()) + figures
        if row["currency"] == REPORT_CURRENCY:
            found[as_date(row["start"])] = figures
    # Every period of the range, empty ones too: a chart over time must not skip months.
    listed = [
        Row(start.isoformat(), period_label(start, period), found.get(start, Figures()))
        for start in period_starts(filters.since, filters.until, period)
    ]
    return _with_totals(listed, totals)


def _rows_by_rep(book: Book, filters: ReportFilters) -> list[Row]:
    keys = ("owner_id", "owner__display_name", "owner__username")
    grouped = _grouped(book.rows(Dimension.REP), *keys, sums=book.sums)
    return _by_revenue(
        Row(r["owner_id"], r["owner__display_name"] or r["owner__username"], _figures(r))
        for r in grouped
    )


def _rows_by_team(book: Book, filters: ReportFilters) -> list[Row]:
    """An order counts in full in each of its owner's teams, so a rep in two teams adds
    their orders to both and the rows may sum to more than the total (which counts each
    order once); owners in no team are under 未分配团队."""
    team = "owner__team_memberships__team"
    grouped = _grouped(book.rows(Dimension.TEAM), f"{team}_id", f"{team}__name", sums=book.sums)
    return _by_revenue(
        Row(r[f"{team}_id"], r[f"{team}__name"] or _("未分配团队"), _figures(r)) for r in grouped
    )


def _labelled(rows: QuerySet[Any], key: str, empty: str, sums: Mapping[str, Any]) -> list[Row]:
    return _by_revenue(
        Row(r[key], r[key] or empty, _figures(r)) for r in _grouped(rows, key, sums=sums)
    )


def _rows_by_region(book: Book, filters: ReportFilters) -> list[Row]:
    """Provinces; with a province chosen, its cities."""
    key = book.city if filters.province else book.province
    return _labelled(book.rows(Dimension.REGION), key, _("未填写"), book.sums)


def _rows_by_channel(book: Book, filters: ReportFilters) -> list[Row]:
    return _labelled(book.rows(Dimension.CHANNEL), book.source, _("未填写"), book.sums)


def _lines(orders: QuerySet[Order]) -> QuerySet[OrderLine]:
    return OrderLine.objects.filter(order_id__in=orders.values("pk"))


def _rows_by_product(book: Book, filters: ReportFilters) -> list[Row]:
    keys = ("product_id", "product__code", "product__name")
    grouped = _grouped(book.rows(Dimension.PRODUCT), *keys, sums=book.line_sums)
    return _by_revenue(
        Row(r["product_id"], f"{r['product__code']} {r['product__name']}", _figures(r))
        for r in grouped
    )


def _rows_by_category(book: Book, filters: ReportFilters) -> list[Row]:
    key, name = f"{book.category}_id", f"{book.category}__name"
    grouped = _grouped(book.rows(Dimension.CATEGORY), key, name, sums=book.line_sums)
    return _by_revenue(Row(r[key], r[name] or _("未分类"), _figures(r)) for r in grouped)


ROW_READERS = {
    Dimension.REP: _rows_by_rep,
    Dimension.TEAM: _rows_by_team,
    Dimension.PRODUCT: _rows_by_product,
    Dimension.CATEGORY: _rows_by_category,
    Dimension.REGION: _rows_by_region,
    Dimension.CHANNEL: _rows_by_channel,
}


# --- staff effort: hours per customer (人效), new versus existing ----------------------


def report_parties(user: User, filters: ReportFilters) -> QuerySet[Party]:
    """The parties whose effort `user` may report on, by the party's owner for the rep
    and team filters (effort has no order owner)."""
    parties = Party.objects.all() if sees_firm(user) else parties_visible_to(user)
    if filters.owner_id:
        parties = parties.filter(owner_id=filters.owner_id)
    if filters.team_id:
        parties = parties.filter(owner__team_memberships__team_id=filters.team_id)
    return parties


def _effort_rows(user: User, filters: ReportFilters) -> QuerySet[DailyEffort]:
    """The daily effort rows of the range that `user` may report on. For a reader of the
    whole firm with no rep or team filter: every party's but the deleted ones' (a few,
    left out by `NOT IN` them rather than matched against a list of every party)."""
    if sees_firm(user) and not filters.owner_id and not filters.team_id:
        gone = deleted_parties().values("pk")
        return effort_rows(filters.since, filters.until, None).exclude(party_id__in=gone)
    return effort_rows(filters.since, filters.until, report_parties(user, filters).values("pk"))


def _live_effort_minutes(user: User, filters: ReportFilters) -> dict[int, dict[datetime.date, int]]:
    """{party id: {month: minutes}}: activities' three GROUP BY queries."""
    effort = party_effort(
        report_parties(user, filters).values("pk"),
        since=filters.since,
        until=filters.until + datetime.timedelta(days=1),
    )
    return {pk: {m.month: m.total_minutes for m in months} for pk, months in effort.items()}


def hours(minutes: int) -> Decimal:
    return (Decimal(minutes) / 60).quantize(Decimal("0.1"))


def per_hour(amount: Decimal, minutes: int) -> Decimal | None:
    return (amount * 60 / minutes).quantize(CENTS) if minutes else None


@dataclass(frozen=True)
class CustomerEffort:
    party_id: int
    name: str
    minutes: int
    figures: Figures

    @property
    def hours(self) -> Decimal:
        return hours(self.minutes)

    @property
    def profit_per_hour(self) -> Decimal | None:
        return per_hour(self.figures.profit, self.minutes)


def customer_effort(user: User, filters: ReportFilters) -> list[CustomerEffort]:
    """The `top` customers by staff hours in the range, with their revenue and profit
    (all their booked CNY orders in the range, whoever owns the orders): three queries,
    the first on the daily effort summary."""
    rows = _effort_rows(user, filters)
    ranked = rows.values("party_id").annotate(total=Sum(TOTAL)).order_by("-total", "party_id")
    minutes = {r["party_id"]: r["total"] for r in ranked[: filters.top]}
    return _customer_effort(user, filters, minutes)


def live_customer_effort(user: User, filters: ReportFilters) -> list[CustomerEffort]:
    """As `customer_effort`, the minutes from the activities (five queries)."""
    effort = _live_effort_minutes(user, filters)
    minutes = {pk: sum(months.values()) for pk, months in effort.items()}
    return _customer_effort(user, filters, minutes)


def _customer_effort(
    user: User, filters: ReportFilters, minutes: Mapping[int, int]
) -> list[CustomerEffort]:
    top = sorted(minutes, key=lambda pk: (-minutes[pk], pk))[: filters.top]
    orders = _in_scope(user).filter(
        status__in=BOOKED,
        currency=REPORT_CURRENCY,
        order_date__gte=filters.since,
        order_date__lte=filters.until,
        party_id__in=top,
    )
    sales = {row["party_id"]: _figures(row) for row in _grouped(orders, "party_id")}
    names = dict(Party.objects.filter(pk__any_of=top).values_list("pk", "name")) if top else {}
    return [CustomerEffort(pk, names[pk], minutes[pk], sales.get(pk, Figures())) for pk in top]


@dataclass
class Split:
    """One period's revenue, profit and staff minutes: new customers', existing ones',
    and (minutes only) prospects' — parties with no booked order yet by that period."""

    start: datetime.date
    label: str
    new: Figures = Figures()
    existing: Figures = Figures()
    new_minutes: int = 0
    existing_minutes: int = 0
    prospect_minutes: int = 0

    @property
    def revenue(self) -> Decimal:
        return self.new.revenue + self.existing.revenue

    @property
    def minutes(self) -> int:
        return self.new_minutes + self.existing_minutes + self.prospect_minutes

    @property
    def new_revenue_share(self) -> Decimal | None:
        return share(self.new.revenue, self.revenue)

    @property
    def new_profit_share(self) -> Decimal | None:
        return share(self.new.profit, self.new.profit + self.existing.profit)

    @property
    def new_hours_share(self) -> Decimal | None:
        return share(Decimal(self.new_minutes), Decimal(self.minutes))

    @property
    def existing_hours_share(self) -> Decimal | None:
        return share(Decimal(self.existing_minutes), Decimal(self.minutes))


def share(part: Decimal, whole: Decimal) -> Decimal | None:
    """`part` as a percentage of `whole`, to one decimal."""
    return (part * 100 / whole).quantize(Decimal("0.1")) if whole else None


def _first_booked() -> Subquery:
    """The party's first booked order day: when it became a customer."""
    firsts = Order.objects.filter(
        party=OuterRef("party"), status__in=BOOKED, kind=OrderKind.ORDER
    ).order_by("order_date")
    return Subquery(firsts.values("order_date")[:1], output_field=DateField())


def new_vs_existing(user: User, filters: ReportFilters) -> list[Split]:
    """Per period: a customer is new in the period of its first booked order (ever, in
    any currency, whoever's), existing after it; effort before the first order is on a
    prospect. From the daily summary: its rows that say how new the party was when the
    reader sees every party, else its party rows of the parties the reader sees (decision
    0016) against each party's first sale; `live_new_vs_existing` reads the orders."""
    summary_heal()
    splits = _empty_splits(filters)
    trunc = TRUNC[Period(filters.period)]
    if reads_summary(user):
        level = NEW_LEVEL[filters.period]
        rows = summary_rows(filters, SummaryDimension.NEW).annotate(start=trunc("day"))
        for row in _grouped(rows, "start", "new_within", sums=SUMMARY_SUMS):
            split = splits[as_date(row["start"])]
            if row["new_within"] >= level:
                split.new += _figures(row)
            else:
                split.existing += _figures(row)
    else:
        seen = parties_visible_to(user).values("pk")
        party_rows = summary_rows(filters, SummaryDimension.PARTY).filter(party_key__in=seen)
        marked = party_rows.annotate(start=trunc("day"), became=trunc("party_summary__first_day"))
        for row in _grouped(marked, "start", "became", sums=SUMMARY_SUMS):
            split = splits[as_date(row["start"])]
            if _standing(_day(row["became"]), split.start) == "new":
                split.new += _figures(row)
            else:
                split.existing += _figures(row)
    _add_summary_minutes(splits, user, filters)
    return list(splits.values())


def _day(value: datetime.date | datetime.datetime | None) -> datetime.date | None:
    return None if value is None else as_date(value)


def _add_summary_minutes(
    splits: dict[datetime.date, Split], user: User, filters: ReportFilters
) -> None:
    """Each period's staff minutes on new customers, existing ones and prospects: the
    daily effort rows grouped in the database by period and by the period of the
    party's first booked sale (the summary's `first_day`, joined), a few hundred groups told
    apart here (reading the ~33,000 rows of a firm's year into Python took a third of a
    second)."""
    trunc = TRUNC[Period(filters.period)]
    rows = _effort_rows(user, filters)
    marked = rows.annotate(start=trunc("day"), became=trunc("sales_summary__first_day"))
    grouped = marked.values("start", "became").annotate(minutes=Sum(TOTAL)).order_by()
    for start, became, minutes in grouped.values_list("start", "became", "minutes"):
        split = splits[as_date(start)]
        standing = _standing(_day(became), split.start)
        setattr(split, f"{standing}_minutes", getattr(split, f"{standing}_minutes") + minutes)


def live_new_vs_existing(user: User, filters: ReportFilters) -> list[Split]:
    """From the orders: revenue is one GROUP BY (period, new); effort is activities'
    three plus one for the first order days of the parties with effort."""
    return _new_vs_existing_of_orders(user, filters, _live_effort_minutes(user, filters))


def _new_vs_existing_of_orders(
    user: User, filters: ReportFilters, effort: dict[int, dict[datetime.date, int]]
) -> list[Split]:
    splits = _empty_splits(filters)
    _add_revenue(
        splits, booked_orders(user, filters).filter(currency=REPORT_CURRENCY), filters.period
    )
    _add_minutes(splits, effort, _first_orders(effort), filters.period)
    return list(splits.values())


def _empty_splits(filters: ReportFilters) -> dict[datetime.date, Split]:
    period = filters.period
    return {
        start: Split(start, period_label(start, period))
        for start in period_starts(filters.since, filters.until, period)
    }


def _add_revenue(splits: dict[datetime.date, Split], orders: QuerySet[Order], period: str) -> None:
    trunc = TRUNC[Period(period)]
    marked = orders.annotate(start=trunc("order_date"), first=trunc(_first_booked())).annotate(
        is_new=Case(When(first=F("start"), then=True), default=False, output_field=BooleanField())
    )
    for row in _grouped(marked, "start", "is_new"):
        split = splits[as_date(row["start"])]
        if row["is_new"]:
            split.new = _figures(row)
        else:
            split.existing = _figures(row)


def _standing(became: datetime.date | None, start: datetime.date) -> str:
    """What a party was in the period from `start`, given the period it became a customer."""
    if became is None or became > start:
        return "prospect"
    return "new" if became == start else "existing"


def as_date(value: datetime.date | datetime.datetime) -> datetime.date:
    """A period start as a date (a Trunc may give a datetime)."""
    return value.date() if isinstance(value, datetime.datetime) else value


def _first_orders(effort: Mapping[int, Any]) -> dict[int, datetime.date]:
    if not effort:
        return {}
    booked = Order.objects.filter(
        party_id__in=list(effort), status__in=BOOKED, kind=OrderKind.ORDER
    )
    return dict(
        booked.values("party_id").annotate(first=Min("order_date")).values_list("party_id", "first")
    )


def _add_minutes(
    splits: dict[datetime.date, Split],
    effort: dict[int, dict[datetime.date, int]],
    firsts: Mapping[int, datetime.date],
    period: str,
) -> None:
    tally: dict[datetime.date, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for pk, months in effort.items():
        first = firsts.get(pk)
        became = period_start(first, period) if first else None
        for month, minutes in months.items():
            start = period_start(month, period)
            tally[start][_standing(became, start)] += minutes
    for start, standing in tally.items():
        split = splits[start]
        split.new_minutes = standing["new"]
        split.existing_minutes = standing["existing"]
        split.prospect_minutes = standing["prospect"]

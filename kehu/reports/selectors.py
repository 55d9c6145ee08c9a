"""The reports' figures, each a few GROUP BY queries on the database.

Every read starts from `booked_orders` (or `report_parties`), which applies the
tenant, the reader's scope (see the package docstring) and the filters. Sums are in
CNY; `other_currencies` lists what was sold in other currencies, unconverted.
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
    Count,
    DateField,
    DecimalField,
    ExpressionWrapper,
    F,
    Min,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Abs, NullIf
from django.utils.translation import gettext as _

from kehu.activities.selectors import party_effort
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
from kehu.sales.models import BOOKED, Currency, Order, OrderKind, OrderLine
from kehu.sales.selectors import orders_visible_to
from kehu.tenancy.models import Role, User

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
        row["orders"], _money(row["revenue"]), _money(row["cost"]), _money(row["profit"])
    )


ORDER_SUMS = {
    "orders": Count("pk", filter=Q(kind=OrderKind.ORDER)),
    "revenue": Sum("revenue"),
    "cost": Sum("cost"),
    "profit": Sum("profit"),
}


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


def revenue_report(user: User, filters: ReportFilters, by: str) -> RevenueReport:
    """Three queries: the rows, the total, and the other currencies' totals."""
    orders = booked_orders(user, filters)
    if by == Dimension.REGION and filters.province:
        orders = orders.filter(party__province=filters.province)
    cny = orders.filter(currency=REPORT_CURRENCY)
    rows = ROW_READERS[by](cny, filters)
    total = _figures(cny.aggregate(**ORDER_SUMS))
    return RevenueReport(rows, total, _other_currencies(orders))


def _other_currencies(orders: QuerySet[Order]) -> list[CurrencyFigures]:
    grouped = (
        orders.exclude(currency=REPORT_CURRENCY)
        .values("currency")
        .annotate(**ORDER_SUMS)
        .order_by("currency")
    )
    return [CurrencyFigures(row["currency"], _figures(row)) for row in grouped]


def _grouped(rows: QuerySet[Any], *keys: str, sums: Mapping[str, Any] = ORDER_SUMS) -> Any:
    return rows.values(*keys).annotate(**sums).order_by()


def _by_revenue(rows: Iterable[Row]) -> list[Row]:
    return sorted(rows, key=lambda r: (-r.figures.revenue, r.label))


def _rows_by_period(orders: QuerySet[Order], filters: ReportFilters) -> list[Row]:
    period = filters.period
    found = {
        row["start"]: _figures(row)
        for row in _grouped(orders.annotate(start=TRUNC[Period(period)]("order_date")), "start")
    }
    # Every period of the range, empty ones too: a chart over time must not skip months.
    return [
        Row(start.isoformat(), period_label(start, period), found.get(start, Figures()))
        for start in period_starts(filters.since, filters.until, period)
    ]


def _rows_by_rep(orders: QuerySet[Order], filters: ReportFilters) -> list[Row]:
    grouped = _grouped(orders, "owner_id", "owner__display_name", "owner__username")
    return _by_revenue(
        Row(r["owner_id"], r["owner__display_name"] or r["owner__username"], _figures(r))
        for r in grouped
    )


def _rows_by_team(orders: QuerySet[Order], filters: ReportFilters) -> list[Row]:
    """An order counts in full in each of its owner's teams, so a rep in two teams adds
    their orders to both and the rows may sum to more than the total (which counts each
    order once); owners in no team are under 未分配团队."""
    team = "owner__team_memberships__team"
    grouped = _grouped(orders, f"{team}_id", f"{team}__name")
    return _by_revenue(
        Row(r[f"{team}_id"], r[f"{team}__name"] or _("未分配团队"), _figures(r)) for r in grouped
    )


def _labelled(orders: QuerySet[Order], key: str, empty: str) -> list[Row]:
    return _by_revenue(Row(r[key], r[key] or empty, _figures(r)) for r in _grouped(orders, key))


def _rows_by_region(orders: QuerySet[Order], filters: ReportFilters) -> list[Row]:
    """Provinces; with a province chosen, its cities."""
    key = "party__city" if filters.province else "party__province"
    return _labelled(orders, key, _("未填写"))


def _rows_by_channel(orders: QuerySet[Order], filters: ReportFilters) -> list[Row]:
    return _labelled(orders, "party__source", _("未填写"))


# A line's share of its order's revenue: the order discount spread over the lines by
# amount, negative on a return, so that the lines of an order add up to the order.
_LINE_REVENUE = ExpressionWrapper(
    F("amount") * F("order__revenue") / NullIf(Abs(F("order__subtotal")), Value(0)),
    output_field=DecimalField(max_digits=20, decimal_places=6),
)
_LINE_COST = Case(
    When(order__kind=OrderKind.RETURN, then=-F("cost_amount")),
    default=F("cost_amount"),
    output_field=DecimalField(max_digits=14, decimal_places=2),
)
LINE_SUMS = {
    "orders": Count("order_id", distinct=True, filter=Q(order__kind=OrderKind.ORDER)),
    "revenue": Sum(_LINE_REVENUE),
    "cost": Sum(_LINE_COST),
    "profit": Sum(_LINE_REVENUE - _LINE_COST),
}


def _lines(orders: QuerySet[Order]) -> QuerySet[OrderLine]:
    return OrderLine.objects.filter(order_id__in=orders.values("pk"))


def _rows_by_product(orders: QuerySet[Order], filters: ReportFilters) -> list[Row]:
    grouped = _grouped(
        _lines(orders), "product_id", "product__code", "product__name", sums=LINE_SUMS
    )
    return _by_revenue(
        Row(r["product_id"], f"{r['product__code']} {r['product__name']}", _figures(r))
        for r in grouped
    )


def _rows_by_category(orders: QuerySet[Order], filters: ReportFilters) -> list[Row]:
    grouped = _grouped(
        _lines(orders), "product__category_id", "product__category__name", sums=LINE_SUMS
    )
    return _by_revenue(
        Row(r["product__category_id"], r["product__category__name"] or _("未分类"), _figures(r))
        for r in grouped
    )


ROW_READERS = {
    Dimension.PERIOD: _rows_by_period,
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


def _effort_minutes(user: User, filters: ReportFilters) -> dict[int, dict[datetime.date, int]]:
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
    (all their booked CNY orders in the range, whoever owns the orders): five queries."""
    minutes = {pk: sum(months.values()) for pk, months in _effort_minutes(user, filters).items()}
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
    prospect. Revenue is one GROUP BY (period, new); effort is activities' three plus
    one for the first order days of the parties with effort."""
    period = filters.period
    splits = {
        start: Split(start, period_label(start, period))
        for start in period_starts(filters.since, filters.until, period)
    }
    _add_revenue(splits, booked_orders(user, filters).filter(currency=REPORT_CURRENCY), period)
    _add_minutes(splits, _effort_minutes(user, filters), period)
    return list(splits.values())


def _add_revenue(splits: dict[datetime.date, Split], orders: QuerySet[Order], period: str) -> None:
    trunc = TRUNC[Period(period)]
    marked = orders.annotate(start=trunc("order_date"), first=trunc(_first_booked())).annotate(
        is_new=Case(When(first=F("start"), then=True), default=False, output_field=BooleanField())
    )
    for row in _grouped(marked, "start", "is_new"):
        split = splits[_as_date(row["start"])]
        if row["is_new"]:
            split.new = _figures(row)
        else:
            split.existing = _figures(row)


def _standing(became: datetime.date | None, start: datetime.date) -> str:
    """What a party was in the period from `start`, given the period it became a customer."""
    if became is None or became > start:
        return "prospect"
    return "new" if became == start else "existing"


def _as_date(value: datetime.date | datetime.datetime) -> datetime.date:
    return value.date() if isinstance(value, datetime.datetime) else value


def _add_minutes(
    splits: dict[datetime.date, Split],
    effort: dict[int, dict[datetime.date, int]],
    period: str,
) -> None:
    firsts = (
        dict(
            Order.objects.filter(party_id__in=list(effort), status__in=BOOKED, kind=OrderKind.ORDER)
            .values("party_id")
            .annotate(first=Min("order_date"))
            .values_list("party_id", "first")
        )
        if effort
        else {}
    )
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

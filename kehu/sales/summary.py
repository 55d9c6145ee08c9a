"""The daily sales summary (docs/decisions/0013-daily-sales-summary.md): what the reports
read instead of every order of the range.

`summary_refresh(days=..., parties=...)` computes the rows of those days again from the
orders (delete, then one GROUP BY per dimension), and their months' rows from the days'
rows, inside the caller's transaction: every service that writes orders calls it with
the days and parties it touched.
`summary_pending_add(order_ids)` notes the booked orders a bulk import created, and
`summary_catch_up()` adds them to their rows, many batches at a time in date order,
instead of computing their days again (see their docstrings); every function here that
reads or writes the summary catches up first.
`summary_heal()` recomputes the days of the parties whose stored province, city, source
or deletion no longer match (a party edited, deleted, restored or merged: these are
written in many places that know nothing of orders); the reports call it before reading.
`summary_rebuild()` recomputes a whole tenant (`manage.py sales_summary_rebuild`).

The figures are those of `kehu.reports.selectors`' live path, which the tests compare
row for row: booked orders (confirmed, fulfilled) and returns of parties not deleted,
returns negative, a line's revenue its share of the order's revenue after the order
discount.
"""

import datetime
from collections.abc import Iterable, Iterator, Sequence
from decimal import Decimal
from itertools import islice
from typing import Any, NamedTuple

import numpy as np
from django.db import connections, transaction
from django.db.models import (
    Case,
    Count,
    DecimalField,
    ExpressionWrapper,
    F,
    FloatField,
    Func,
    IntegerField,
    Min,
    Q,
    QuerySet,
    Sum,
    Value,
    When,
)
from django.db.models.expressions import CombinedExpression
from django.db.models.functions import (
    Abs,
    ExtractMonth,
    ExtractQuarter,
    ExtractYear,
    NullIf,
    TruncMonth,
)

from kehu.core.context import current_tenant_id
from kehu.parties.models import Party
from kehu.sales.models import (
    BOOKED,
    ZERO,
    DailySales,
    Order,
    OrderKind,
    OrderLine,
    Product,
    SummaryDimension,
    SummaryParty,
    SummaryPending,
)
from kehu.tenancy.models import Tenant

Dim = SummaryDimension
CHUNK = 500  # days or ids per statement (SQLite's limit on parameters)

ORDER_SUMS = {
    "orders": Count("pk", filter=Q(kind=OrderKind.ORDER)),
    "revenue": Sum("revenue"),
    "cost": Sum("cost"),
    "profit": Sum("profit"),
}
# A line's share of its order's revenue: the order discount spread over the lines by
# amount, negative on a return, so that the lines of an order add up to the order.


class _Real(Func):
    """A decimal column as it is, but on SQLite times 1.0: SQLite keeps whole decimals as
    integers and divides those as integers (a line's share of 295.84 came out 295)."""

    template = "%(expressions)s"
    output_field = FloatField()  # so that SQLite does not CAST it back AS NUMERIC

    def as_sqlite(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        return self.as_sql(compiler, connection, template="(%(expressions)s * 1.0)", **extra)


_FLOAT: FloatField[Any, Any] = FloatField()
LINE_REVENUE = ExpressionWrapper(
    CombinedExpression(
        CombinedExpression(_Real(F("amount")), "*", F("order__revenue"), output_field=_FLOAT),
        "/",
        NullIf(Abs(F("order__subtotal")), Value(0)),
        output_field=_FLOAT,
    ),
    output_field=DecimalField(max_digits=20, decimal_places=6),
)
LINE_COST = Case(
    When(order__kind=OrderKind.RETURN, then=-F("cost_amount")),
    default=F("cost_amount"),
    output_field=DecimalField(max_digits=14, decimal_places=2),
)
LINE_SUMS = {
    "orders": Count("order_id", distinct=True, filter=Q(order__kind=OrderKind.ORDER)),
    "revenue": Sum(LINE_REVENUE),
    "cost": Sum(LINE_COST),
    "profit": Sum(LINE_REVENUE - LINE_COST),
}
_LINE_QUANTITY = Case(
    When(order__kind=OrderKind.RETURN, then=-F("quantity")),
    default=F("quantity"),
    output_field=DecimalField(max_digits=18, decimal_places=3),
)

# How new a party was on an order's day: its first booked sale in the same month (3),
# quarter (2), year (1), or none of these (0; no booked sale at all is 0 too).
_FIRST = "party__sales_summary__first_day"
NEW_WITHIN = Case(
    When(
        Q(y=F("fy"), m=F("fm")),
        then=Value(3),
    ),
    When(Q(y=F("fy"), q=F("fq")), then=Value(2)),
    When(y=F("fy"), then=Value(1)),
    default=Value(0),
    output_field=IntegerField(),
)
# Which `new_within` values count as new in a report by month, quarter or year.
NEW_LEVEL = {"month": 3, "quarter": 2, "year": 1}


def _chunks(values: Iterable[Any]) -> Iterator[list[Any]]:
    it = iter(values)
    while chunk := list(islice(it, CHUNK)):
        yield chunk


def _lock() -> None:
    """One refresh of a tenant at a time: two that delete and insert the same days side
    by side (PostgreSQL) would each insert their rows. "No key" so as not to wait on the
    key-share locks that inserting any row of the tenant takes."""
    Tenant.objects.select_for_update(no_key=True).filter(pk=current_tenant_id()).first()


def _booked(days: Sequence[datetime.date] | None) -> QuerySet[Order]:
    """Booked orders of the days (all days: None) whose party is summarised and not deleted."""
    orders = Order.objects.filter(status__in=BOOKED, party__sales_summary__deleted=False)
    return orders if days is None else orders.filter(order_date__in=days)


def _rows(days: Sequence[datetime.date] | None) -> Iterator[DailySales]:
    orders = _booked(days)
    head = ("order_date", "currency", "owner_id")
    split: list[tuple[str, dict[str, str], QuerySet[Any]]] = [
        (Dim.OWNER, {}, orders),
        (
            Dim.REGION,
            {"province": "party__sales_summary__province", "city": "party__sales_summary__city"},
            orders,
        ),
        (Dim.CHANNEL, {"source": "party__sales_summary__source"}, orders),
        (
            Dim.NEW,
            {"new_within": "new_within"},
            orders.annotate(
                y=ExtractYear("order_date"),
                q=ExtractQuarter("order_date"),
                m=ExtractMonth("order_date"),
                fy=ExtractYear(_FIRST),
                fq=ExtractQuarter(_FIRST),
                fm=ExtractMonth(_FIRST),
            ).annotate(new_within=NEW_WITHIN),
        ),
    ]
    for dimension, keys, rows in split:
        grouped = rows.values(*head, *keys.values()).annotate(**ORDER_SUMS).order_by()
        for r in grouped.iterator(chunk_size=5000):
            yield _row(dimension, r, "", **{name: r[path] for name, path in keys.items()})
    yield from _line_rows(orders, Dim.PRODUCT)
    yield from _line_rows(orders, Dim.CATEGORY)


def _line_rows(orders: QuerySet[Order], dimension: str) -> Iterator[DailySales]:
    """Product or category rows: an order with two products of one category counts once."""
    key, name = ("product_id", "product_id")
    if dimension == Dim.CATEGORY:
        key, name = ("product__category_id", "category_id")
    lines = OrderLine.objects.filter(order__in=orders.values("pk"))
    head = ("order__order_date", "order__currency", "order__owner_id", key)
    grouped = lines.values(*head).annotate(**LINE_SUMS, quantity=Sum(_LINE_QUANTITY))
    for r in grouped.order_by().iterator(chunk_size=5000):
        yield _row(dimension, r, "order__", quantity=r["quantity"] or 0, **{name: r[key]})


def _row(dimension: str, r: dict[str, Any], prefix: str, **keys: Any) -> DailySales:
    """A summary row from a grouped row whose order fields are named `prefix`…"""
    return DailySales(
        tenant_id=current_tenant_id(),
        dimension=dimension,
        day=r[f"{prefix}order_date"],
        currency=r[f"{prefix}currency"],
        owner_id=r[f"{prefix}owner_id"],
        orders=r["orders"],
        revenue=r["revenue"] or 0,
        cost=r["cost"] or 0,
        profit=r["profit"] or 0,
        **keys,
    )


def _insert(rows: Iterator[DailySales]) -> None:
    while batch := list(islice(rows, 5000)):
        DailySales.objects.bulk_create(batch)


def _write(days: Sequence[datetime.date] | None) -> None:
    """The days' rows from the orders, then their months' rows from the days' rows."""
    if days is None:
        DailySales.objects.all().delete()
        _insert(_rows(None))
        _insert(_month_rows(None))
        return
    for chunk in _chunks(sorted(days)):
        DailySales.objects.filter(dimension__in=Dim.values, month=False, day__in=chunk).delete()
        _insert(_rows(chunk))
    months = sorted({d.replace(day=1) for d in days})
    DailySales.objects.filter(dimension__in=Dim.values, month=True, day__in=months).delete()
    for first in months:
        _insert(_month_rows(first))


MONTH_KEYS = (
    "dimension",
    "currency",
    "owner_id",
    "product_id",
    "category_id",
    "province",
    "city",
    "source",
    "new_within",
)
_MONTH_SUMS = {name: Sum(name) for name in ("orders", "quantity", "revenue", "cost", "profit")}


def _month_rows(first: datetime.date | None, dimension: str = "") -> Iterator[DailySales]:
    """The sums of a month's day rows (every month's: None), one row per key."""
    days = DailySales.objects.filter(month=False)
    if dimension:
        days = days.filter(dimension=dimension)
    if first is not None:
        days = days.filter(day__gte=first, day__lt=next_month(first))
    grouped = days.annotate(start=TruncMonth("day")).values("start", *MONTH_KEYS)
    for r in grouped.annotate(**_MONTH_SUMS).order_by().iterator(chunk_size=5000):
        start = r.pop("start")
        yield DailySales(
            tenant_id=current_tenant_id(),
            month=True,
            day=start.date() if isinstance(start, datetime.datetime) else start,
            **r,
        )


def next_month(day: datetime.date) -> datetime.date:
    """The first day of the month after `day`'s."""
    return (day.replace(day=1) + datetime.timedelta(days=32)).replace(day=1)


def day_or_month(since: datetime.date, until: datetime.date, **equal: Any) -> Q:
    """The rows that add up [since, until]: months' rows for the whole months inside it,
    days' rows for the days before and after them. Each branch names all of `equal`
    (tenant, dimension …) and `month` as IN, so that SQLite reads each as an index range
    (a bare boolean, or equalities outside the OR, made it scan every tenant's rows)."""
    first_full = since if since.day == 1 else next_month(since)
    last_day = (until + datetime.timedelta(days=1)).day == 1
    end_full = next_month(until) if last_day else until.replace(day=1)
    if first_full >= end_full:
        return Q(month__in=[False], day__gte=since, day__lte=until, **equal)
    found = Q(month__in=[True], day__gte=first_full, day__lt=end_full, **equal)
    if since < first_full:
        found |= Q(month__in=[False], day__gte=since, day__lt=first_full, **equal)
    if end_full <= until:
        found |= Q(month__in=[False], day__gte=end_full, day__lte=until, **equal)
    return found


def _party_state(party: dict[str, Any], first: datetime.date | None) -> tuple[Any, ...]:
    return (
        party["province"],
        party["city"],
        party["source"],
        party["deleted_at"] is not None,
        first,
    )


def _firsts(party_ids: Iterable[int]) -> dict[int, datetime.date]:
    found: dict[int, datetime.date] = {}
    for chunk in _chunks(party_ids):
        firsts = (
            Order.objects.filter(party_id__in=chunk, status__in=BOOKED, kind=OrderKind.ORDER)
            .values("party_id")
            .annotate(first=Min("order_date"))
            .values_list("party_id", "first")
        )
        found.update(firsts)
    return found


def _sync_parties(touched: set[int], days: set[datetime.date]) -> set[int]:
    """Store what the summary needs of the touched parties, and of any party with booked
    orders on `days` that it does not know yet; return those whose stored state changed."""
    on_days: set[int] = set()
    for chunk in _chunks(sorted(days)):
        on_days.update(
            Order.objects.filter(order_date__in=chunk, status__in=BOOKED)
            .values_list("party_id", flat=True)
            .distinct()
        )
    known: dict[int, SummaryParty] = {}
    for chunk in _chunks(sorted(touched | on_days)):
        known.update((s.party_id, s) for s in SummaryParty.objects.filter(party_id__in=chunk))
    wanted = touched | (on_days - set(known))
    return _store_parties(wanted, known)


def _store_parties(wanted: set[int], known: dict[int, SummaryParty]) -> set[int]:
    """Store the state of the `wanted` parties (not yet stored: only those with booked
    orders); return those whose state changed."""
    firsts = _firsts(sorted(wanted))
    buyers = _buyers(sorted(set(wanted) - set(known)))
    changed: set[int] = set()
    new, updated = [], []
    fields = ("province", "city", "source", "deleted_at")
    for chunk in _chunks(sorted(wanted)):
        for party in Party.with_deleted.filter(pk__in=chunk).values("pk", *fields):
            pk = party["pk"]
            state = _party_state(party, firsts.get(pk))
            stored = known.get(pk)
            if stored is None and pk not in buyers:
                continue
            if stored is None:
                stored = SummaryParty(tenant_id=current_tenant_id(), party_id=pk)
                new.append(stored)
            elif _stored_state(stored) == state:
                continue
            else:
                updated.append(stored)
            (stored.province, stored.city, stored.source, stored.deleted, stored.first_day) = state
            changed.add(pk)
    SummaryParty.objects.bulk_create(new, batch_size=2000)
    SummaryParty.objects.bulk_update(
        updated, ["province", "city", "source", "deleted", "first_day"], batch_size=2000
    )
    return changed


def _buyers(party_ids: Sequence[int]) -> set[int]:
    found: set[int] = set()
    for chunk in _chunks(party_ids):
        booked = Order.objects.filter(party_id__in=chunk, status__in=BOOKED)
        found.update(booked.values_list("party_id", flat=True).distinct())
    return found


def _stored_state(stored: SummaryParty) -> tuple[Any, ...]:
    return (stored.province, stored.city, stored.source, stored.deleted, stored.first_day)


def _days_of(party_ids: Iterable[int]) -> set[datetime.date]:
    days: set[datetime.date] = set()
    for chunk in _chunks(sorted(party_ids)):
        booked = Order.objects.filter(party_id__in=chunk, status__in=BOOKED)
        days.update(booked.values_list("order_date", flat=True).distinct())
    return days


def summary_refresh(
    *, days: Iterable[datetime.date | None] = (), parties: Iterable[int | None] = ()
) -> None:
    """Compute again the summary of `days` after orders of `parties` on those days were
    written (created, edited, confirmed, cancelled, returned, moved). Give the days an
    order had before and after the write. A party whose stored state changes (its first
    sale, say) has all its days computed again."""
    wanted_days = {d for d in days if d is not None}
    touched = {p for p in parties if p is not None}
    if not wanted_days and not touched:
        return
    summary_catch_up()
    with transaction.atomic():
        _lock()
        changed = _sync_parties(touched, wanted_days)
        _write(sorted(wanted_days | _days_of(changed)))


class NewLine(NamedTuple):
    product_id: int
    category_id: int | None
    quantity: Decimal
    amount: Decimal
    cost_amount: Decimal


class NewOrder(NamedTuple):
    """A booked order of kind "order" not yet in the summary (`summary_catch_up`)."""

    pk: int
    day: datetime.date
    currency: str
    owner_id: int
    party_id: int
    revenue: Decimal
    cost: Decimal
    profit: Decimal
    subtotal: Decimal
    lines: Sequence[NewLine]


# The key of a summary row (its unique index, `daily_sales_key`) and its sums.
KEY_COLUMNS = ("tenant_id", "month", "day", *MONTH_KEYS)
SUM_COLUMNS = ("orders", "quantity", "revenue", "cost", "profit")
NULLABLE_KEYS = ("product_id", "category_id")
Key = tuple[Any, ...]
SIX_PLACES = Decimal("0.000001")
HALF_MILLIONTH = Decimal("0.0000005")


def new_within(day: datetime.date, first: datetime.date | None) -> int:
    """`NEW_WITHIN` of an order on `day` of a party whose first booked sale is `first`."""
    if first is None or first.year != day.year:
        return 0
    if first.month == day.month:
        return 3
    return 2 if (first.month - 1) // 3 == (day.month - 1) // 3 else 1


class _Deltas:
    """What to add to the day rows of a batch, by key (month rows follow from them)."""

    def __init__(self) -> None:
        self.sums: dict[Key, list[Any]] = {}

    def add(self, key: Key, orders: int, quantity: Decimal, *money: Decimal) -> None:
        sums = self.sums.get(key)
        if sums is None:
            self.sums[key] = [orders, quantity, *money]
            return
        sums[0] += orders
        sums[1] += quantity
        for i, value in enumerate(money, 2):
            sums[i] += value

    def order(self, o: NewOrder, state: SummaryParty) -> None:
        """Order `o` in each row that `_rows` and `_line_rows` would count it in."""
        head = (o.day, o.currency, o.owner_id)
        money = (o.revenue, o.cost, o.profit)
        nw = new_within(o.day, state.first_day)
        self.add((Dim.NEW, *head, None, None, "", "", "", nw), 1, ZERO, *money)
        self.add((Dim.OWNER, *head, None, None, "", "", "", 0), 1, ZERO, *money)
        region = (Dim.REGION, *head, None, None, state.province, state.city, "", 0)
        self.add(region, 1, ZERO, *money)
        self.add((Dim.CHANNEL, *head, None, None, "", "", state.source, 0), 1, ZERO, *money)
        seen: set[Key] = set()
        for line in o.lines:
            # LINE_REVENUE: the line's share of the order's revenue (none when the order's
            # subtotal is nought, and then no profit either).
            share = line.amount * o.revenue / abs(o.subtotal) if o.subtotal else None
            revenue = ZERO if share is None else share
            profit = ZERO if share is None else share - line.cost_amount
            for key in (
                (Dim.PRODUCT, *head, line.product_id, None, "", "", "", 0),
                (Dim.CATEGORY, *head, None, line.category_id, "", "", "", 0),
            ):
                counted = 0 if key in seen else 1
                seen.add(key)
                self.add(key, counted, line.quantity, revenue, line.cost_amount, profit)

    def rows(self, skip_days: set[datetime.date]) -> Iterator[tuple[Any, ...]]:
        """(month, day, key…, sums…) of the day rows and of their months' rows."""
        months: dict[Key, list[Any]] = {}
        skip_months = {d.replace(day=1) for d in skip_days}
        for key, sums in self.sums.items():
            dimension, day, *rest = key
            if day in skip_days:
                continue
            yield (False, day, dimension, *rest, *sums)
            start = day.replace(day=1)
            if start in skip_months:
                continue
            month_key = (dimension, start, *rest)
            total = months.get(month_key)
            if total is None:
                months[month_key] = list(sums)
            else:
                for i, value in enumerate(sums):
                    total[i] += value
        for (dimension, start, *rest), sums in months.items():
            yield (True, start, dimension, *rest, *sums)


def _upsert(rows: Iterable[tuple[Any, ...]]) -> None:
    """Add the rows' sums to the rows of the same key, inserting those not there yet.

    Rows that take orders away ("new" rows an order moved out of, which exist) are
    updates: the row an INSERT proposes must pass the orders ≥ 0 check first."""
    connection = connections[DailySales.objects.db]
    ops = connection.ops
    table = DailySales._meta.db_table
    names = ", ".join(f'"{c}"' for c in (*KEY_COLUMNS, *SUM_COLUMNS))
    target = ", ".join(
        f'COALESCE("{c}", 0)' if c in NULLABLE_KEYS else f'"{c}"' for c in KEY_COLUMNS
    )
    update = ", ".join(f'"{c}" = "{table}"."{c}" + excluded."{c}"' for c in SUM_COLUMNS)
    marks = ", ".join(["%s"] * (len(KEY_COLUMNS) + len(SUM_COLUMNS)))
    insert = (
        f'INSERT INTO "{table}" ({names}) VALUES ({marks}) '  # noqa: S608
        f"ON CONFLICT ({target}) DO UPDATE SET {update}"
    )
    adds = ", ".join(f'"{c}" = "{c}" + %s' for c in SUM_COLUMNS)
    where = " AND ".join(
        f'"{c}" IS NULL' if c in NULLABLE_KEYS else f'"{c}" = %s' for c in KEY_COLUMNS
    )
    take = f'UPDATE "{table}" SET {adds} WHERE {where}'  # noqa: S608
    tenant = current_tenant_id()
    inserts, updates = [], []
    for row in rows:
        month, day, dimension, currency, owner = row[:5]
        keys, (orders, quantity, *money) = row[5:-5], row[-5:]
        head = (tenant, month, ops.adapt_datefield_value(day), dimension, currency, owner)
        sums = (
            orders,
            ops.adapt_decimalfield_value(quantity, 18, 3),
            *(ops.adapt_decimalfield_value(m.quantize(SIX_PLACES), 20, 6) for m in money),
        )
        if orders >= 0:
            inserts.append((*head, *keys, *sums))
        else:
            product, category, *rest = keys
            assert product is None and category is None
            updates.append((*sums, *head, *rest))
    with connection.cursor() as cursor:
        if inserts:
            cursor.executemany(insert, inserts)
        if updates:
            cursor.executemany(take, updates)


def _drop_empty(days: set[datetime.date]) -> None:
    """The "new" rows of these days (and their months) that orders moved out of."""
    # Within half a millionth of nought: SQLite adds and subtracts decimals as floats.
    near = {
        f"{c}__{op}": value
        for c in ("revenue", "cost", "profit")
        for op, value in (("gt", -HALF_MILLIONTH), ("lt", HALF_MILLIONTH))
    }
    empty = Q(dimension=Dim.NEW, orders=0, **near)
    months = {d.replace(day=1) for d in days}
    for chunk in _chunks(sorted(days)):
        DailySales.objects.filter(empty, month=False, day__in=chunk).delete()
    for chunk in _chunks(sorted(months)):
        DailySales.objects.filter(empty, month=True, day__in=chunk).delete()


def summary_pending_add(order_ids: Sequence[int]) -> bool:
    """Note booked orders just created (in the caller's transaction, nothing else of them
    changed) for `summary_catch_up` to add; True when nothing was waiting before (the
    caller then books the task that catches up).

    A bulk import does this instead of adding its batch itself: a batch spread over a
    thousand days touches ~10 summary rows per order, so adding batch by batch cost more
    than writing the orders; added many batches at a time, in date order, the rows are
    shared. On PostgreSQL the caller holds `_share_lock` until it commits."""
    if not order_ids:
        return False
    runs: list[list[int]] = []
    for pk in sorted(order_ids):
        if runs and runs[-1][1] == pk - 1:
            runs[-1][1] = pk
        else:
            runs.append([pk, pk])
    first = not SummaryPending.objects.exists()
    SummaryPending.objects.create(tenant_id=current_tenant_id(), order_ids=runs)
    return first


def share_lock() -> None:
    """Taken by a writer of pending orders before it commits (PostgreSQL; SQLite has one
    writer at a time): a catch-up or refresh (`_lock`) then either waits for it to commit
    or runs wholly before, so it never counts the writer's orders from the orders table
    while their pending row is not yet visible to it (they would be counted twice)."""
    connection = connections[Tenant.objects.db]
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            table = Tenant._meta.db_table
            cursor.execute(
                f'SELECT 1 FROM "{table}" WHERE "id" = %s FOR SHARE',  # noqa: S608
                [current_tenant_id()],
            )


FOLD_CHUNK = 20_000  # orders added in one upsert
_IN = 2_000  # ids in one IN (...)


def summary_catch_up() -> int:
    """Add the pending orders (`summary_pending_add`) to the summary; how many it added.

    In date order, FOLD_CHUNK orders at a time, so that a party's first sale can only move
    earlier in the first chunk that holds its orders (a move re-reads its stored orders).
    The same rows `summary_refresh` would give:

    - a party not summarised yet becomes so with its first pending sale — unless it has
      booked orders that are not pending (a summary out of step): then it and a party
      whose province, city, source or deletion changed are left out while adding, and
      have all their days computed again at the end, as `summary_refresh` does;
    - a party whose first sale moves earlier: the "new" rows of its orders already
      summarised, of the years of the old and the new first sale, are moved to their new
      `new_within`.
    """
    if not SummaryPending.objects.exists():
        return 0
    with transaction.atomic():
        _lock()
        pending = list(SummaryPending.objects.values_list("pk", "order_ids"))
        if not pending:
            return 0
        days, pks, party_ids = _pending_orders([run for _pk, runs in pending for run in runs])
        order = np.lexsort((pks, days))
        pks, party_ids = pks[order], party_ids[order]
        fold = _Fold(party_ids)
        for start in range(0, len(pks), FOLD_CHUNK):
            fold.add(_new_orders(pks[start : start + FOLD_CHUNK]), pks[start:])
        fold.finish()
        SummaryPending.objects.filter(pk__in=[pk for pk, _runs in pending]).delete()
        return len(pks)


def _pending_orders(runs: list[list[int]]) -> tuple[Any, Any, Any]:
    """(day ordinals, ids, parties) of the booked orders among these ids, as arrays. Runs
    close together are read as one id range, keeping only the ids of the runs."""
    wanted = np.concatenate([np.arange(lo, hi + 1, dtype=np.int64) for lo, hi in runs])
    wanted.sort()
    spans: list[list[int]] = []
    for lo, hi in sorted(runs):
        if spans and lo - spans[-1][1] <= 10_000:
            spans[-1][1] = max(spans[-1][1], hi)
        else:
            spans.append([lo, hi])
    found: list[tuple[int, int, int]] = []
    booked = Order.objects.filter(status__in=BOOKED, kind=OrderKind.ORDER)
    for lo, hi in spans:
        rows = booked.filter(pk__gte=lo, pk__lte=hi).values_list("order_date", "pk", "party_id")
        found.extend((day.toordinal(), pk, party) for day, pk, party in rows.iterator(10_000))
    table = np.array(found, dtype=np.int64).reshape(-1, 3)
    keep = np.isin(table[:, 1], wanted)
    return table[keep, 0], table[keep, 1], table[keep, 2]


def _new_orders(pks: Any) -> list[NewOrder]:
    """These orders and their lines as `_Deltas` takes them, in the order of `pks`."""
    ids = [int(pk) for pk in pks]
    categories = dict(
        Product.all_tenants.filter(tenant_id=current_tenant_id()).values_list("pk", "category_id")
    )
    lines: dict[int, list[NewLine]] = {}
    heads: dict[int, tuple[Any, ...]] = {}
    columns = (
        "pk",
        "order_date",
        "currency",
        "owner_id",
        "party_id",
        "revenue",
        "cost",
        "profit",
        "subtotal",
    )
    for chunk in (ids[i : i + _IN] for i in range(0, len(ids), _IN)):
        heads.update(
            (row[0], row) for row in Order.objects.filter(pk__in=chunk).values_list(*columns)
        )
        found = OrderLine.objects.filter(order_id__in=chunk).order_by("order_id", "position")
        for order_id, product_id, quantity, amount, cost in found.values_list(
            "order_id", "product_id", "quantity", "amount", "cost_amount"
        ):
            line = NewLine(product_id, categories.get(product_id), quantity, amount, cost)
            lines.setdefault(order_id, []).append(line)
    return [NewOrder._make((*heads[pk], lines.get(pk, []))) for pk in ids if pk in heads]


class _Fold:
    """What `summary_catch_up` knows of the pending orders' parties between chunks."""

    def __init__(self, party_ids: Any) -> None:
        parties, counts = np.unique(party_ids, return_counts=True)
        self.pending = dict(zip(parties.tolist(), counts.tolist(), strict=True))
        self.known: dict[int, SummaryParty] = {}
        for chunk in _chunks(self.pending):
            found = SummaryParty.objects.filter(party_id__in=chunk)
            self.known.update((s.party_id, s) for s in found)
        fields = ("province", "city", "source", "deleted_at")
        self.current: dict[int, dict[str, Any]] = {}
        for chunk in _chunks(self.pending):
            for party in Party.with_deleted.filter(pk__in=chunk).values("pk", *fields):
                self.current[party["pk"]] = party
        booked = _booked_counts(sorted(set(self.pending) - set(self.known)))
        self.redo = {
            pk
            for pk in self.pending
            if (
                booked.get(pk, 0) != self.pending[pk]
                if pk not in self.known
                else _stored_state(self.known[pk])[:4] != _party_state(self.current[pk], None)[:4]
            )
        }

    def add(self, orders: Sequence[NewOrder], unfolded: Any) -> None:
        """Add a chunk; `unfolded`: the ids of it and of the chunks after it."""
        firsts: dict[int, datetime.date] = {}
        for o in orders:
            if o.party_id not in self.redo and o.party_id not in firsts:
                firsts[o.party_id] = o.day  # in date order: the first is the earliest
        moved: dict[int, datetime.date | None] = {}  # party: its first sale before
        new = []
        for pk, first in firsts.items():
            stored = self.known.get(pk)
            if stored is None:
                stored = SummaryParty(tenant_id=current_tenant_id(), party_id=pk)
                state = _party_state(self.current[pk], first)
                (stored.province, stored.city, stored.source, stored.deleted) = state[:4]
                stored.first_day = first
                self.known[pk] = stored
                new.append(stored)
            elif stored.first_day is None or first < stored.first_day:
                moved[pk] = stored.first_day
                stored.first_day = first
        SummaryParty.objects.bulk_create(new, batch_size=2000)
        if moved:
            SummaryParty.objects.bulk_update(
                [self.known[pk] for pk in moved], ["first_day"], batch_size=2000
            )
        deltas = _Deltas()
        for o in orders:
            summarised = self.known.get(o.party_id)
            if o.party_id not in self.redo and summarised is not None and not summarised.deleted:
                deltas.order(o, summarised)
        not_yet = set(unfolded.tolist()) if moved else set()
        emptied = _move_new(deltas, moved, self.known, not_yet) if moved else set()
        _upsert(deltas.rows(set()))
        _drop_empty(emptied)

    def finish(self) -> None:
        """The parties left out: their state stored again and their days computed again."""
        if self.redo:
            _store_parties(self.redo, {pk: self.known[pk] for pk in self.redo if pk in self.known})
            _write(sorted(_days_of(self.redo)))


def _booked_counts(party_ids: Sequence[int]) -> dict[int, int]:
    """Booked orders and returns per party (the batch's included: they are written)."""
    found: dict[int, int] = {}
    for chunk in _chunks(party_ids):
        counts = (
            Order.objects.filter(party_id__in=chunk, status__in=BOOKED)
            .values("party_id")
            .annotate(n=Count("pk"))
            .values_list("party_id", "n")
        )
        found.update(counts)
    return found


def _move_new(
    deltas: _Deltas,
    moved: dict[int, datetime.date | None],
    known: dict[int, SummaryParty],
    not_yet: set[int],
) -> set[datetime.date]:
    """The parties' summarised booked orders and returns (not those `not_yet` added) of
    the years of their old and new first sale, moved from the "new" rows of the old
    first sale to those of the new one; the days whose rows lost something."""
    parties = sorted(pk for pk in moved if not known[pk].deleted)
    years: dict[int, set[int]] = {}
    for pk in parties:
        old, first = moved[pk], known[pk].first_day
        assert first is not None
        years[pk] = {first.year} | ({old.year} if old else set())
    emptied: set[datetime.date] = set()
    columns = ("pk", "party_id", "order_date", "currency", "owner_id", "kind", "revenue")
    for chunk in _chunks(parties):
        stored = Order.objects.filter(
            party_id__in=chunk,
            status__in=BOOKED,
            order_date__year__in=sorted({y for pk in chunk for y in years[pk]}),
        )
        for (
            pk,
            party_id,
            day,
            currency,
            owner_id,
            kind,
            revenue,
            cost,
            profit,
        ) in stored.values_list(*columns, "cost", "profit").iterator(chunk_size=5000):
            was = new_within(day, moved[party_id])
            now = new_within(day, known[party_id].first_day)
            if pk in not_yet or was == now:
                continue
            counted = 1 if kind == OrderKind.ORDER else 0
            head = (Dim.NEW, day, currency, owner_id, None, None, "", "", "")
            deltas.add((*head, was), -counted, ZERO, -revenue, -cost, -profit)
            deltas.add((*head, now), counted, ZERO, revenue, cost, profit)
            emptied.add(day)
    return emptied


def stale_parties() -> list[int]:
    """Parties whose province, city, source or deletion differ from what the summary used."""
    differs = (
        ~Q(province=F("party__province"))
        | ~Q(city=F("party__city"))
        | ~Q(source=F("party__source"))
        | Q(deleted=False, party__deleted_at__isnull=False)
        | Q(deleted=True, party__deleted_at__isnull=True)
    )
    return list(SummaryParty.objects.filter(differs).values_list("party_id", flat=True))


def summary_heal() -> int:
    """Add the pending orders, and bring the stale parties' days up to date; the number
    of parties it had to."""
    summary_catch_up()
    stale = stale_parties()
    if stale:
        with transaction.atomic():
            _lock()
            known = {s.party_id: s for s in SummaryParty.objects.filter(party_id__in=stale)}
            _store_parties(set(stale), known)
            _write(sorted(_days_of(stale)))
    return len(stale)


@transaction.atomic
def summary_categories_refresh() -> None:
    """A product changed category: the category rows of every day, computed again (one
    GROUP BY over all the tenant's lines; the other rows do not change)."""
    summary_catch_up()
    _lock()
    DailySales.objects.filter(dimension=Dim.CATEGORY).delete()
    _insert(_line_rows(_booked(None), Dim.CATEGORY))
    _insert(_month_rows(None, Dim.CATEGORY))


@transaction.atomic
def summary_rebuild() -> int:
    """The current tenant's whole summary from its orders; the rows written."""
    _lock()
    SummaryPending.objects.all().delete()  # their orders are counted with all the others
    SummaryParty.objects.all().delete()
    buyers = Order.objects.filter(status__in=BOOKED).values_list("party_id", flat=True)
    _store_parties(set(buyers.distinct()), {})
    _write(None)
    return DailySales.objects.count()

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

import bisect
import datetime
from collections.abc import Iterable, Iterator, Sequence
from decimal import Decimal
from itertools import islice
from typing import Any

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
from django.db.models.functions import Abs, NullIf

from kehu.core.context import current_tenant_id
from kehu.core.isodates import Month, MonthStart, Quarter, Year
from kehu.parties.models import Party
from kehu.sales.models import (
    BOOKED,
    ZERO,
    DailySales,
    Order,
    OrderKind,
    OrderLine,
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


# The party rows keep where the party is and its source (as the region and channel rows
# do), so that a reader of some parties only can have those reports too.
PARTY_KEYS = {
    "party_key": "party_id",
    "province": "party__sales_summary__province",
    "city": "party__sales_summary__city",
    "source": "party__sales_summary__source",
}


def _order_splits(orders: QuerySet[Order]) -> list[tuple[str, dict[str, str], QuerySet[Any]]]:
    """(dimension, its keys: column → path, the orders to group) of the order dimensions."""
    return [
        (Dim.OWNER, {}, orders),
        (
            Dim.REGION,
            {"province": "party__sales_summary__province", "city": "party__sales_summary__city"},
            orders,
        ),
        (Dim.CHANNEL, {"source": "party__sales_summary__source"}, orders),
        (Dim.PARTY, PARTY_KEYS, orders),
        (
            Dim.NEW,
            {"new_within": "new_within"},
            orders.annotate(
                y=Year("order_date"),
                q=Quarter("order_date"),
                m=Month("order_date"),
                fy=Year(_FIRST),
                fq=Quarter(_FIRST),
                fm=Month(_FIRST),
            ).annotate(new_within=NEW_WITHIN),
        ),
    ]


def _line_split(orders: QuerySet[Order], dimension: str) -> tuple[str, str, QuerySet[Any]]:
    """(column, path, the lines to group) of the product or the category dimension."""
    lines = OrderLine.objects.filter(order__in=orders.values("pk"))
    if dimension == Dim.CATEGORY:
        return "category_id", "product__category_id", lines
    return "product_id", "product_id", lines


def _rows(days: Sequence[datetime.date] | None) -> Iterator[DailySales]:
    orders = _booked(days)
    head = ("order_date", "currency", "owner_id")
    for dimension, keys, rows in _order_splits(orders):
        grouped = rows.values(*head, *keys.values()).annotate(**ORDER_SUMS).order_by()
        for r in grouped.iterator(chunk_size=5000):
            yield _row(dimension, r, "", **{name: r[path] for name, path in keys.items()})
    yield from _line_rows(orders, Dim.PRODUCT)
    yield from _line_rows(orders, Dim.CATEGORY)


def _line_rows(orders: QuerySet[Order], dimension: str) -> Iterator[DailySales]:
    """Product or category rows: an order with two products of one category counts once."""
    name, key, lines = _line_split(orders, dimension)
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
    "party_key",
)
_MONTH_SUMS = {name: Sum(name) for name in ("orders", "quantity", "revenue", "cost", "profit")}


def _month_rows(first: datetime.date | None, dimension: str = "") -> Iterator[DailySales]:
    """The sums of a month's day rows (every month's: None), one row per key."""
    days = DailySales.objects.filter(month=False)
    if dimension:
        days = days.filter(dimension=dimension)
    if first is not None:
        days = days.filter(day__gte=first, day__lt=next_month(first))
    grouped = days.annotate(start=MonthStart("day")).values("start", *MONTH_KEYS)
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


# The key of a summary row (its unique index, `daily_sales_key`) and its sums.
KEY_COLUMNS = ("tenant_id", "month", "day", *MONTH_KEYS)
SUM_COLUMNS = ("orders", "quantity", "revenue", "cost", "profit")
NULLABLE_KEYS = ("product_id", "category_id", "party_key")
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


def _upsert_parts() -> tuple[str, str]:
    """The columns of an upsert into the summary, and its ON CONFLICT clause: the sums
    added to those of the row with the same key (the unique index `daily_sales_key`)."""
    table = DailySales._meta.db_table
    names = ", ".join(f'"{c}"' for c in (*KEY_COLUMNS, *SUM_COLUMNS))
    target = ", ".join(
        f'COALESCE("{c}", 0)' if c in NULLABLE_KEYS else f'"{c}"' for c in KEY_COLUMNS
    )
    update = ", ".join(f'"{c}" = "{table}"."{c}" + excluded."{c}"' for c in SUM_COLUMNS)
    return names, f"ON CONFLICT ({target}) DO UPDATE SET {update}"


def _upsert(rows: Iterable[tuple[Any, ...]]) -> None:
    """Add the rows' sums to the rows of the same key, inserting those not there yet.

    Rows that take orders away ("new" rows an order moved out of, which exist) are
    updates: the row an INSERT proposes must pass the orders ≥ 0 check first."""
    connection = connections[DailySales.objects.db]
    ops = connection.ops
    table = DailySales._meta.db_table
    names, conflict = _upsert_parts()
    marks = ", ".join(["%s"] * (len(KEY_COLUMNS) + len(SUM_COLUMNS)))
    insert = f'INSERT INTO "{table}" ({names}) VALUES ({marks}) {conflict}'  # noqa: S608
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
            product, category, *rest, party = keys
            assert product is None and category is None and party is None
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
    than writing the orders; added many batches at a time, inside the database, the rows
    are shared. On PostgreSQL the caller holds `share_lock` until it commits."""
    if not order_ids:
        return False
    runs: list[list[int]] = []
    for pk in sorted(order_ids):
        if runs and runs[-1][1] == pk - 1:
            runs[-1][1] = pk
        else:
            runs.append([pk, pk])
    first = not SummaryPending.objects.exists()
    tenant = current_tenant_id()
    SummaryPending.objects.bulk_create(
        SummaryPending(tenant_id=tenant, first_id=lo, last_id=hi) for lo, hi in runs
    )
    return first


def share_lock() -> None:
    """Taken by a writer of pending orders before it commits (PostgreSQL; SQLite has one
    writer at a time): a catch-up or refresh (`_lock`) then either waits for it to commit
    or runs wholly before, so it never counts the writer's orders from the orders table
    while their pending rows are not yet visible to it (they would be counted twice)."""
    connection = connections[Tenant.objects.db]
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            table = Tenant._meta.db_table
            cursor.execute(
                f'SELECT 1 FROM "{table}" WHERE "id" = %s FOR SHARE',  # noqa: S608
                [current_tenant_id()],
            )


# Id ranges in one catch-up statement: an OR of ranges, which SQLite parses into a tree
# it caps at a depth of 1,000 ("Expression tree is too large" at 1,000 batches).
RUNS_AT_ONCE = 400


def summary_catch_up() -> int:
    """Add the pending orders (`summary_pending_add`) to the summary; how many it added.

    Inside the database: per dimension one `INSERT … SELECT … GROUP BY … ON CONFLICT`
    for the day rows and one for the month rows (RUNS_AT_ONCE id ranges at a time). The
    same rows `summary_refresh` would give:

    - a party not summarised yet becomes so with its first pending sale — unless it has
      booked orders that are not pending (a summary out of step): then it and a party
      whose province, city, source or deletion changed have all their days computed
      again at the end, as `summary_refresh` does;
    - a party whose first sale moves earlier: the "new" rows of its orders already
      summarised, of the years of the old and the new first sale, are moved to their new
      `new_within` first.
    """
    if not SummaryPending.objects.exists():
        return 0
    with transaction.atomic():
        _lock()
        pending: list[tuple[int, int]] = []
        ranges = SummaryPending.objects.order_by("first_id").values_list("first_id", "last_id")
        for lo, hi in ranges:
            if pending and pending[-1][1] + 1 == lo:  # batch after batch: one range
                pending[-1] = (pending[-1][0], hi)
            else:
                pending.append((lo, hi))
        added = 0
        redo: set[int] = set()
        for start in range(0, len(pending), RUNS_AT_ONCE):
            added += _catch_up(pending[start : start + RUNS_AT_ONCE], pending[start:], redo)
        if redo:
            # After every range: computing a day again counts all its orders, pending or not.
            known = {s.party_id: s for s in SummaryParty.objects.filter(party_id__in=redo)}
            _store_parties(redo, known)
            _write(sorted(_days_of(redo)))
        SummaryPending.objects.all().delete()
        return added


def _catch_up(runs: list[tuple[int, int]], not_yet: list[tuple[int, int]], redo: set[int]) -> int:
    """Add the orders of these id ranges (`not_yet`: the ranges not yet added, these
    too); the parties to compute again at the end go into `redo`."""
    in_runs = Q()
    for lo, hi in runs:
        in_runs |= Q(pk__gte=lo, pk__lte=hi)
    orders = Order.objects.filter(in_runs, status__in=BOOKED, kind=OrderKind.ORDER)
    parties = {
        r["party_id"]: (r["first"], r["n"])
        for r in orders.values("party_id")
        .annotate(first=Min("order_date"), n=Count("pk"))
        .order_by()
    }
    if not parties:
        return 0
    known: dict[int, SummaryParty] = {}
    for chunk in _chunks(sorted(parties)):
        known.update((s.party_id, s) for s in SummaryParty.objects.filter(party_id__in=chunk))
    current: dict[int, dict[str, Any]] = {}
    fields = ("province", "city", "source", "deleted_at")
    for chunk in _chunks(sorted(parties)):
        for party in Party.with_deleted.filter(pk__in=chunk).values("pk", *fields):
            current[party["pk"]] = party
    booked = _booked_counts(sorted(set(parties) - set(known)))
    moved: dict[int, datetime.date | None] = {}  # party: its first sale before
    new = []
    for pk, (first, n) in parties.items():
        stored = known.get(pk)
        if stored is None:
            if booked.get(pk, 0) != n:
                redo.add(pk)
                continue
            stored = SummaryParty(tenant_id=current_tenant_id(), party_id=pk)
            state = _party_state(current[pk], first)
            (stored.province, stored.city, stored.source, stored.deleted) = state[:4]
            stored.first_day = first
            known[pk] = stored
            new.append(stored)
        elif _stored_state(stored)[:4] != _party_state(current[pk], None)[:4]:
            redo.add(pk)
        elif stored.first_day is None or first < stored.first_day:
            moved[pk] = stored.first_day
            stored.first_day = first
    SummaryParty.objects.bulk_create(new, batch_size=2000)
    if moved:
        SummaryParty.objects.bulk_update(
            [known[pk] for pk in moved], ["first_day"], batch_size=2000
        )
        deltas = _Deltas()
        emptied = _move_new(deltas, moved, known, _Ranges(not_yet))
        _upsert(deltas.rows(set()))
        _drop_empty(emptied)
    # The orders of parties in `redo` are in the days computed again at the end.
    summarised = orders.filter(party__sales_summary__deleted=False)
    _add_grouped(summarised)
    return sum(n for _first, n in parties.values())


class _Ranges:
    """Whether an id is in one of these sorted, disjoint id ranges."""

    def __init__(self, ranges: list[tuple[int, int]]) -> None:
        self.firsts = [lo for lo, _hi in ranges]
        self.lasts = [hi for _lo, hi in ranges]

    def __contains__(self, pk: object) -> bool:
        assert isinstance(pk, int)
        i = bisect.bisect_right(self.firsts, pk) - 1
        return i >= 0 and pk <= self.lasts[i]


def _add_grouped(orders: QuerySet[Order]) -> None:
    """The sums of these orders, grouped as `_rows` groups them, added to the summary's
    day rows and then to its month rows: two statements per dimension."""
    constants = {
        "tenant_id": current_tenant_id(),
        "product_id": None,
        "category_id": None,
        "province": "",
        "city": "",
        "source": "",
        "new_within": 0,
        "party_key": None,
        "quantity": 0,
    }
    head = ("day", "currency", "owner_id")
    for dimension, keys, rows in _order_splits(orders):
        paths = dict(zip(head, ("order_date", "currency", "owner_id"), strict=True))
        grouped = rows.values(
            **{f"g_{c}": F(p) for c, p in paths.items()},
            **{f"g_{c}": F(p) for c, p in keys.items()},
        ).annotate(**{f"g_{c}": agg for c, agg in ORDER_SUMS.items()})
        _insert_grouped(grouped, {**constants, "dimension": dimension})
    for dimension in (Dim.PRODUCT, Dim.CATEGORY):
        column, key, lines = _line_split(orders, dimension)
        paths = dict(
            zip(head, ("order__order_date", "order__currency", "order__owner_id"), strict=True)
        )
        grouped = lines.values(
            **{f"g_{c}": F(p) for c, p in paths.items()},
            **{f"g_{column}": F(key)},
        ).annotate(
            **{f"g_{c}": agg for c, agg in LINE_SUMS.items()}, g_quantity=Sum(_LINE_QUANTITY)
        )
        _insert_grouped(grouped, {**constants, "dimension": dimension})


_STAGE = "kehu_summary_stage"


def _insert_grouped(grouped: QuerySet[Any], constants: dict[str, Any]) -> None:
    """The grouped day rows (columns named g_<column>) added ON CONFLICT to the day rows,
    then summed by month and added to the month rows.

    The groups are kept in a temporary table between the two: grouping the orders (or
    their lines) is the dear part, and a month's sums are its days' sums, as
    `_month_rows` computes them in a rebuild. An order is on one day, so the day rows'
    distinct order counts add up to the month's.
    """
    connection = connections[DailySales.objects.db]
    sql, params = grouped.order_by().query.get_compiler(connection=connection).as_sql()
    chosen = set(grouped.query.values_select) | set(grouped.query.annotation_select)
    names, conflict = _upsert_parts()
    table = DailySales._meta.db_table
    if connection.vendor == "postgresql":
        month_start = 'CAST(DATE_TRUNC(\'month\', "s"."g_day") AS date)'
    else:
        month_start = '(substr("s"."g_day", 1, 8) || \'01\')'

    def upsert(month: bool) -> tuple[str, list[Any]]:
        picks, given, keys = [], [], []
        for column in (*KEY_COLUMNS, *SUM_COLUMNS):
            if column == "month":
                picks.append("%s")
                given.append(month)
            elif f"g_{column}" not in chosen:
                picks.append("%s")
                given.append(constants[column])
            elif column == "day" and month:
                picks.append(month_start)
                keys.append(month_start)
            elif column in SUM_COLUMNS and month:
                picks.append(f'SUM("s"."g_{column}")')
            else:
                picks.append(f'"s"."g_{column}"')
                keys.append(f'"s"."g_{column}"')
        by = f" GROUP BY {', '.join(keys)}" if month else ""
        # WHERE true: SQLite would read ON CONFLICT as part of the SELECT's join otherwise.
        return (
            f'INSERT INTO "{table}" ({names}) SELECT {", ".join(picks)} '  # noqa: S608
            f'FROM "{_STAGE}" AS "s" WHERE true{by} {conflict}',
            given,
        )

    with connection.cursor() as cursor:
        # Inside the catch-up's transaction: an error rolls the table back with the rest.
        cursor.execute(f'CREATE TEMPORARY TABLE "{_STAGE}" AS {sql}', params)
        for month in (False, True):
            cursor.execute(*upsert(month))
        cursor.execute(f'DROP TABLE "{_STAGE}"')


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
    not_yet: "_Ranges",
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
            deltas.add((*head, was, None), -counted, ZERO, -revenue, -cost, -profit)
            deltas.add((*head, now, None), counted, ZERO, revenue, cost, profit)
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

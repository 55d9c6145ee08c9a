"""Bulk order import: a batch of orders written all or nothing, fast.

The same rules as `services.order_create`, checked set-based: every party, product,
owner and existing order of a batch is read in one query each, every error of every row
is collected (named `orders[42].lines[1].quantity`), and only a batch with no error is
written. An order whose `external_id` exists already is updated in place (upsert); sent
again unchanged, it is left alone, so re-sending a batch writes nothing. Each created or
changed order gets its audit entries, and the parties whose first sale is in the batch
move to "current" (or from lost to won back) in bulk.

New orders, their lines and the audit entries never become model instances: they are
plain tuples written by `kehu.core.bulk.BulkWriter` (executemany on SQLite, COPY on
PostgreSQL), which is what makes a batch of thousands take tens of milliseconds rather
than a second. Their ids are drawn before the insert (`BulkWriter.reserve_ids`: the
sequence on PostgreSQL, the write lock on SQLite), so lines and audit entries can point
at them without reading anything back. Updates of existing orders are rare (a re-sent
order that changed) and go through the ORM.
"""

import datetime
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, NamedTuple, Protocol

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from kehu.core.audit import diff, snapshot
from kehu.core.bulk import AUDIT_COLUMNS, BulkWriter, Row
from kehu.core.context import current_tenant_id
from kehu.core.models import AuditEntry
from kehu.parties.models import Party
from kehu.parties.selectors import parties_visible_to
from kehu.parties.services import party_states_change_bulk
from kehu.sales.models import BOOKED, ZERO, Order, OrderKind, OrderLine, OrderStatus, Product
from kehu.sales.services import (
    BOOKING_MOVES,
    ORDER_FIELDS,
    LineIn,
    booking_move,
    booking_reason,
    line_errors,
    lines_summary,
    money,
    number_of,
)
from kehu.sales.summary import share_lock, summary_pending_add, summary_refresh
from kehu.sales.tasks import summary_catch_up_later
from kehu.tenancy.models import User

MAX_BATCH = 5000
Action = AuditEntry.Action
CREATED, UPDATED, UNCHANGED = "created", "updated", "unchanged"
# What an import may set on an order; compared to tell "unchanged" from "updated".
IMPORTED_FIELDS = (
    "party",
    "number",
    "status",
    "order_date",
    "currency",
    "discount",
    "owner",
    "note",
)
ORDER_COLUMNS = (
    "id",
    "kind",
    "party_id",
    "number",
    "status",
    "order_date",
    "currency",
    "discount",
    "owner_id",
    "external_id",
    "note",
    "subtotal",
    "revenue",
    "cost",
    "profit",
    "created_by_id",
)
LINE_COLUMNS = (
    "order_id",
    "position",
    "product_id",
    "quantity",
    "unit_price",
    "unit_cost",
    "discount",
    "amount",
    "cost_amount",
)
ORDER_TYPE = Order._meta.label_lower
PARTY_TYPE = Party._meta.label_lower


class LineRow(Protocol):
    @property
    def product_code(self) -> str: ...
    @property
    def quantity(self) -> Decimal: ...
    @property
    def unit_price(self) -> Decimal | None: ...
    @property
    def unit_cost(self) -> Decimal | None: ...
    @property
    def discount(self) -> Decimal: ...


class OrderRow(Protocol):
    """One order of a batch (the API's OrderImportIn has this shape)."""

    @property
    def party_id(self) -> int | None: ...
    @property
    def party_uscc(self) -> str: ...
    @property
    def number(self) -> str: ...
    @property
    def external_id(self) -> str: ...
    @property
    def status(self) -> str: ...
    @property
    def order_date(self) -> datetime.date: ...
    @property
    def currency(self) -> str: ...
    @property
    def discount(self) -> Decimal: ...
    @property
    def owner_id(self) -> int | None: ...
    @property
    def note(self) -> str: ...
    @property
    def lines(self) -> Sequence[LineRow]: ...


class ImportedRow(NamedTuple):
    """What happened to one row of a batch: the order written (or left alone)."""

    id: int
    number: str
    external_id: str
    result: str  # CREATED | UPDATED | UNCHANGED


@dataclass
class ImportResult:
    rows: list[ImportedRow] = field(default_factory=list)  # one per row, in order

    def count(self, result: str) -> int:
        return sum(1 for row in self.rows if row.result == result)


class _PartyRef(NamedTuple):
    """What a batch needs of a party it names (read as plain values: a batch names
    thousands, and a model instance each cost a tenth of the checking)."""

    pk: int
    uscc: str
    owner_id: int
    relationship_state: str


class _Line(NamedTuple):
    """A checked, priced line, as `services.priced_line` prices it (money to the cent)."""

    product: Product
    quantity: Decimal
    unit_price: Decimal
    unit_cost: Decimal
    discount: Decimal
    amount: Decimal
    cost_amount: Decimal

    def summary(self) -> str:
        """The line as `services.lines_summary` writes a stored one (a test pins that)."""
        return (
            f"{self.product.code} × {self.quantity.normalize():f} @ {self.unit_price}"
            f" − {self.discount}"
        )


def _priced(product: Product, line: LineRow) -> _Line:
    unit_price = product.unit_price if line.unit_price is None else money(line.unit_price)
    unit_cost = product.unit_cost if line.unit_cost is None else money(line.unit_cost)
    discount = money(line.discount)
    return _Line(
        product,
        line.quantity,
        unit_price,
        unit_cost,
        discount,
        money(line.quantity * unit_price) - discount,
        money(line.quantity * unit_cost),
    )


@dataclass(slots=True)
class _Planned:
    """One valid row, ready to write: its values as stored and what will happen to it."""

    index: int
    row: OrderRow
    party: _PartyRef
    owner_id: int
    number: str
    discount: Decimal
    lines: list[_Line]
    result: str
    existing: Order | None = None
    before: dict[str, Any] = field(default_factory=dict)  # ORDER_FIELDS + lines, updates
    pk: int = 0
    # Totals as `services.totals_of` computes them for an order (not a return).
    subtotal: Decimal = ZERO
    cost: Decimal = ZERO
    changes: dict[str, list[Any]] = field(default_factory=dict)  # the audit's, once checked

    @property
    def revenue(self) -> Decimal:
        return self.subtotal - self.discount

    @property
    def profit(self) -> Decimal:
        return self.revenue - self.cost

    def after(self) -> dict[str, Any]:
        """The audit snapshot of the order as written (`snapshot(order, ORDER_FIELDS)`)."""
        row = self.row
        values = {
            "party": self.party.pk,
            "number": self.number,
            "kind": OrderKind.ORDER.value,
            "original": None,
            "status": str(row.status),
            "order_date": row.order_date.isoformat(),
            "currency": str(row.currency),
            "discount": str(self.discount),
            "revenue": str(self.revenue),
            "cost": str(self.cost),
            "profit": str(self.profit),
            "owner": self.owner_id,
            "external_id": row.external_id,
            "note": row.note,
        }
        return {name: values[name] for name in ORDER_FIELDS}

    def summary(self) -> list[str]:
        return [line.summary() for line in self.lines]

    def audit_changes(self) -> dict[str, list[Any]]:
        after = {**self.after(), "lines": self.summary()}
        # diff({}, after), without comparing each field with a missing one.
        return diff(self.before, after) if self.before else _created(after)


def _with_returns(order_ids: Sequence[int]) -> set[int]:
    """Which of these orders have returns (not cancelled): an import may not change them."""
    returns = Order.objects.filter(original_id__in=order_ids).exclude(status=OrderStatus.CANCELLED)
    return set(returns.values_list("original_id", flat=True))


def orders_with_returns(order_ids: Sequence[int]) -> set[int]:
    """Which of these orders have returns: the bulk import leaves those as they are."""
    return _with_returns(order_ids) if order_ids else set()


def rows_unchanged(*, actor: User, rows: Sequence[OrderRow]) -> list[int]:
    """The indexes of the rows that would leave their order exactly as it is (the bulk
    import's own comparison; nothing is written)."""
    return [p.index for p in _plan(_Batch(actor, rows)) if p.result == UNCHANGED]


def _locked_message() -> str:
    return _("订单已有退货，不能通过导入修改。")


class _Batch:
    """The rows of one batch and everything they refer to, read in one query each."""

    def __init__(self, actor: User, rows: Sequence[OrderRow]):
        self.actor = actor
        self.rows = rows
        self.errors: dict[str, list[str]] = {}
        ids = {r.party_id for r in rows if r.party_id is not None}
        usccs = {r.party_uscc for r in rows if r.party_uscc}
        visible = parties_visible_to(actor).filter(Q(pk__in=ids) | Q(uscc__in=usccs))
        parties = [
            _PartyRef(*values)
            for values in (visible.values_list(*_PartyRef._fields) if ids or usccs else [])
        ]
        self.parties = {p.pk: p for p in parties}
        self.by_uscc = {p.uscc: p for p in parties if p.uscc}
        codes = {line.product_code for r in rows for line in r.lines}
        self.products = {p.code: p for p in Product.objects.filter(code__in=codes)}
        owner_ids = {r.owner_id for r in rows if r.owner_id is not None}
        self.owners = set(
            User.objects.filter(pk__in=owner_ids, is_active=True).values_list("pk", flat=True)
        )
        keys = [r.external_id for r in rows if r.external_id]
        # `.exclude(… "")`: the condition of the partial unique indexes, without which
        # SQLite cannot use them and reads every order of the firm for each batch.
        by_key = Order.objects.filter(external_id__in=keys).exclude(external_id="")
        self.existing = {o.external_id: o for o in by_key}
        numbers = [r.number for r in rows if r.number]
        by_number = Order.objects.filter(number__in=numbers).exclude(number="")
        self.numbers = dict(by_number.values_list("number", "pk"))
        self.locked = _with_returns([o.pk for o in self.existing.values()])
        self.old_lines: dict[int, list[OrderLine]] = {}
        old = OrderLine.objects.filter(order__in=list(self.existing.values())).order_by("position")
        for line in old.select_related("product"):
            self.old_lines.setdefault(line.order_id, []).append(line)

    def fail(self, path: str, message: str) -> None:
        self.errors.setdefault(path, []).append(message)

    def check_unique_in_batch(self) -> None:
        seen: dict[tuple[str, str], int] = {}
        for i, row in enumerate(self.rows):
            for name in ("external_id", "number"):
                value = getattr(row, name)
                if not value:
                    continue
                first = seen.setdefault((name, value), i)
                if first != i:
                    self.fail(
                        f"orders[{i}].{name}",
                        _("与 orders[%(first)s] 重复：%(value)s")
                        % {"first": first, "value": value},
                    )

    def party_of(self, i: int, row: OrderRow) -> _PartyRef | None:
        party = (
            self.parties.get(row.party_id)
            if row.party_id is not None
            else self.by_uscc.get(row.party_uscc)
        )
        if party is None:
            name = "party_id" if row.party_id is not None or not row.party_uscc else "party_uscc"
            self.fail(f"orders[{i}].{name}", _("没有找到这个客户，或您无权查看。"))
        return party

    def owner_of(self, i: int, row: OrderRow, party: _PartyRef) -> int | None:
        """The salesperson's id: the one given, else the party's owner."""
        if row.owner_id is None:
            return party.owner_id
        if row.owner_id not in self.owners:
            self.fail(f"orders[{i}].owner_id", _("负责人必须是本公司在职员工。"))
            return None
        return row.owner_id

    def lines_of(self, i: int, row: OrderRow) -> list[_Line]:
        out = []
        for j, line in enumerate(row.lines):
            path = f"orders[{i}].lines[{j}]"
            product = self.products.get(line.product_code)
            if product is None:
                self.fail(
                    f"{path}.product_code",
                    _("没有这个产品编码：%(code)s") % {"code": line.product_code},
                )
                continue
            given = LineIn(product, line.quantity, line.unit_price, line.unit_cost, line.discount)
            found = line_errors(given, row.currency, for_sale=False)
            for name, message in found.items():
                self.fail(f"{path}.{name}", message)
            if found:
                continue
            priced = _priced(product, line)
            if priced.amount < 0:
                self.fail(f"{path}.discount", _("行折扣不能超过行金额。"))
            out.append(priced)
        return out

    def number_clashes(self, row: OrderRow, existing: Order | None) -> bool:
        pk = self.numbers.get(row.number)
        return pk is not None and (existing is None or existing.pk != pk)

    def existing_of(self, i: int, row: OrderRow) -> Order | None:
        """The order this row updates (by external_id), once it may be updated."""
        existing = self.existing.get(row.external_id) if row.external_id else None
        if row.number and self.number_clashes(row, existing):
            self.fail(f"orders[{i}].number", _("已有订单使用这个订单号。"))
        if existing is not None and existing.is_return:
            self.fail(f"orders[{i}].external_id", _("这个外部编号属于一张退货单。"))
        if existing is not None and existing.pk in self.locked:
            self.fail(f"orders[{i}]", _locked_message())
        return existing

    def plan(self, i: int, row: OrderRow) -> _Planned | None:
        """Row i checked and priced (None when it has errors; they are in self.errors)."""
        party = self.party_of(i, row)
        lines = self.lines_of(i, row)
        owner = self.owner_of(i, row, party) if party else None
        existing = self.existing_of(i, row)
        if party is None or owner is None or len(lines) != len(row.lines):
            return None
        number = row.number or (existing.number if existing else "")
        p = _Planned(i, row, party, owner, number, money(row.discount), lines, CREATED, existing)
        p.subtotal = sum((line.amount for line in lines), ZERO)
        p.cost = sum((line.cost_amount for line in lines), ZERO)
        if p.discount > p.subtotal:
            self.fail(f"orders[{i}].discount", _("整单折扣不能超过订单金额。"))
            return None
        if existing is not None:
            p.pk = existing.pk
            self.compare(p, existing)
        return p

    def compare(self, p: _Planned, existing: Order) -> None:
        """Mark an existing order unchanged or updated, keeping what it was before."""
        old = self.old_lines.get(existing.pk, [])
        after = p.after()
        same = all(
            after[name] == value for name, value in snapshot(existing, IMPORTED_FIELDS).items()
        )
        old_summary = lines_summary(old)
        p.result = UNCHANGED if same and old_summary == p.summary() else UPDATED
        p.before = {**snapshot(existing, ORDER_FIELDS), "lines": old_summary}


def _plan(batch: _Batch) -> list[_Planned]:
    """Every row checked and priced (nothing written); errors collected in the batch."""
    batch.check_unique_in_batch()
    planned = [batch.plan(i, row) for i, row in enumerate(batch.rows)]
    return [p for p in planned if p is not None]


def _order_row(actor: User, p: _Planned) -> Row:
    row = p.row
    return (
        p.pk,
        OrderKind.ORDER.value,
        p.party.pk,
        p.number,
        row.status,
        row.order_date,
        row.currency,
        p.discount,
        p.owner_id,
        row.external_id,
        row.note,
        p.subtotal,
        p.revenue,
        p.cost,
        p.profit,
        actor.pk,
    )


def _number_new(new: list[_Planned], ids: Sequence[int]) -> None:
    """Give the new orders their ids, and the unnumbered ones their default number."""
    for p, pk in zip(new, ids, strict=True):
        p.pk = pk
        if not p.number:
            p.number = number_of(pk, p.row.order_date)
            p.changes["number"] = [None, p.number]


def _update(changed: list[_Planned], now: datetime.datetime) -> None:
    """The rare case: orders that exist and changed, updated through the ORM."""
    orders = []
    for p in changed:
        order, row = p.existing, p.row
        assert order is not None
        order.party_id = p.party.pk
        order.owner_id = p.owner_id
        order.number = p.number
        order.status, order.order_date = row.status, row.order_date
        order.currency, order.discount, order.note = row.currency, p.discount, row.note
        order.subtotal, order.revenue = p.subtotal, p.revenue
        order.cost, order.profit = p.cost, p.profit
        order.updated_at = now
        orders.append(order)
    fields = [*IMPORTED_FIELDS, "subtotal", "revenue", "cost", "profit", "updated_at"]
    Order.objects.bulk_update(orders, fields)
    OrderLine.objects.filter(order_id__in=[p.pk for p in changed]).delete()


def _audit_rows(actor: User, written: list[_Planned]) -> list[Row]:
    """Each change of an order is in its own history and in its party's (two rows, as
    `services._audit_order` writes), with every field before and after."""
    rows: list[Row] = []
    for p in written:
        action = Action.CREATE if p.result == CREATED else Action.UPDATE
        head = (actor.pk, action, ORDER_TYPE, p.pk, p.number[:200])
        rows.append((*head, ORDER_TYPE, p.pk, p.changes))
        rows.append((*head, PARTY_TYPE, p.party.pk, p.changes))
    return rows


def _created(after: dict[str, Any]) -> dict[str, list[Any]]:
    return {name: [None, after[name]] for name in sorted(after) if after[name] is not None}


def _write(actor: User, planned: list[_Planned]) -> None:
    now = timezone.now()
    writer = BulkWriter(current_tenant_id(), now)
    new = [p for p in planned if p.result == CREATED]
    if new:
        _number_new(new, writer.reserve_ids(Order, len(new)))
    writer.insert(Order, ORDER_COLUMNS, [_order_row(actor, p) for p in new])
    changed = [p for p in planned if p.result == UPDATED]
    if changed:
        _update(changed, now)
    written = new + changed
    lines = [
        (p.pk, position, line.product.pk, *line[1:])
        for p in written
        for position, line in enumerate(p.lines, 1)
    ]
    writer.insert(OrderLine, LINE_COLUMNS, lines)
    writer.insert(AuditEntry, AUDIT_COLUMNS, _audit_rows(actor, written))


def _new_customers(actor: User, planned: list[_Planned]) -> None:
    """The parties whose first sale (since being lost) is in this batch, moved in bulk.

    Their states are read again, locked, inside the write: a batch written beside this
    one may have made them customers since this one was checked. The locks are taken in
    one statement in id order, so two batches moving the same parties wait for each
    other instead of deadlocking (as two UPDATEs in scan order did), and "no key" so that
    they do not wait on the key-share locks of orders inserted for those parties."""
    first: dict[int, _Planned] = {}
    for p in planned:
        booked = p.result != UNCHANGED and p.row.status in BOOKED
        if booked and p.party.relationship_state in BOOKING_MOVES:
            first.setdefault(p.party.pk, p)
    if not first:
        return
    fresh = Party.objects.filter(pk__in=list(first)).order_by("pk").select_for_update(no_key=True)
    moves = []
    for party in fresh.only("tenant", "name", "relationship_state"):
        to_state = booking_move(party)
        if to_state is not None:
            moves.append((party, to_state, _reason(party, first[party.pk])))
    if moves:
        party_states_change_bulk(actor=actor, moves=moves)


def _reason(party: Party, p: _Planned) -> str:
    # booking_reason reads the order's number only.
    return booking_reason(party, Order(number=p.number))


@dataclass(frozen=True)
class CheckedBatch:
    """A batch that passed every check, not yet written (`orders_write` writes it)."""

    actor: User
    planned: list[_Planned]


def orders_check(*, actor: User, rows: Sequence[OrderRow]) -> CheckedBatch:
    """Check and price up to MAX_BATCH orders; a ValidationError names every bad field.

    Only reads, so it runs before the write transaction: on SQLite that transaction holds
    the database's one write lock, and checking a batch takes as long as writing it. What
    may change in between is caught when writing: a clashing number or external_id by
    the unique constraints (the whole batch fails, 409), a party made a customer by
    another batch by reading the states again, an order given a return by checking again.
    """
    if len(rows) > MAX_BATCH:
        raise ValidationError({"orders": _("每批最多 %(n)s 个订单。") % {"n": MAX_BATCH}})
    batch = _Batch(actor, rows)
    planned = _plan(batch)
    if batch.errors:
        raise ValidationError(batch.errors)
    for p in planned:
        if p.result != UNCHANGED:
            # Here rather than when writing: on SQLite the write holds the one write lock.
            p.changes = p.audit_changes()
    return CheckedBatch(actor, planned)


@transaction.atomic
def orders_write(checked: CheckedBatch) -> ImportResult:
    """Write a checked batch, all or none: created and updated orders, their lines and
    audit entries, and the first-sale moves of their parties."""
    actor, planned = checked.actor, checked.planned
    changed = [p for p in planned if p.result == UPDATED]
    locked = _with_returns([p.pk for p in changed]) if changed else set()
    if locked:
        raise ValidationError(
            {f"orders[{p.index}]": _locked_message() for p in changed if p.pk in locked}
        )
    # The days and parties the batch touches, as they were and as they will be.
    written = [p for p in planned if p.result != UNCHANGED]
    days = [p.row.order_date for p in written] + [
        p.existing.order_date for p in changed if p.existing
    ]
    parties = [p.party.pk for p in written] + [p.existing.party_id for p in changed if p.existing]
    _write(actor, planned)
    _new_customers(actor, planned)
    if changed:
        summary_refresh(days=days, parties=parties)
    else:
        # Only new orders: noted for the summary to add later, many batches at a time
        # (`summary_catch_up`: the task booked here, or whoever reads the summary first).
        if summary_pending_add([p.pk for p in written if p.row.status in BOOKED]):
            tenant_id = current_tenant_id()
            transaction.on_commit(lambda: summary_catch_up_later(tenant_id))
        share_lock()
    return ImportResult([ImportedRow(p.pk, p.number, p.row.external_id, p.result) for p in planned])


def orders_import(*, actor: User, rows: Sequence[OrderRow]) -> ImportResult:
    """Create or update (by external_id) up to MAX_BATCH orders, all or none."""
    return orders_write(orders_check(actor=actor, rows=rows))

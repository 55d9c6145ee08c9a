"""Bulk order import: a batch of orders written all or nothing, fast.

The same rules as `services.order_create`, checked set-based: every party, product,
owner and existing order of a batch is read in one query each, every error of every row
is collected (named `orders[42].lines[1].quantity`), and only a batch with no error is
written, with `bulk_create`. An order whose `external_id` exists already is updated in
place (upsert); sent again unchanged, it is left alone, so re-sending a batch writes
nothing. Each created or changed order gets its audit entries, and the parties whose
first sale is in the batch move to "current" (or from lost to won back) in bulk.
"""

import datetime
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Protocol

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from kehu.core.audit import audit_entry, diff, snapshot
from kehu.core.context import current_tenant_id
from kehu.core.models import AuditEntry
from kehu.parties.models import Party
from kehu.parties.selectors import parties_visible_to
from kehu.parties.services import party_states_change_bulk
from kehu.sales.models import BOOKED, Order, OrderKind, OrderLine, OrderStatus, Product
from kehu.sales.services import (
    ORDER_FIELDS,
    LineIn,
    booking_move,
    booking_reason,
    default_number,
    line_errors,
    lines_summary,
    priced_line,
    totals_of,
)
from kehu.tenancy.models import User

MAX_BATCH = 1000
Action = AuditEntry.Action
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


@dataclass
class ImportResult:
    created: list[Order] = field(default_factory=list)
    updated: list[Order] = field(default_factory=list)
    unchanged: list[Order] = field(default_factory=list)
    # Per row of the batch, in order: the order written (or left alone) and what happened.
    rows: list[tuple[Order, str]] = field(default_factory=list)


class _Batch:
    """The rows of one batch and everything they refer to, read in one query each."""

    def __init__(self, actor: User, rows: Sequence[OrderRow]):
        self.actor = actor
        self.rows = rows
        self.errors: dict[str, list[str]] = {}
        ids = {r.party_id for r in rows if r.party_id is not None}
        usccs = {r.party_uscc for r in rows if r.party_uscc}
        parties = list(
            parties_visible_to(actor).filter(Q(pk__in=ids) | Q(uscc__in=usccs))
            if ids or usccs
            else []
        )
        self.parties = {p.pk: p for p in parties}
        self.by_uscc = {p.uscc: p for p in parties if p.uscc}
        codes = {line.product_code for r in rows for line in r.lines}
        self.products = {p.code: p for p in Product.objects.filter(code__in=codes)}
        owner_ids = {r.owner_id for r in rows if r.owner_id is not None}
        self.owners = {u.pk: u for u in User.objects.filter(pk__in=owner_ids, is_active=True)}
        keys = [r.external_id for r in rows if r.external_id]
        self.existing = {o.external_id: o for o in Order.objects.filter(external_id__in=keys)}
        numbers = [r.number for r in rows if r.number]
        self.numbers = dict(Order.objects.filter(number__in=numbers).values_list("number", "pk"))
        self.locked = set(
            Order.objects.filter(original__in=list(self.existing.values()))
            .exclude(status=OrderStatus.CANCELLED)
            .values_list("original_id", flat=True)
        )
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

    def party_of(self, i: int, row: OrderRow) -> Party | None:
        party = (
            self.parties.get(row.party_id)
            if row.party_id is not None
            else self.by_uscc.get(row.party_uscc)
        )
        if party is None:
            name = "party_id" if row.party_id is not None or not row.party_uscc else "party_uscc"
            self.fail(f"orders[{i}].{name}", _("没有找到这个客户，或您无权查看。"))
        return party

    def owner_of(self, i: int, row: OrderRow, party: Party) -> int | None:
        """The salesperson's id: the one given, else the party's owner."""
        if row.owner_id is None:
            return party.owner_id
        if row.owner_id not in self.owners:
            self.fail(f"orders[{i}].owner_id", _("负责人必须是本公司在职员工。"))
            return None
        return row.owner_id

    def lines_of(self, i: int, row: OrderRow) -> list[OrderLine]:
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
            priced = priced_line(given, j + 1)
            if priced.amount < 0:
                self.fail(f"{path}.discount", _("行折扣不能超过行金额。"))
            out.append(priced)
        return out

    def number_clashes(self, row: OrderRow, existing: Order | None) -> bool:
        pk = self.numbers.get(row.number)
        return pk is not None and (existing is None or existing.pk != pk)


def _order_from(row: OrderRow, party: Party, owner_id: int, order: Order | None) -> Order:
    order = order or Order(tenant_id=current_tenant_id(), kind=OrderKind.ORDER)
    order.party = party
    order.owner_id = owner_id
    order.number = row.number or order.number
    order.external_id = row.external_id
    order.status = row.status
    order.order_date = row.order_date
    order.currency = row.currency
    order.discount = row.discount
    order.note = row.note
    return order


def _same(
    order: Order, before: dict[str, object], lines: list[OrderLine], old: list[OrderLine]
) -> bool:
    return snapshot(order, IMPORTED_FIELDS) == before and lines_summary(lines) == lines_summary(old)


@dataclass
class _Planned:
    order: Order
    lines: list[OrderLine]
    result: str  # "created" | "updated" | "unchanged"
    before: dict[str, object]


def _plan(batch: _Batch) -> list[_Planned]:
    """Every row checked and turned into an order with priced lines (nothing written)."""
    planned = []
    batch.check_unique_in_batch()
    for i, row in enumerate(batch.rows):
        party = batch.party_of(i, row)
        lines = batch.lines_of(i, row)
        owner = batch.owner_of(i, row, party) if party else None
        existing = batch.existing.get(row.external_id) if row.external_id else None
        if row.number and batch.number_clashes(row, existing):
            batch.fail(f"orders[{i}].number", _("已有订单使用这个订单号。"))
        if existing is not None and existing.is_return:
            batch.fail(f"orders[{i}].external_id", _("这个外部编号属于一张退货单。"))
        if existing is not None and existing.pk in batch.locked:
            batch.fail(f"orders[{i}]", _("订单已有退货，不能通过导入修改。"))
        if party is None or owner is None or len(lines) != len(row.lines):
            continue
        before = snapshot(existing, IMPORTED_FIELDS) if existing else {}
        full_before = snapshot(existing, ORDER_FIELDS) if existing else {}
        old = batch.old_lines.get(existing.pk, []) if existing else []
        order = _order_from(row, party, owner, existing)
        net = sum((line.amount for line in lines), Decimal(0))
        if order.discount > net:
            batch.fail(f"orders[{i}].discount", _("整单折扣不能超过订单金额。"))
            continue
        totals = totals_of(lines, order.discount, OrderKind.ORDER)
        order.subtotal, order.revenue, order.cost, order.profit = (
            totals.subtotal,
            totals.revenue,
            totals.cost,
            totals.profit,
        )
        if existing is None:
            planned.append(_Planned(order, lines, "created", {}))
        elif _same(order, before, lines, old):
            planned.append(_Planned(order, old, "unchanged", full_before))
        else:
            full_before["lines"] = lines_summary(old)
            planned.append(_Planned(order, lines, "updated", full_before))
    return planned


def _write(actor: User, planned: list[_Planned]) -> None:
    now = timezone.now()
    new = [p.order for p in planned if p.result == "created"]
    for order in new:
        order.created_by = actor
        order.created_at = order.updated_at = now
    Order.objects.bulk_create(new)
    unnumbered = [o for o in new if not o.number]
    for order in unnumbered:
        order.number = default_number(order)
    Order.objects.bulk_update(unnumbered, ["number"])
    changed = [p.order for p in planned if p.result == "updated"]
    for order in changed:
        order.updated_at = now
    Order.objects.bulk_update(
        changed,
        [*IMPORTED_FIELDS, "external_id", "subtotal", "revenue", "cost", "profit", "updated_at"],
    )
    OrderLine.objects.filter(order__in=changed).delete()
    lines = []
    for p in planned:
        if p.result != "unchanged":
            for line in p.lines:
                line.order = p.order
            lines += p.lines
    OrderLine.objects.bulk_create(lines)
    AuditEntry.objects.bulk_create(_audit(actor, planned))


def _audit(actor: User, planned: list[_Planned]) -> list[AuditEntry]:
    entries = []
    for p in planned:
        if p.result == "unchanged":
            continue
        after = {**snapshot(p.order, ORDER_FIELDS), "lines": lines_summary(p.lines)}
        action = Action.CREATE if p.result == "created" else Action.UPDATE
        changes = diff(p.before, after)
        for root in (p.order, p.order.party):
            entries.append(
                audit_entry(
                    actor_id=actor.pk, action=action, obj=p.order, changes=changes, root=root
                )
            )
    return entries


def _new_customers(actor: User, planned: list[_Planned]) -> None:
    """The parties whose first sale (since being lost) is in this batch, moved in bulk."""
    moves: dict[int, tuple[Party, str, str]] = {}
    for p in planned:
        party = p.order.party
        to_state = booking_move(party)
        if p.result == "unchanged" or p.order.status not in BOOKED or to_state is None:
            continue
        moves.setdefault(party.pk, (party, to_state, booking_reason(party, p.order)))
    if moves:
        party_states_change_bulk(actor=actor, moves=list(moves.values()))


@transaction.atomic
def orders_import(*, actor: User, rows: Sequence[OrderRow]) -> ImportResult:
    """Create or update (by external_id) up to MAX_BATCH orders, all or none."""
    if len(rows) > MAX_BATCH:
        raise ValidationError({"orders": _("每批最多 %(n)s 个订单。") % {"n": MAX_BATCH}})
    batch = _Batch(actor, rows)
    planned = _plan(batch)
    if batch.errors:
        raise ValidationError(batch.errors)
    _write(actor, planned)
    _new_customers(actor, planned)
    result = ImportResult()
    for p in planned:
        getattr(result, p.result).append(p.order)
        result.rows.append((p.order, p.result))
    return result

"""Writes of the catalogue and of orders. Each runs in one transaction and is audited.

Callers have checked that the actor may make the change (selectors.get_order_for_user,
can_manage for the catalogue); these functions enforce the data's own rules. An order's
totals are computed here from its lines and stored on it. A party's first booked order
makes it a customer: potential or target → current, lost → won back.

Bulk imports (`orders_import`) live in `kehu.sales.imports`: the same rules, set-based.
"""

import datetime
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from kehu.core.audit import audit_entry, audit_write, diff, snapshot
from kehu.core.context import current_tenant_id
from kehu.core.models import AuditEntry
from kehu.parties.models import STATE_MOVES, Party, RelationshipState
from kehu.parties.services import party_change_state
from kehu.sales.models import (
    STATUS_MOVES,
    ZERO,
    Currency,
    IdempotencyRecord,
    Order,
    OrderKind,
    OrderLine,
    OrderStatus,
    Product,
    ProductCategory,
)
from kehu.sales.summary import summary_categories_refresh, summary_refresh
from kehu.tenancy.models import User

Action = AuditEntry.Action
CENT = Decimal("0.01")
PRODUCT_FIELDS = (
    "code",
    "name",
    "category",
    "unit",
    "unit_price",
    "unit_cost",
    "currency",
    "is_active",
    "description",
)
ORDER_FIELDS = (
    "party",
    "number",
    "kind",
    "original",
    "status",
    "order_date",
    "currency",
    "discount",
    "revenue",
    "cost",
    "profit",
    "owner",
    "external_id",
    "note",
)
# Fields a caller may change on an existing order; lines have their own argument.
ORDER_EDITABLE = frozenset({"number", "order_date", "currency", "discount", "owner", "note"})
ORDER_EDITABLE |= {"external_id"}
# A booking makes the party a customer: these are the moves it triggers.
BOOKING_MOVES: dict[str, str] = {
    RelationshipState.POTENTIAL: RelationshipState.CURRENT,
    RelationshipState.TARGET: RelationshipState.CURRENT,
    RelationshipState.LOST: RelationshipState.WON_BACK,
}
assert all(to in STATE_MOVES[a] for a, to in BOOKING_MOVES.items())


def money(value: Decimal) -> Decimal:
    """Rounded to the cent, halves away from zero (how invoices round)."""
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


# --- the catalogue ---------------------------------------------------------------------


@transaction.atomic
def category_create(
    *, actor: User, name: str, parent: ProductCategory | None = None
) -> ProductCategory:
    category = ProductCategory(name=" ".join(name.split()), parent=parent)
    category.tenant_id = current_tenant_id()
    category.full_clean(exclude=["tenant", "parent"])
    if parent is not None and parent.tenant_id != category.tenant_id:
        raise ValidationError({"parent": _("没有找到这个分类。")})
    try:
        with transaction.atomic():
            category.save()
    except IntegrityError as exc:
        raise ValidationError({"name": _("已有同名分类。")}) from exc
    audit_write(
        actor_id=actor.pk,
        action=Action.CREATE,
        obj=category,
        changes=diff({}, snapshot(category, ("name", "parent"))),
    )
    return category


def _save_product(product: Product) -> None:
    product.code = product.code.strip()
    product.name = " ".join(product.name.split())
    product.full_clean(exclude=["tenant", "category"])
    product.unit_price, product.unit_cost = money(product.unit_price), money(product.unit_cost)
    if product.category is not None and product.category.tenant_id != current_tenant_id():
        raise ValidationError({"category": _("没有找到这个分类。")})
    try:
        with transaction.atomic():
            product.save()
    except IntegrityError as exc:
        raise ValidationError({"code": _("已有产品使用这个编码。")}) from exc


@transaction.atomic
def product_create(
    *, actor: User, code: str, name: str, unit_price: Decimal, **fields: Any
) -> Product:
    product = Product(code=code, name=name, unit_price=unit_price, **fields)
    product.tenant_id = current_tenant_id()
    _save_product(product)
    audit_write(
        actor_id=actor.pk,
        action=Action.CREATE,
        obj=product,
        changes=diff({}, snapshot(product, PRODUCT_FIELDS)),
    )
    return product


@transaction.atomic
@transaction.atomic
def product_update(*, actor: User, product: Product, **changes: Any) -> Product:
    unknown = set(changes) - set(PRODUCT_FIELDS)
    if unknown:
        raise ValidationError(
            _("不能修改这些字段：%(fields)s") % {"fields": ", ".join(sorted(unknown))}
        )
    before = snapshot(product, PRODUCT_FIELDS)
    for name, value in changes.items():
        setattr(product, name, value)
    _save_product(product)
    changed = diff(before, snapshot(product, PRODUCT_FIELDS))
    if changed:
        audit_write(actor_id=actor.pk, action=Action.UPDATE, obj=product, changes=changed)
    if "category" in changed:
        summary_categories_refresh()  # the reports by category count it in the new one
    return product


def product_deactivate(*, actor: User, product: Product) -> Product:
    """Take a product off sale: it stays on past orders, new orders cannot use it."""
    return product_update(actor=actor, product=product, is_active=False)


# --- lines and totals ------------------------------------------------------------------


@dataclass(frozen=True)
class LineIn:
    """A line as a caller gives it; prices left out come from the product."""

    product: Product
    quantity: Decimal
    unit_price: Decimal | None = None
    unit_cost: Decimal | None = None
    discount: Decimal = ZERO


def line_errors(line: LineIn, currency: str, *, for_sale: bool) -> dict[str, str]:
    """What is wrong with one line, by field (empty when nothing is)."""
    product = line.product
    if product.tenant_id != current_tenant_id():
        return {"product": _("没有找到这个产品。")}
    errors: dict[str, str] = {}
    if for_sale and not product.is_active:
        errors["product"] = _("产品「%(name)s」已停售。") % {"name": product.name}
    if line.quantity <= 0:
        errors["quantity"] = _("数量必须大于 0。")
    for name in ("unit_price", "unit_cost", "discount"):
        value = getattr(line, name)
        if value is not None and value < 0:
            errors[name] = _("不能为负数。")
    if product.currency != currency:
        message = _("产品「%(name)s」以 %(product)s 计价，订单币种为 %(order)s：请填写%(what)s。")
        for name, what in (("unit_price", _("单价")), ("unit_cost", _("单位成本"))):
            if getattr(line, name) is None:
                errors[name] = message % {
                    "name": product.name,
                    "product": product.currency,
                    "order": currency,
                    "what": what,
                }
    return errors


def priced_line(line: LineIn, position: int) -> OrderLine:
    """An unsaved OrderLine with its amounts (the line has been checked)."""
    product = line.product
    unit_price = product.unit_price if line.unit_price is None else line.unit_price
    unit_cost = product.unit_cost if line.unit_cost is None else line.unit_cost
    return OrderLine(
        tenant_id=product.tenant_id,
        position=position,
        product=product,
        quantity=line.quantity,
        unit_price=unit_price,
        unit_cost=unit_cost,
        discount=line.discount,
        amount=money(line.quantity * unit_price) - line.discount,
        cost_amount=money(line.quantity * unit_cost),
    )


def _digit_errors(line: OrderLine) -> dict[str, list[str]]:
    """Too many digits (or decimals) for the columns, in Django's own words."""
    try:
        line.clean_fields(exclude=["tenant", "order", "product", "position"])
    except ValidationError as exc:
        return exc.message_dict
    return {}


def checked_lines(
    lines: Sequence[LineIn], currency: str, *, for_sale: bool = True
) -> list[OrderLine]:
    """Priced lines, or one ValidationError naming every bad field (`lines[1].quantity`)."""
    if not lines:
        raise ValidationError({"lines": _("订单至少要有一行。")})
    errors: dict[str, list[str]] = {}
    out = []
    for i, line in enumerate(lines):
        found: dict[str, list[str]] = {
            k: [v] for k, v in line_errors(line, currency, for_sale=for_sale).items()
        }
        if not found:
            priced = priced_line(line, i + 1)
            found = _digit_errors(priced)
            if not found and priced.amount < 0:
                found = {"discount": [_("行折扣不能超过行金额。")]}
            out.append(_in_cents(priced))
        for name, messages in found.items():
            errors[f"lines[{i}].{name}"] = messages
    if errors:
        raise ValidationError(errors)
    return out


def _in_cents(line: OrderLine) -> OrderLine:
    """The line's money as stored (2 places), so that what a caller is answered is too."""
    line.unit_price, line.unit_cost = money(line.unit_price), money(line.unit_cost)
    line.discount = money(line.discount)
    return line


@dataclass(frozen=True)
class Totals:
    subtotal: Decimal
    revenue: Decimal
    cost: Decimal
    profit: Decimal


def totals_of(lines: Iterable[OrderLine], discount: Decimal, kind: str) -> Totals:
    """Revenue = Σ line amounts − the order's discount; cost = Σ line costs; profit =
    revenue − cost. Negative on a return: the money goes back."""
    lines = list(lines)
    sign = -1 if kind == OrderKind.RETURN else 1
    net = sum((line.amount for line in lines), ZERO)
    cost = sum((line.cost_amount for line in lines), ZERO)
    revenue = net - discount
    return Totals(sign * net, sign * revenue, sign * cost, sign * (revenue - cost))


def apply_totals(order: Order, lines: Sequence[OrderLine]) -> None:
    net = sum((line.amount for line in lines), ZERO)
    if order.discount < 0:
        raise ValidationError({"discount": _("不能为负数。")})
    if order.discount > net:
        raise ValidationError({"discount": _("整单折扣不能超过订单金额。")})
    totals = totals_of(lines, order.discount, order.kind)
    order.subtotal, order.revenue = totals.subtotal, totals.revenue
    order.cost, order.profit = totals.cost, totals.profit


def lines_summary(lines: Iterable[OrderLine]) -> list[str]:
    """The lines as the audit log keeps them: "A-100 × 2 @ 99.00 − 5.00"."""
    return [
        f"{line.product.code} × {line.quantity.normalize():f} @ {money(line.unit_price)}"
        f" − {money(line.discount)}"
        for line in lines
    ]


# --- orders ----------------------------------------------------------------------------


def check_order_header(order: Order) -> None:
    """The rules of an order's own fields (its lines are checked by `checked_lines`)."""
    errors: dict[str, str] = {}
    party = order.party
    if party.tenant_id != current_tenant_id() or party.deleted_at is not None:
        errors["party"] = _("没有找到这个客户，或您无权查看。")
    if order.currency not in Currency.values:
        errors["currency"] = _("不支持的币种：%(code)s。") % {"code": order.currency}
    owner = order.owner
    if owner.tenant_id != current_tenant_id() or not owner.is_active:
        errors["owner"] = _("负责人必须是本公司在职员工。")
    if errors:
        raise ValidationError(errors)
    order.number = order.number.strip()
    order.external_id = order.external_id.strip()
    order.discount = money(Decimal(order.discount))
    order.full_clean(
        exclude=["tenant", "party", "original", "owner", "created_by", "number", "external_id"],
        validate_constraints=False,
    )


def _save_order(order: Order) -> None:
    try:
        with transaction.atomic():
            order.save()
    except IntegrityError as exc:
        clash = Order.objects.exclude(pk=order.pk)
        if order.external_id and clash.filter(external_id=order.external_id).exists():
            raise ValidationError({"external_id": _("已有订单使用这个外部编号。")}) from exc
        raise ValidationError({"number": _("已有订单使用这个订单号。")}) from exc
    if not order.number:
        order.number = default_number(order)
        Order.objects.filter(pk=order.pk).update(number=order.number)


def default_number(order: Order) -> str:
    """SO20250601-000123 (a return: RT…): the date it was placed and its id."""
    return number_of(order.pk, order.order_date, is_return=order.is_return)


def number_of(pk: int, placed: datetime.date, *, is_return: bool = False) -> str:
    """`default_number` from the values alone (a bulk import numbers thousands)."""
    prefix = "RT" if is_return else "SO"
    return f"{prefix}{placed:%Y%m%d}-{pk:06d}"


def _save_lines(order: Order, lines: Sequence[OrderLine]) -> None:
    for line in lines:
        line.order = order
    OrderLine.objects.bulk_create(lines)


def _audit_order(actor: User, order: Order, action: str, changes: dict[str, Any]) -> None:
    """Every change of an order is in its own history and in its party's."""
    AuditEntry.objects.bulk_create(
        [
            audit_entry(actor_id=actor.pk, action=action, obj=order, changes=changes),
            audit_entry(
                actor_id=actor.pk, action=action, obj=order, changes=changes, root=order.party
            ),
        ]
    )


def booking_move(party: Party) -> str | None:
    """The relationship state a booked order moves `party` to, if any."""
    return BOOKING_MOVES.get(party.relationship_state)


def booking_reason(party: Party, order: Order) -> str:
    if party.relationship_state == RelationshipState.LOST:
        return _("流失后再次下单：订单 %(number)s") % {"number": order.number}
    return _("首次成交：订单 %(number)s") % {"number": order.number}


def _on_booked(actor: User, order: Order) -> None:
    """A booked sale makes its party a customer (or wins a lost one back)."""
    party = order.party
    to_state = booking_move(party)
    if order.is_return or to_state is None:
        return
    party_change_state(
        actor=actor, party=party, to_state=to_state, reason=booking_reason(party, order)
    )


@transaction.atomic
def order_create(
    *,
    actor: User,
    party: Party,
    lines: Sequence[LineIn],
    order_date: datetime.date | None = None,
    status: str = OrderStatus.DRAFT,
    currency: str = Currency.CNY,
    discount: Decimal = ZERO,
    owner: User | None = None,
    number: str = "",
    external_id: str = "",
    note: str = "",
) -> Order:
    """A new order with its lines. Created confirmed (or fulfilled), it is a sale at once."""
    if status not in (OrderStatus.DRAFT, OrderStatus.CONFIRMED, OrderStatus.FULFILLED):
        raise ValidationError({"status": _("新订单只能是草稿、已确认或已完成。")})
    order = Order(
        tenant_id=current_tenant_id(),
        party=party,
        kind=OrderKind.ORDER,
        status=status,
        order_date=order_date or timezone.localdate(),
        currency=currency,
        discount=discount,
        owner=owner or party.owner,
        number=number,
        external_id=external_id,
        note=note,
        created_by=actor,
    )
    check_order_header(order)
    priced = checked_lines(lines, order.currency)
    apply_totals(order, priced)
    _save_order(order)
    _save_lines(order, priced)
    changes = diff({}, {**snapshot(order, ORDER_FIELDS), "lines": lines_summary(priced)})
    _audit_order(actor, order, Action.CREATE, changes)
    if order.is_booked:
        _on_booked(actor, order)
        summary_refresh(days=[order.order_date], parties=[order.party_id])
    return order


def _lines_locked(order: Order) -> str:
    """Why the lines of `order` may not change, or "" when they may."""
    if order.status not in (OrderStatus.DRAFT, OrderStatus.CONFIRMED):
        return _("「%(status)s」的订单不能修改订单行。") % {"status": order.get_status_display()}
    if order.is_return:
        return _("退货单的行由原订单决定，不能修改。")
    if order.returns.exclude(status=OrderStatus.CANCELLED).exists():
        return _("订单已有退货，不能修改订单行。")
    return ""


@transaction.atomic
def order_update(
    *, actor: User, order: Order, lines: Sequence[LineIn] | None = None, **changes: Any
) -> Order:
    """Change an order's fields and, given `lines`, replace its lines."""
    unknown = set(changes) - ORDER_EDITABLE
    if unknown:
        raise ValidationError(
            _("不能修改这些字段：%(fields)s") % {"fields": ", ".join(sorted(unknown))}
        )
    if order.status == OrderStatus.CANCELLED:
        raise ValidationError(_("已取消的订单不能修改。"))
    old_lines = list(order.lines.select_related("product").order_by("position"))
    before = {**snapshot(order, ORDER_FIELDS), "lines": lines_summary(old_lines)}
    was = (order.order_date, order.party_id)
    for name, value in changes.items():
        setattr(order, name, value)
    repricing = lines is not None or {"currency", "discount"} & set(changes)
    if repricing and (why := _lines_locked(order)):
        raise ValidationError({"lines": why})
    check_order_header(order)
    if lines is None and order.currency != before["currency"]:
        raise ValidationError({"currency": _("更换币种时请按新币种重新填写订单行。")})
    new_lines = old_lines if lines is None else checked_lines(lines, order.currency)
    apply_totals(order, new_lines)
    _save_order(order)
    if new_lines is not old_lines:
        order.lines.all().delete()
        _save_lines(order, new_lines)
    changed = diff(before, {**snapshot(order, ORDER_FIELDS), "lines": lines_summary(new_lines)})
    if changed:
        _audit_order(actor, order, Action.UPDATE, changed)
        if order.is_booked:
            summary_refresh(days=[was[0], order.order_date], parties=[was[1], order.party_id])
    return order


@transaction.atomic
def order_set_status(*, actor: User, order: Order, status: str) -> Order:
    """Confirm, fulfil or cancel. Confirming a sale makes its party a customer."""
    if status not in STATUS_MOVES.get(order.status, frozenset()):
        raise ValidationError(
            {
                "status": _("订单不能从「%(from)s」变为「%(to)s」。")
                % {
                    "from": order.get_status_display(),
                    "to": OrderStatus(status).label if status in OrderStatus.values else status,
                }
            }
        )
    if (
        status == OrderStatus.CANCELLED
        and order.returns.exclude(status=OrderStatus.CANCELLED).exists()
    ):
        raise ValidationError({"status": _("请先取消这个订单的退货。")})
    was_booked = order.is_booked
    before = order.status
    order.status = status
    order.save(update_fields=["status", "updated_at"])
    _audit_order(actor, order, Action.UPDATE, {"status": [before, status]})
    if order.is_booked and not was_booked:
        _on_booked(actor, order)
    if order.is_booked or was_booked:
        summary_refresh(days=[order.order_date], parties=[order.party_id])
    return order


def order_confirm(*, actor: User, order: Order) -> Order:
    return order_set_status(actor=actor, order=order, status=OrderStatus.CONFIRMED)


def order_fulfil(*, actor: User, order: Order) -> Order:
    return order_set_status(actor=actor, order=order, status=OrderStatus.FULFILLED)


def order_cancel(*, actor: User, order: Order) -> Order:
    return order_set_status(actor=actor, order=order, status=OrderStatus.CANCELLED)


# --- returns ---------------------------------------------------------------------------


def returnable(original: Order) -> dict[int, Decimal]:
    """{product id: quantity that may still be returned} of a booked order."""
    left: dict[int, Decimal] = defaultdict(lambda: ZERO)
    for product_id, quantity in original.lines.values_list("product_id", "quantity"):
        left[product_id] += quantity
    returned = OrderLine.objects.filter(order__original=original).exclude(
        order__status=OrderStatus.CANCELLED
    )
    for product_id, quantity in returned.values_list("product_id", "quantity"):
        left[product_id] -= quantity
    return dict(left)


def _return_lines(original: Order, items: Sequence[tuple[Product, Decimal]]) -> list[OrderLine]:
    """Lines refunding what was paid: the original's price, and its line discount in
    proportion to the quantity returned."""
    if not items:
        raise ValidationError({"lines": _("退货单至少要有一行。")})
    bought: dict[int, OrderLine] = {}
    for line in original.lines.order_by("position"):
        bought.setdefault(line.product_id, line)
    left = returnable(original)
    asked: dict[int, Decimal] = defaultdict(lambda: ZERO)
    errors: dict[str, str] = {}
    out = []
    for i, (product, quantity) in enumerate(items):
        source = bought.get(product.pk)
        asked[product.pk] += quantity
        if source is None or product.tenant_id != current_tenant_id():
            errors[f"lines[{i}].product"] = _("原订单中没有这个产品。")
        elif quantity <= 0:
            errors[f"lines[{i}].quantity"] = _("数量必须大于 0。")
        elif asked[product.pk] > left.get(product.pk, ZERO):
            errors[f"lines[{i}].quantity"] = _("退货数量超过可退数量（%(left)s）。") % {
                "left": f"{left.get(product.pk, ZERO).normalize():f}"
            }
        else:
            share = money(source.discount * quantity / source.quantity)
            line_in = LineIn(product, quantity, source.unit_price, source.unit_cost, share)
            out.append(priced_line(line_in, i + 1))
    if errors:
        raise ValidationError(errors)
    return out


@transaction.atomic
def return_create(
    *,
    actor: User,
    original: Order,
    lines: Sequence[tuple[Product, Decimal]],
    order_date: datetime.date | None = None,
    number: str = "",
    note: str = "",
) -> Order:
    """A return of some of what a booked order sold; it is confirmed at once."""
    if original.is_return or not original.is_booked:
        raise ValidationError({"original": _("只能对已确认或已完成的订单退货。")})
    priced = _return_lines(original, lines)
    order = Order(
        tenant_id=original.tenant_id,
        party=original.party,
        kind=OrderKind.RETURN,
        original=original,
        status=OrderStatus.CONFIRMED,
        order_date=order_date or timezone.localdate(),
        currency=original.currency,
        owner=original.owner,
        number=number,
        note=note,
        created_by=actor,
    )
    if order.order_date < original.order_date:
        raise ValidationError({"order_date": _("退货日期不能早于原订单日期。")})
    order.discount = _discount_share(original, priced)
    check_order_header(order)
    apply_totals(order, priced)
    _save_order(order)
    _save_lines(order, priced)
    changes = diff({}, {**snapshot(order, ORDER_FIELDS), "lines": lines_summary(priced)})
    _audit_order(actor, order, Action.CREATE, changes)
    summary_refresh(days=[order.order_date], parties=[order.party_id])
    return order


def _discount_share(original: Order, lines: Sequence[OrderLine]) -> Decimal:
    """The part of the original's order discount that the returned goods carried."""
    net = original.subtotal
    if not original.discount or not net:
        return ZERO
    returned = sum((line.amount for line in lines), ZERO)
    return money(original.discount * returned / net)


# --- idempotent requests ---------------------------------------------------------------


def idempotency_record(
    *,
    actor: User,
    key: str,
    operation: str,
    request_hash: str,
    status_code: int,
    response: Any,
) -> IdempotencyRecord:
    """Keep the first answer to a keyed request (in the caller's transaction, so that the
    answer is kept exactly when what it reports was written). A second request racing
    with the same key fails on the unique constraint and writes nothing."""
    record = IdempotencyRecord(
        tenant_id=current_tenant_id(),
        key=key,
        operation=operation,
        request_hash=request_hash,
        status_code=status_code,
        response=response,
        user=actor,
    )
    record.save()
    return record

"""Importing orders: one row per order line; the rows with the same 订单号 (next to each
other) are one order, and a batch never splits them (`group_of`).

What the file says is read here — the customer by 客户编号 or exact name (see
`targets.common`), the product by code or name, Chinese dates, amounts, currencies,
statuses — and the orders are then checked and written by the sales app's bulk import
(`kehu.sales.imports.orders_check` / `orders_write`): the same rules as `order_create`,
the same rows, audit entries, and the move of a party whose first sale it is to
"current". Its errors, named by path (`orders[3].lines[1].quantity`), come back to the
row and column they are about; an order with any error is refused whole.

Re-importing the file creates nothing new: an order is upserted by its 订单号 (kept as
its external id), unchanged when nothing differs. A return (类型 退货) names its 原订单号
and goes through `sales.services.return_create` — in a dry run too, rolled back.
"""

import datetime
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.db.models import Q
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from kehu.dataio import normalizers
from kehu.dataio.mapping import TargetField
from kehu.dataio.models import Import, Outcome
from kehu.dataio.targets import RowResult, SourceRow
from kehu.dataio.targets.common import PARTY_REFERENCE_FIELDS, PartyFinder, RowReader, listed
from kehu.parties.models import Party
from kehu.parties.selectors import parties_visible_to
from kehu.sales import imports
from kehu.sales.models import ZERO, Currency, Order, OrderKind, OrderLine, OrderStatus, Product
from kehu.sales.services import return_create

F = TargetField
ORDER_FIELDS_IMPORTED = [
    F(
        "number",
        gettext_lazy("订单号"),
        ("订单号", "订单编号", "单号", "单据号", "Order No", "Order Number", "Order ID", "Order"),
    ),
    *PARTY_REFERENCE_FIELDS,
    F(
        "order_date",
        gettext_lazy("日期"),
        ("日期", "下单日期", "订单日期", "成交日期", "Date", "Order Date"),
    ),
    F(
        "product",
        gettext_lazy("产品（编码或名称）"),
        (
            "产品",
            "产品编码",
            "产品名称",
            "商品",
            "商品编码",
            "商品名称",
            "货号",
            "SKU",
            "Product",
            "Product Code",
            "Item",
        ),
    ),
    F("quantity", gettext_lazy("数量"), ("数量", "Qty", "Quantity")),
    F("unit_price", gettext_lazy("单价"), ("单价", "价格", "售价", "Unit Price", "Price")),
    F("line_discount", gettext_lazy("行折扣"), ("折扣", "行折扣", "优惠", "Discount")),
    F(
        "order_discount",
        gettext_lazy("整单折扣"),
        ("整单折扣", "整单优惠", "订单折扣", "Order Discount"),
    ),
    F("currency", gettext_lazy("币种"), ("币种", "货币", "Currency")),
    F("status", gettext_lazy("状态"), ("状态", "订单状态", "Status")),
    F("kind", gettext_lazy("类型（订单/退货）"), ("类型", "订单类型", "单据类型", "Type", "Kind")),
    F(
        "original",
        gettext_lazy("原订单号"),
        ("原订单号", "原单号", "原订单", "Original Order", "Original Order No"),
    ),
    F(
        "owner",
        gettext_lazy("负责人"),
        ("负责人", "销售", "业务员", "销售员", "Owner", "Sales Rep", "Salesperson"),
    ),
    F("note", gettext_lazy("备注"), ("备注", "说明", "Note", "Notes", "Remark")),
]
# The order's own fields: every row of an order gives them, or leaves them empty.
HEADER_KEYS = (
    "party_key",
    "party_name",
    "order_date",
    "order_discount",
    "currency",
    "status",
    "kind",
    "original",
    "owner",
    "note",
)
_STATUS_WORDS: dict[str, str] = {
    **dict.fromkeys(("草稿", "待确认", "draft"), OrderStatus.DRAFT),
    **dict.fromkeys(("已确认", "确认", "已下单", "confirmed"), OrderStatus.CONFIRMED),
    **dict.fromkeys(
        ("已完成", "完成", "已发货", "已交付", "fulfilled", "completed", "done"),
        OrderStatus.FULFILLED,
    ),
    **dict.fromkeys(("已取消", "取消", "作废", "cancelled", "canceled"), OrderStatus.CANCELLED),
}
_KIND_WORDS: dict[str, str] = {
    **dict.fromkeys(("订单", "销售", "销售单", "order", "sale"), OrderKind.ORDER),
    **dict.fromkeys(("退货", "退货单", "退单", "return", "refund"), OrderKind.RETURN),
}
_CURRENCY_WORDS = {"rmb": Currency.CNY, "¥": Currency.CNY, "元": Currency.CNY, "$": Currency.USD}
# Where an error of the bulk import is: orders[i], its field, or lines[j] and its field.
_ERROR_PATH = re.compile(r"^orders\[(\d+)\](?:\.lines\[(\d+)\])?(?:\.(\w+))?$")
_ORDER_COLUMNS = {
    "party_id": "party",
    "party_uscc": "party",
    "number": "number",
    "external_id": "number",
    "discount": "order_discount",
    "owner_id": "owner",
    "currency": "currency",
    "status": "status",
    "order_date": "order_date",
    "original": "original",
}
_LINE_COLUMNS = {
    "product_code": "product",
    "product": "product",
    "quantity": "quantity",
    "unit_price": "unit_price",
    "discount": "line_discount",
}


@dataclass
class LineIn:
    """A line as `sales.imports` reads it (its LineRow)."""

    product_code: str
    quantity: Decimal
    unit_price: Decimal | None
    unit_cost: Decimal | None = None
    discount: Decimal = ZERO


@dataclass
class OrderIn:
    """An order as `sales.imports` reads it (its OrderRow)."""

    party_id: int | None
    number: str
    external_id: str
    status: str
    order_date: datetime.date
    currency: str
    discount: Decimal
    owner_id: int | None
    note: str
    lines: list[LineIn]
    party_uscc: str = ""


@dataclass
class RowPlan:
    number: int
    errors: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    header: dict[str, str] = field(default_factory=dict)  # the order's own cells, as written
    product: str = ""
    quantity: Decimal | None = None
    unit_price: Decimal | None = None
    discount: Decimal = ZERO


@dataclass
class Group:
    """The rows of one order."""

    number: str
    rows: list[RowPlan]
    party: Party | None = None
    outcome: str = ""
    values: dict[str, Any] = field(default_factory=dict)  # the header, parsed

    @property
    def first(self) -> RowPlan:
        return self.rows[0]

    @property
    def failed(self) -> bool:
        return any(r.errors for r in self.rows)


def _fits(model: type[models.Model], name: str, value: Decimal) -> None:
    """The column's own limits (digits, decimal places), in Django's words."""
    column = model._meta.get_field(name)
    assert isinstance(column, models.Field)
    column.run_validators(value)


class _DryRun(Exception):
    """Rolls back a return written only to check it."""


class OrderTarget(RowReader):
    fields = ORDER_FIELDS_IMPORTED

    def __init__(self, job: Import) -> None:
        super().__init__(job)
        self.finder = PartyFinder(self.actor, job.option("source"))
        self.status_words = _STATUS_WORDS | {str(label): v for v, label in OrderStatus.choices}
        self.status_words |= {v: v for v in OrderStatus.values}
        self.currencies = {c.lower(): c for c in Currency.values} | _CURRENCY_WORDS
        self.currencies |= {str(label).lower(): v for v, label in Currency.choices}
        # Each order number's first row in the file, across batches.
        self.seen: dict[str, int] = {}
        # The orders a dry run found it would create: a return may name one of them.
        self.dry_run_orders: dict[str, OrderIn] = {}

    def group_of(self, row: SourceRow) -> str:
        return normalizers.text(self._cell(row, "number")[1])

    def process(self, rows: Sequence[SourceRow], *, write: bool) -> list[RowResult]:
        groups = self._groups(rows)
        live = [g for g in groups if not g.failed]
        self._find_parties(live)
        self._find_products([g for g in live if not g.failed])
        ready = [g for g in live if not g.failed]
        self._orders([g for g in ready if g.values["kind"] == OrderKind.ORDER], write=write)
        for group in ready:
            if group.values["kind"] == OrderKind.RETURN and not group.failed:
                self._return(group, write=write)
        results = []
        for group in groups:
            bad = next((r for r in group.rows if r.errors), None)
            for plan in group.rows:
                if bad is not None and not plan.errors:
                    plan.notes.append(
                        _("第 %(row)s 行：订单 %(number)s 的第 %(other)s 行有错误，整单未导入。")
                        % {"row": plan.number, "number": group.number, "other": bad.number}
                    )
                outcome = Outcome.REFUSED if bad is not None else group.outcome
                party_id = group.party.pk if group.party else None
                results.append(RowResult(plan.number, outcome, party_id, plan.errors + plan.notes))
        return results

    # Reading the rows.

    def _groups(self, rows: Sequence[SourceRow]) -> list[Group]:
        groups: list[Group] = []
        for row in rows:
            number = self.group_of(row)
            plan = self._row(row)
            if groups and number and groups[-1].number == number:
                self._same_header(groups[-1], plan)
                groups[-1].rows.append(plan)
                continue
            group = Group(number, [plan])
            groups.append(group)
            if not number:
                self._error(plan, self._cell_column("number"), [_("订单号为空。")])
            elif number in self.seen:
                message = _("同一订单的行应当相邻：订单号「%(number)s」已出现在第 %(row)s 行。")
                self._error(
                    plan,
                    self._cell_column("number"),
                    [message % {"number": number, "row": self.seen[number]}],
                )
            else:
                self.seen[number] = plan.number
                self._header(group)
        return groups

    def _row(self, row: SourceRow) -> RowPlan:
        plan = RowPlan(row.number)
        for key in HEADER_KEYS:
            plan.header[key] = normalizers.text(self._cell(row, key)[1])
        plan.product = normalizers.text(self._cell(row, "product")[1])
        if not plan.product:
            self._error(plan, self._cell_column("product"), [_("产品为空。")])
        quantity = self._decimal(row, plan, "quantity", number=True)
        if quantity is None and not self._cell(row, "quantity")[1]:
            self._error(plan, self._cell_column("quantity"), [_("数量为空。")])
        plan.quantity = quantity
        plan.unit_price = self._decimal(row, plan, "unit_price")
        plan.discount = self._decimal(row, plan, "line_discount") or ZERO
        return plan

    def _decimal(
        self, row: SourceRow, plan: RowPlan, key: str, *, number: bool = False
    ) -> Decimal | None:
        """A quantity (a plain number) or an amount (1.2万, ¥1,234.50), within the digits
        the order line's column holds."""
        column, value = self._cell(row, key)
        if not value:
            return None
        try:
            if number:
                try:
                    parsed = Decimal(normalizers.text(value).replace(",", ""))
                except InvalidOperation as exc:
                    raise ValidationError(
                        _("不是有效的数字：%(value)s") % {"value": value}
                    ) from exc
            else:
                parsed = normalizers.amount(value)
            model_field = {"line_discount": "discount"}.get(key, key)
            _fits(OrderLine, model_field, parsed)
        except ValidationError as exc:
            self._error(plan, column, exc.messages)
            return None
        return parsed

    def _same_header(self, group: Group, plan: RowPlan) -> None:
        """A later row of an order may leave the order's cells empty, not change them."""
        first = group.first
        for key in HEADER_KEYS:
            value = plan.header[key]
            if value and value != first.header[key]:
                message = _("与本订单第 %(row)s 行不同：%(value)s") % {
                    "row": first.number,
                    "value": value,
                }
                self._error(plan, self._cell_column(key), [message])

    def _header(self, group: Group) -> None:
        """The order's own fields, from its first row."""
        plan = group.first
        cells = plan.header
        values = group.values
        if not (cells["party_key"] or cells["party_name"]):
            self._error(plan, -1, [_("客户名称和客户编号都为空。")])
        values["order_date"] = self._date(plan, cells["order_date"])
        values["discount"] = ZERO
        if cells["order_discount"]:
            try:
                values["discount"] = normalizers.amount(cells["order_discount"])
                _fits(Order, "discount", values["discount"])
            except ValidationError as exc:
                self._error(plan, self._cell_column("order_discount"), exc.messages)
        values["currency"] = self._word(
            plan, "currency", self.currencies, Currency.CNY, _("不支持的币种：%(code)s。"), "code"
        )
        values["status"] = self._word(
            plan,
            "status",
            self.status_words,
            OrderStatus.CONFIRMED,
            _("状态应为%(words)s之一：%(value)s")
            % {"words": listed(OrderStatus.labels), "value": "%(value)s"},
            "value",
        )
        values["kind"] = self._word(
            plan,
            "kind",
            _KIND_WORDS,
            OrderKind.ORDER,
            _("类型应为「订单」或「退货」：%(value)s"),
            "value",
        )
        values["owner_id"] = None
        if cells["owner"]:
            user = self._staff_named(plan, self._cell_column("owner"), cells["owner"])
            values["owner_id"] = user.pk if user else None
        values["note"] = cells["note"][:2000]
        values["original"] = cells["original"]
        if values["kind"] == OrderKind.RETURN and not cells["original"]:
            self._error(plan, self._cell_column("original"), [_("退货单需要填写原订单号。")])

    def _date(self, plan: RowPlan, value: str) -> datetime.date | None:
        if not value:
            self._error(plan, self._cell_column("order_date"), [_("日期为空。")])
            return None
        try:
            return normalizers.date(value)
        except ValidationError as exc:
            self._error(plan, self._cell_column("order_date"), exc.messages)
            return None

    def _word(
        self,
        plan: RowPlan,
        key: str,
        words: dict[str, str],
        default: str,
        message: str,
        name: str,
    ) -> str:
        value = plan.header[key]
        if not value:
            return default
        found = words.get(value.lower()) or words.get(value)
        if found is None:
            self._error(plan, self._cell_column(key), [message % {name: value}])
            return default
        return found

    # The archive.

    def _find_parties(self, groups: Sequence[Group]) -> None:
        refs = {id(g): (g.first.header["party_key"], g.first.header["party_name"]) for g in groups}
        self.finder.load([k for k, _n in refs.values() if k], [n for _k, n in refs.values() if n])
        for group in groups:
            key, name = refs[id(group)]
            party, failed, why = self.finder.find(key, name)
            if party is None:
                self._error(group.first, self._cell_column(failed), [why])
            group.party = party

    def _find_products(self, groups: Sequence[Group]) -> None:
        """Each line's product, by its code, else by its name (refused if two share it)."""
        asked = {r.product for g in groups for r in g.rows}
        found = Product.objects.filter(Q(code__in=asked) | Q(name__in=asked)).order_by("pk")
        by_code: dict[str, Product] = {}
        by_name: dict[str, list[Product]] = {}
        for one in found:
            by_code[one.code] = one
            by_name.setdefault(one.name, []).append(one)
        self.products: dict[str, Product] = {}
        for group in groups:
            for plan in group.rows:
                product = by_code.get(plan.product)
                named = by_name.get(plan.product, [])
                if product is None and len(named) == 1:
                    product = named[0]
                if product is not None:
                    self.products[plan.product] = product
                    plan.product = product.code
                    continue
                column = self._cell_column("product")
                if named:
                    message = _("有 %(n)s 个产品名为「%(name)s」，请改用产品编码。")
                    self._error(plan, column, [message % {"n": len(named), "name": plan.product}])
                else:
                    message = _("没有编码或名称为「%(value)s」的产品。")
                    self._error(plan, column, [message % {"value": plan.product}])

    # Orders, through the sales app's bulk import.

    def _orders(self, groups: Sequence[Group], *, write: bool) -> None:
        existing = {
            o.number: o
            for o in Order.objects.filter(number__in=[g.number for g in groups])
            .exclude(number="")
            .only("number", "kind", "external_id")
        }
        todo = []
        for group in groups:
            order = existing.get(group.number)
            if order is not None and order.is_return:
                message = _("这个订单号属于一张退货单。")
                self._error(group.first, self._cell_column("number"), [message])
            else:
                todo.append(group)
        todo = self._unchanged_with_returns(todo, existing)
        # Kept for a return further on in a dry run (only where the file may hold one).
        returns = not write and "original" in self.columns
        while todo:
            rows = [self._order_in(g, existing.get(g.number)) for g in todo]
            try:
                checked = imports.orders_check(actor=self.actor, rows=rows)
            except ValidationError as exc:
                self._bulk_errors(todo, exc)
                todo = [g for g in todo if not g.failed]
                continue
            if write:
                imports.orders_write(checked)
            for planned in checked.planned:
                todo[planned.index].outcome = planned.result
                if returns and planned.result == Outcome.CREATED:
                    self.dry_run_orders[todo[planned.index].number] = rows[planned.index]
            return

    def _unchanged_with_returns(
        self, groups: list[Group], existing: dict[str, Order]
    ) -> list[Group]:
        """The bulk import refuses to change an order that has returns, and so refuses
        the order as it stands too: a file of orders and their returns, imported again,
        would refuse its orders. Those found unchanged (by the bulk import's own
        comparison) are taken out as unchanged; any other is left to be refused."""
        ids = {existing[g.number].pk for g in groups if g.number in existing}
        locked = imports.orders_with_returns(list(ids))
        mine = [g for g in groups if g.number in existing and existing[g.number].pk in locked]
        if not mine:
            return groups
        rows = [self._order_in(g, existing[g.number]) for g in mine]
        for index in imports.rows_unchanged(actor=self.actor, rows=rows):
            mine[index].outcome = Outcome.UNCHANGED
        return [g for g in groups if not g.outcome]

    def _order_in(self, group: Group, existing: Order | None) -> OrderIn:
        values = group.values
        assert group.party is not None
        lines = [
            LineIn(r.product, r.quantity or ZERO, r.unit_price, discount=r.discount)
            for r in group.rows
        ]
        return OrderIn(
            party_id=group.party.pk,
            number=group.number,
            external_id=(existing.external_id if existing else "") or group.number[:64],
            status=values["status"],
            order_date=values["order_date"],
            currency=values["currency"],
            discount=values["discount"],
            owner_id=values["owner_id"],
            note=values["note"],
            lines=lines,
        )

    def _bulk_errors(self, groups: Sequence[Group], exc: ValidationError) -> None:
        """The bulk import's errors, each on the row and column it is about."""
        for path, messages in exc.message_dict.items():
            match = _ERROR_PATH.match(path)
            if match is None:  # not about one order (the batch's size): on every order
                for group in groups:
                    self._error(group.first, -1, messages)
                continue
            group = groups[int(match[1])]
            if match[2] is not None:
                plan = group.rows[int(match[2])]
                column = self._cell_column(_LINE_COLUMNS.get(match[3] or "", ""))
            else:
                plan = group.first
                key = _ORDER_COLUMNS.get(match[3] or "", "")
                if key == "party":
                    key = "party_key" if plan.header["party_key"] else "party_name"
                column = self._cell_column(key)
            self._error(plan, column, messages)

    # Returns, one by one through the service (they are few).

    def _return(self, group: Group, *, write: bool) -> None:
        try:
            with transaction.atomic():
                self._write_return(group, write=write)
                if not write:
                    raise _DryRun
        except _DryRun:
            pass
        except ValidationError as exc:
            for path, messages in exc.message_dict.items():
                line = re.match(r"^lines\[(\d+)\]\.(\w+)$", path)
                if line:
                    plan = group.rows[int(line[1])]
                    self._error(plan, self._cell_column(_LINE_COLUMNS[line[2]]), messages)
                else:
                    key = _ORDER_COLUMNS.get(path, "")
                    self._error(group.first, self._cell_column(key), messages)

    def _write_return(self, group: Group, *, write: bool) -> None:
        """The return through `return_create` (a ValidationError names what is wrong). A
        dry run writes, in the savepoint it rolls back, the original order when the file
        creates it earlier: so it checks the return as the run will."""
        values = group.values
        number = values["original"]
        if not write and number in self.dry_run_orders:
            imports.orders_write(
                imports.orders_check(actor=self.actor, rows=[self.dry_run_orders[number]])
            )
        existing = Order.objects.filter(number=group.number).first()
        visible = parties_visible_to(self.actor)
        originals = Order.objects.filter(number=number, kind=OrderKind.ORDER, party__in=visible)
        original = originals.select_related("party", "owner").first()
        if original is None:
            message = _("没有订单号为「%(number)s」的原订单。") % {"number": number}
            raise ValidationError({"original": message})
        if group.party is not None and group.party.pk != original.party_id:
            message = _("原订单 %(number)s 不是这个客户的。") % {"number": original.number}
            raise ValidationError({"original": message})
        if existing is not None:
            if not (existing.is_return and existing.original_id == original.pk):
                raise ValidationError({"number": _("已有订单使用这个订单号。")})
            group.outcome = Outcome.UNCHANGED
            return
        items = [(self.products[r.product], r.quantity or ZERO) for r in group.rows]
        return_create(
            actor=self.actor,
            original=original,
            lines=items,
            order_date=values["order_date"],
            number=group.number,
            note=values["note"],
        )
        group.outcome = Outcome.CREATED

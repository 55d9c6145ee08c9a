"""The demo firm's catalogue and three years of orders, drawn from a BG/NBD-like process.

Each customer (an organisation or an individual that became "current") buys at its own
rate, drawn from a Gamma distribution, and after each purchase stops for good with its
own probability, drawn from a Beta distribution (the BG/NBD story). On top of that a
fifth of the customers drift (their rate decays), lost customers stop buying when they
were marked lost, and won-back ones start again when they were won back. So the firm
has loyal frequent buyers, drifting ones, silent leavers, one-time buyers, big and small
tickets, some discounts, a few free orders and a few returns: structure that the value
models (RFM, BG/NBD, Gamma-Gamma) can find.

Orders are written as plain rows (`writer.BulkWriter`) with the totals the services
compute (`kehu.sales.services.totals_of`), one "create" audit entry each.
"""

import datetime
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from random import Random

from django.utils import timezone

from kehu.core.audit import diff
from kehu.core.bulk import BulkWriter, Row
from kehu.core.models import AuditEntry
from kehu.demo.factory import DAY, YEAR, PartyFactory, Weighted, below
from kehu.parties.models import RelationshipState, StateChange
from kehu.sales.models import (
    Currency,
    Order,
    OrderKind,
    OrderLine,
    OrderStatus,
    Product,
    ProductCategory,
)
from kehu.sales.services import money

ORDER_SPAN = 3 * YEAR
ZERO = Decimal("0.00")

# (category, [(code, name, unit, price, cost, typical quantity)])
CATALOGUE: tuple[tuple[str, tuple[tuple[str, str, str, str, str, int], ...]], ...] = (
    (
        "自动化设备",
        (
            ("AGV-300", "AGV 小车（300 公斤载重）", "台", "86000.00", "61000.00", 1),
            ("AGV-1000", "AGV 小车（1 吨载重）", "台", "158000.00", "117000.00", 1),
            ("WMS-RACK", "智能仓储货架单元", "组", "23800.00", "15900.00", 4),
            ("LINE-ASM", "自动化装配产线（标准段）", "段", "420000.00", "318000.00", 1),
        ),
    ),
    (
        "传感与采集",
        (
            ("SEN-T100", "温湿度传感器 T100", "个", "380.00", "205.00", 20),
            ("SEN-P200", "压力传感器 P200", "个", "960.00", "560.00", 10),
            ("SEN-V50", "振动传感器 V50", "个", "1280.00", "730.00", 8),
            ("GW-4G", "数据采集网关（4G）", "台", "4600.00", "2900.00", 3),
            ("GW-ETH", "数据采集网关（以太网）", "台", "3200.00", "1980.00", 3),
        ),
    ),
    (
        "软件",
        (
            ("MES-STD", "MES 软件标准版（年订阅）", "套", "68000.00", "12000.00", 1),
            ("MES-PRO", "MES 软件专业版（年订阅）", "套", "128000.00", "21000.00", 1),
            ("WMS-LIC", "仓储管理系统（站点许可）", "套", "45000.00", "8000.00", 1),
            ("APP-USER", "移动端用户许可", "个", "600.00", "60.00", 15),
        ),
    ),
    (
        "耗材与配件",
        (
            ("BC-PRN", "工业条码打印机", "台", "5200.00", "3600.00", 2),
            ("BC-LBL", "条码标签纸（卷）", "卷", "45.00", "21.00", 60),
            ("BC-RBN", "碳带（卷）", "卷", "68.00", "33.00", 40),
            ("BAT-AGV", "AGV 锂电池组", "组", "9800.00", "6900.00", 2),
            ("CBL-IND", "工业线缆（百米）", "卷", "1150.00", "760.00", 5),
        ),
    ),
    (
        "服务",
        (
            ("SVC-MNT", "年度维保服务", "年", "18000.00", "9500.00", 1),
            ("SVC-INST", "现场安装调试", "人天", "2400.00", "1300.00", 5),
            ("SVC-TRN", "操作培训", "场", "6000.00", "2800.00", 1),
            ("SVC-24H", "7×24 小时应急响应", "年", "12000.00", "5200.00", 1),
        ),
    ),
)
# How often a line is of each category: consumables and sensors are bought the most.
CATEGORY_WEIGHTS = (4, 20, 5, 50, 21)
LINES_PER_ORDER = Weighted([(1, 50), (2, 30), (3, 15), (4, 5)])
NOTES = ("按合同价执行", "季度集中采购", "加急发货", "含运费", "分批交付", "")


@dataclass(frozen=True)
class Item:
    pk: int
    code: str
    price: Decimal
    cost: Decimal
    quantity: int
    category: int


Window = tuple[datetime.datetime, datetime.datetime]


@dataclass
class Buyer:
    """One customer's buying story: when it could buy, how fast, how it fades."""

    party_id: int
    owner_id: int
    # From becoming a customer (or being won back) to being lost (or now).
    windows: list[Window]
    rate: float  # orders a day
    dropout: float  # chance of leaving for good after each purchase
    decay_days: float  # drifting: the rate halves every so many days (0: steady)
    tastes: tuple[int, ...]  # favourite categories


def write_catalogue(writer: BulkWriter) -> list[Item]:
    """The demo firm's product categories and products."""
    category_ids = writer.reserve_ids(ProductCategory, len(CATALOGUE))
    writer.insert(
        ProductCategory,
        ("id", "name"),
        [(pk, name) for pk, (name, _items) in zip(category_ids, CATALOGUE, strict=True)],
    )
    specs = [(c, spec) for c, (_name, items) in enumerate(CATALOGUE) for spec in items]
    product_ids = writer.reserve_ids(Product, len(specs))
    rows = []
    items = []
    for pk, (c, (code, name, unit, price, cost, quantity)) in zip(product_ids, specs, strict=True):
        rows.append((pk, code, name, category_ids[c], unit, Decimal(price), Decimal(cost)))
        items.append(Item(pk, code, Decimal(price), Decimal(cost), quantity, c))
    fields = ("id", "code", "name", "category_id", "unit", "unit_price", "unit_cost")
    writer.insert(Product, fields, rows)
    return items


BUYING = frozenset({RelationshipState.CURRENT, RelationshipState.WON_BACK})


def windows_of(
    history: Sequence[tuple[str, datetime.datetime]], now: datetime.datetime
) -> list[Window]:
    """The spans in which a party was a customer, within the last ORDER_SPAN. Each opens
    with the move to current (or won back): that move was made by an order at that time."""
    opened = now - ORDER_SPAN
    out: list[Window] = []
    start: datetime.datetime | None = None
    for state, at in history:
        if state in BUYING and start is None:
            start = at
        elif state == RelationshipState.LOST and start is not None:
            out.append((start, at))
            start = None
    if start is not None:
        out.append((start, now))
    # Before the span a customer's first order is kept (it made the party a customer);
    # the rest of its buying there is not.
    return [(begin, max(end, opened) if begin < opened else end) for begin, end in out]


def buyers(
    factory: PartyFactory, party_ids: Sequence[int], now: datetime.datetime, rng: Random
) -> list[Buyer]:
    """Every party that buys: organisations and individuals that became customers."""
    index = {pk: i for i, pk in enumerate(party_ids)}
    moves: dict[int, list[tuple[str, datetime.datetime]]] = {}
    changes = StateChange.objects.order_by("party_id", "changed_at", "id")
    for party_id, to_state, at in changes.values_list("party_id", "to_state", "changed_at"):
        moves.setdefault(party_id, []).append((to_state, at))
    out = []
    for party_id, history in moves.items():
        i = index[party_id]
        if factory.employer_of[i] >= 0:  # staff of an organisation buy for it, not alone
            continue
        windows = windows_of(history, now)
        if not windows:
            continue
        drifting = rng.random() < 0.2
        out.append(
            Buyer(
                party_id=party_id,
                owner_id=factory.owner_of[i],
                windows=windows,
                # Capped: one wholesale buyer should not be a tenth of the firm.
                rate=min(rng.gammavariate(1.2, 1.0), 4.0),
                dropout=rng.betavariate(0.5, 40.0),
                decay_days=rng.uniform(120, 400) if drifting else 0.0,
                tastes=tuple(rng.sample(range(len(CATALOGUE)), 2)),
            )
        )
    return out


def effective_rate(b: Buyer, scale: float) -> float:
    """Orders a day, at most one a day (a busy B2B account, not a shop)."""
    return min(b.rate * scale, 1.0)


def _expected(buyers: Sequence[Buyer], scale: float) -> float:
    """Roughly how many orders `scale` gives: a first order each, then a Poisson count
    cut short by the geometric dropout."""
    total = 0.0
    for b in buyers:
        days = sum((end - begin).total_seconds() / 86400 for begin, end in b.windows)
        mean = effective_rate(b, scale) * days
        total += len(b.windows) + (1 - (1 - b.dropout) ** mean) / b.dropout
    return total


def scale_for(buyers: Sequence[Buyer], target: int) -> float:
    """The rate scale that gives about `target` orders (bisection on a monotone sum)."""
    low, high = 0.0, 1.0
    while _expected(buyers, high) < target and high < 1e6:
        high *= 2
    for _ in range(40):
        mid = (low + high) / 2
        low, high = (mid, high) if _expected(buyers, mid) < target else (low, mid)
    return (low + high) / 2


def purchase_times(b: Buyer, scale: float, rng: Random) -> Iterator[datetime.datetime]:
    """The moments `b` buys: when it became a customer (or was won back), then a thinned
    Poisson process until it drops out for good or is marked lost."""
    rate = effective_rate(b, scale)
    first = b.windows[0][0]
    alive = True
    for begin, end in b.windows:
        yield begin
        at = max(begin, end - ORDER_SPAN)
        while alive and rate > 0:
            at += datetime.timedelta(days=rng.expovariate(rate))
            if at >= end:
                break
            age = (at - first).total_seconds() / 86400
            if b.decay_days and rng.random() > math.exp(-age / b.decay_days):
                continue  # drifting: fewer of the chances turn into orders
            yield at
            alive = rng.random() >= b.dropout


def calibrated_moments(
    buyers: Sequence[Buyer], target: int, seed: int
) -> list[tuple[datetime.datetime, Buyer]]:
    """Purchase moments of every buyer, about `target` of them: the closed-form guess of
    the rate scale, corrected by a few draws (the same seed each time: deterministic)."""
    scale = scale_for(buyers, target)
    for _ in range(4):
        rng = Random(seed)
        moments = [(at, b) for b in buyers for at in purchase_times(b, scale, rng)]
        if abs(len(moments) - target) < target * 0.02:
            break
        scale *= target / max(len(moments), 1)
    return moments


@dataclass
class DrawnOrder:
    row: Row
    lines: list[Row]
    changes: dict[str, list[object]]
    returned: tuple[int, Decimal, Decimal, Decimal, Decimal] | None  # one returned line


class OrderRows:
    """Turns buyers into order, line and audit rows, and writes them."""

    def __init__(self, writer: BulkWriter, items: Sequence[Item], rng: Random):
        self.writer = writer
        self.items = items
        self.rng = rng
        self.by_category = [[it for it in items if it.category == c] for c in range(len(CATALOGUE))]
        self.categories = Weighted(enumerate(CATEGORY_WEIGHTS))

    def write(self, buyers: Sequence[Buyer], target: int, now: datetime.datetime) -> int:
        moments = calibrated_moments(buyers, target, self.rng.randrange(2**32))
        moments = [(at, b) for at, b in moments if at <= now]
        moments.sort(key=lambda pair: (pair[0], pair[1].party_id))
        ids = self.writer.reserve_ids(Order, len(moments))
        drawn = [self._order(pk, at, b, now) for pk, (at, b) in zip(ids, moments, strict=True)]
        self._insert(drawn)
        self._returns([(d, b) for d, (_at, b) in zip(drawn, moments, strict=True)], now)
        return len(drawn)

    def _lines(self, b: Buyer) -> list[tuple[Item, Decimal, Decimal, Decimal]]:
        """(item, quantity, price, line discount) of one order."""
        rng = self.rng
        chosen: list[tuple[Item, Decimal, Decimal, Decimal]] = []
        for _ in range(LINES_PER_ORDER.pick(rng)):
            category = rng.choice(b.tastes) if rng.random() < 0.7 else self.categories.pick(rng)
            item = rng.choice(self.by_category[category])
            if any(item is c[0] for c in chosen):
                continue
            quantity = Decimal(max(1, round(item.quantity * rng.lognormvariate(0, 0.6))))
            price = item.price if rng.random() > 0.005 else ZERO  # a free replacement
            discount = ZERO
            if price and rng.random() < 0.08:
                discount = money(price * quantity * Decimal(rng.choice((3, 5, 8))) / 100)
            chosen.append((item, quantity, price, discount))
        return chosen

    def _order(
        self, pk: int, at: datetime.datetime, b: Buyer, now: datetime.datetime
    ) -> DrawnOrder:
        rng = self.rng
        local = timezone.localtime(at)
        moment = min(local.replace(hour=9 + below(rng, 9), minute=below(rng, 60)), now)
        day = timezone.localdate(moment)
        lines = []
        net = cost = ZERO
        for position, (item, quantity, price, discount) in enumerate(self._lines(b), start=1):
            amount = money(quantity * price) - discount
            cost_amount = money(quantity * item.cost)
            net += amount
            cost += cost_amount
            lines.append(
                (pk, position, item.pk, quantity, price, item.cost, discount, amount, cost_amount)
            )
        discount = money(net * Decimal(rng.choice((2, 3, 5))) / 100) if rng.random() < 0.1 else ZERO
        status = self._status(now - moment, rng)
        number = f"SO{day:%Y%m%d}-{pk:06d}"
        revenue = net - discount
        row = (
            *(pk, b.party_id, number, OrderKind.ORDER, None, status, day, Currency.CNY),
            *(discount, net, revenue, cost, revenue - cost, b.owner_id, "", rng.choice(NOTES)),
            *(b.owner_id, moment, moment),
        )
        changes = diff(
            {},
            {
                "party": b.party_id,
                "number": number,
                "status": status,
                "order_date": day.isoformat(),
                "revenue": str(revenue),
                "owner": b.owner_id,
            },
        )
        returned = None
        if status == OrderStatus.FULFILLED and lines and rng.random() < 0.015:
            line = lines[0]
            back = max(Decimal(1), (line[3] / 3).to_integral_value())
            returned = (line[2], back, line[4], line[5], money(line[6] * back / line[3]))
        return DrawnOrder(row, lines, changes, returned)

    @staticmethod
    def _status(age: datetime.timedelta, rng: Random) -> str:
        roll = rng.random()
        if roll < 0.02:
            return OrderStatus.CANCELLED
        if age < 30 * DAY and roll < 0.04:
            return OrderStatus.DRAFT
        return OrderStatus.CONFIRMED if age < 14 * DAY else OrderStatus.FULFILLED

    def _insert(self, drawn: Sequence[DrawnOrder]) -> None:
        fields = (
            "id", "party_id", "number", "kind", "original_id", "status", "order_date",
            "currency", "discount", "subtotal", "revenue", "cost", "profit", "owner_id",
            "external_id", "note", "created_by_id", "created_at", "updated_at",
        )  # fmt: skip
        line_fields = (
            "order_id", "position", "product_id", "quantity", "unit_price", "unit_cost",
            "discount", "amount", "cost_amount",
        )  # fmt: skip
        w = self.writer
        w.insert(Order, fields, [d.row for d in drawn])
        w.insert(OrderLine, line_fields, [line for d in drawn for line in d.lines])
        audit_fields = (
            "actor_id", "action", "changes", "created_at", "object_type", "object_id",
            "object_repr", "root_type", "root_id",
        )  # fmt: skip
        label = Order._meta.label_lower
        w.insert(
            AuditEntry,
            audit_fields,
            [
                (d.row[13], AuditEntry.Action.CREATE, d.changes, d.row[17], label, d.row[0],
                 d.row[2], label, d.row[0])
                for d in drawn
            ],
        )  # fmt: skip

    def _returns(self, drawn: Sequence[tuple[DrawnOrder, Buyer]], now: datetime.datetime) -> None:
        """A few fulfilled orders come partly back a little later, at the price paid."""
        chosen = [(d, b) for d, b in drawn if d.returned is not None]
        ids = self.writer.reserve_ids(Order, len(chosen))
        rows = []
        lines = []
        for pk, (d, b) in zip(ids, chosen, strict=True):
            assert d.returned is not None
            product, quantity, price, unit_cost, discount = d.returned
            moment = min(d.row[17] + DAY * (3 + below(self.rng, 18)), now)
            day = timezone.localdate(moment)
            amount = money(quantity * price) - discount
            cost = money(quantity * unit_cost)
            rows.append(
                (
                    *(pk, b.party_id, f"RT{day:%Y%m%d}-{pk:06d}", OrderKind.RETURN, d.row[0]),
                    *(OrderStatus.CONFIRMED, day, Currency.CNY, ZERO, -amount, -amount, -cost),
                    *(cost - amount, b.owner_id, "", "质量问题退货", b.owner_id, moment, moment),
                )
            )
            lines.append((pk, 1, product, quantity, price, unit_cost, discount, amount, cost))
        self._insert(
            [DrawnOrder(row, [line], {}, None) for row, line in zip(rows, lines, strict=True)]
        )


def write_orders(
    writer: BulkWriter,
    factory: PartyFactory,
    party_ids: Sequence[int],
    orders: int,
    now: datetime.datetime,
    rng: Random,
) -> None:
    """The catalogue, then about `orders` orders of the firm's customers."""
    items = write_catalogue(writer)
    who = buyers(factory, party_ids, now, rng)
    if who and orders:
        OrderRows(writer, items, rng).write(who, orders, now)

"""The demo firm's orders: consistent with the customers' states and histories, priced as
the services price them, and varied enough for the value models to find structure."""

import datetime
from collections import defaultdict
from decimal import Decimal

import pytest

from kehu.core.context import tenant_scope
from kehu.core.models import AuditEntry
from kehu.demo.generator import generate
from kehu.parties.models import LinkKind, Party, PartyLink, RelationshipState, StateChange
from kehu.sales.models import Order, OrderKind, OrderLine, OrderStatus, Product
from kehu.sales.services import totals_of
from kehu.tenancy.models import Tenant

NOW = datetime.datetime(2025, 6, 2, 3, 0, tzinfo=datetime.UTC)
ORDERS = 3000


def _shop(slug: str, seed: int = 7) -> Tenant:
    tenant = Tenant.objects.create(name=f"公司 {slug}", slug=slug)
    generate(
        tenant, parties=300, interactions=0, orders=ORDERS, seed=seed, now=NOW,
        username_prefix=f"{slug}_",
    )  # fmt: skip
    return tenant


@pytest.fixture
def shop(db: None) -> Tenant:
    return _shop("shop")


def _fingerprint(tenant: Tenant) -> list[tuple[str, Decimal, str]]:
    with tenant_scope(tenant.pk):
        rows = Order.objects.order_by("id").values_list("party__name", "revenue", "status")
        return list(rows)


def test_same_seed_same_orders(db: None) -> None:
    first, second, other = _shop("a"), _shop("b"), _shop("c", seed=8)
    assert _fingerprint(first) == _fingerprint(second) != _fingerprint(other)


def test_about_as_many_orders_as_asked_over_three_years(shop: Tenant) -> None:
    with tenant_scope(shop.pk):
        orders = Order.objects.filter(kind=OrderKind.ORDER)
        assert abs(orders.count() - ORDERS) < ORDERS * 0.1
        days = sorted(orders.values_list("order_date", flat=True))
        assert days[-1] <= NOW.date() + datetime.timedelta(days=1)
        assert (days[-1] - days[len(days) // 20]).days > 2 * 365
        assert Product.objects.count() == 22
        assert AuditEntry.objects.filter(object_type="sales.order").count() == Order.objects.count()


def test_only_customers_buy_and_every_customer_has_bought(shop: Tenant) -> None:
    with tenant_scope(shop.pk):
        employees = set(
            PartyLink.objects.filter(kind=LinkKind.EMPLOYS).values_list("to_party_id", flat=True)
        )
        became = set(
            StateChange.objects.filter(to_state=RelationshipState.CURRENT).values_list(
                "party_id", flat=True
            )
        )
        buyers = set(Order.objects.values_list("party_id", flat=True))
        assert buyers == became - employees
        first = dict(
            StateChange.objects.filter(to_state=RelationshipState.CURRENT).values_list(
                "party_id", "changed_at"
            )
        )
        for party_id, placed in Order.objects.values_list("party_id", "created_at"):
            assert placed >= first[party_id] - datetime.timedelta(days=1)
        states = set(
            Party.objects.filter(pk__in=buyers).values_list("relationship_state", flat=True)
        )
        assert states <= {
            RelationshipState.CURRENT,
            RelationshipState.LOST,
            RelationshipState.WON_BACK,
        }


def test_totals_are_what_the_services_compute(shop: Tenant) -> None:
    with tenant_scope(shop.pk):
        lines = defaultdict(list)
        for line in OrderLine.objects.all():
            assert (
                line.amount
                == (line.quantity * line.unit_price).quantize(Decimal("0.01")) - line.discount
            )
            lines[line.order_id].append(line)
        for order in Order.objects.all():
            totals = totals_of(lines[order.pk], order.discount, order.kind)
            assert (order.subtotal, order.revenue, order.cost, order.profit) == (
                totals.subtotal, totals.revenue, totals.cost, totals.profit,
            )  # fmt: skip


def test_returns_take_back_part_of_a_fulfilled_order(shop: Tenant) -> None:
    with tenant_scope(shop.pk):
        returns = list(Order.objects.filter(kind=OrderKind.RETURN).select_related("original"))
        assert returns
        for returned in returns:
            original = returned.original
            assert original is not None and original.status == OrderStatus.FULFILLED
            assert returned.party_id == original.party_id and returned.revenue < 0
            assert returned.order_date >= original.order_date
            line = returned.lines.get()
            bought = original.lines.get(product_id=line.product_id)
            assert line.quantity <= bought.quantity and line.unit_price == bought.unit_price


def test_customers_differ_loyal_drifting_lost_and_one_off(shop: Tenant) -> None:
    with tenant_scope(shop.pk):
        per_party: dict[int, list[datetime.date]] = defaultdict(list)
        for party_id, day in Order.objects.filter(kind=OrderKind.ORDER).values_list(
            "party_id", "order_date"
        ):
            per_party[party_id].append(day)
        counts = sorted(len(days) for days in per_party.values())
        assert counts[0] <= 3 and counts[-1] >= 30  # a few orders, and many
        quiet = [p for p, days in per_party.items() if (NOW.date() - max(days)).days > 180]
        assert len(quiet) >= len(per_party) // 10  # some have stopped buying
        statuses = set(Order.objects.values_list("status", flat=True))
        assert statuses >= {OrderStatus.FULFILLED, OrderStatus.CANCELLED}
        assert Order.objects.filter(discount__gt=0).exists()
        assert Order.objects.filter(kind=OrderKind.ORDER, revenue__lt=1000).exists()
        assert Order.objects.filter(revenue__gt=100_000).exists()

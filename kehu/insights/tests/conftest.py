"""A small firm to score: five customers of Alice's with orders over two years."""

import datetime
from decimal import Decimal

import pytest

from kehu.core.context import tenant_scope
from kehu.insights import services
from kehu.insights.models import ScoringRun
from kehu.parties import services as parties
from kehu.parties.models import Party
from kehu.sales import services as sales
from kehu.sales.models import Order, Product
from kehu.tenancy.models import Tenant, User

AS_OF = datetime.date(2030, 6, 30)


def buy(actor: User, party: Party, product: Product, days_ago: int, quantity: int = 1) -> Order:
    return sales.order_create(
        actor=actor,
        party=party,
        lines=[sales.LineIn(product, Decimal(quantity))],
        order_date=AS_OF - datetime.timedelta(days=days_ago),
        status="confirmed",
    )


@pytest.fixture
def firm(acme: Tenant, alice: User) -> dict[str, Party]:
    """甲 buys often for two years; 乙 once, long ago; 丙 was steady then stopped; 丁 got
    a free sample and a return; 戊 is new."""
    with tenant_scope(acme.pk):
        chair = sales.product_create(
            actor=alice, code="CH", name="椅子", unit_price=Decimal(100), unit_cost=Decimal(60)
        )
        desk = sales.product_create(
            actor=alice, code="DK", name="桌子", unit_price=Decimal(500), unit_cost=Decimal(300)
        )
        free = sales.product_create(actor=alice, code="FR", name="样品", unit_price=Decimal(0))
        names = ["甲公司", "乙公司", "丙公司", "丁公司", "戊公司"]
        firm = {n: parties.party_create(actor=alice, kind="organisation", name=n) for n in names}
        for days in range(20, 740, 60):
            buy(alice, firm["甲公司"], desk, days, 2)
        buy(alice, firm["甲公司"], chair, 100, 3)
        buy(alice, firm["乙公司"], chair, 600)
        for days in range(400, 720, 40):
            buy(alice, firm["丙公司"], desk, days)
        buy(alice, firm["丁公司"], free, 90)
        sold = buy(alice, firm["丁公司"], chair, 80, 4)
        sales.return_create(
            actor=alice,
            original=sold,
            lines=[(chair, Decimal(1))],
            order_date=AS_OF - datetime.timedelta(days=70),
        )
        buy(alice, firm["戊公司"], chair, 15, 2)
    return firm


@pytest.fixture
def scored(firm: dict[str, Party], acme: Tenant, alice: User) -> ScoringRun:
    with tenant_scope(acme.pk):
        return services.scoring_run_now(actor=alice, as_of=AS_OF)

"""State for the sales tests, built through the services."""

import datetime
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from kehu.parties import services as parties
from kehu.parties.models import Party, PartyKind, RelationshipState
from kehu.sales import services
from kehu.sales.models import Order, OrderStatus, Product
from kehu.tenancy.models import User

DAY = datetime.date(2025, 3, 1)


def party_in(actor: User, name: str = "甲公司", state: str = RelationshipState.POTENTIAL) -> Party:
    """A party moved along STATE_MOVES to `state`, as staff would move it."""
    party = parties.party_create(actor=actor, kind=PartyKind.ORGANISATION, name=name)
    path: Sequence[str] = {
        RelationshipState.POTENTIAL: [],
        RelationshipState.TARGET: [RelationshipState.TARGET],
        RelationshipState.CURRENT: [RelationshipState.CURRENT],
        RelationshipState.LOST: [RelationshipState.CURRENT, RelationshipState.LOST],
        RelationshipState.WON_BACK: [
            RelationshipState.CURRENT,
            RelationshipState.LOST,
            RelationshipState.WON_BACK,
        ],
    }[RelationshipState(state)]
    for step in path:
        parties.party_change_state(actor=actor, party=party, to_state=step, reason="测试")
    return party


def product(
    actor: User, code: str = "A-100", price: str = "100.00", cost: str = "60.00", **fields: object
) -> Product:
    return services.product_create(
        actor=actor,
        code=code,
        name=f"产品{code}",
        unit_price=Decimal(price),
        unit_cost=Decimal(cost),
        **fields,
    )


def sale(
    actor: User,
    party: Party,
    items: list[tuple[Product, str]],
    *,
    status: str = OrderStatus.CONFIRMED,
    **fields: Any,
) -> Order:
    lines = [services.LineIn(p, Decimal(q)) for p, q in items]
    return services.order_create(
        actor=actor, party=party, lines=lines, status=status, order_date=DAY, **fields
    )

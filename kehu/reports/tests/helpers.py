"""A small, hand-checked book of business, built through the services.

2025, in CNY unless said otherwise (chair 100/60, desk 500/300):
- 甲公司 (Alice's, 广东省 深圳市, 展会): Jan 10 two chairs (200 / 120 / 80);
  Feb 20 a return of one (−100 / −60 / −40); Mar 3 chair + desk less 60 discount
  (540 / 360 / 180: the chair's line is 90, the desk's 450).
- 乙公司 (Bob's, 北京市, no source): Feb 8 three chairs (300 / 180 / 120); a cancelled
  desk order that must not count.
- 丙公司 (Alice's, 广东省 广州市): Mar 1 a USD order (10 / 6 / 4), listed apart.
- 丁公司 (Alice's): no order, a prospect.
Teams: 华南 (Alice, Bob), 华北 (Bob). Effort: 甲 120 min in Jan and 60 in Mar, 乙 60 in
Feb, 丙 a 30-minute call in Mar, 丁 90 in Mar.
"""

import datetime
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.utils import timezone

from kehu.activities import services as activities
from kehu.parties import services as parties
from kehu.parties.models import Party
from kehu.sales import services as sales
from kehu.sales.models import Order, OrderStatus
from kehu.sales.tests.helpers import product
from kehu.tenancy import services as tenancy
from kehu.tenancy.models import User

YEAR = {"preset": "custom", "since": "2025-01-01", "until": "2025-12-31"}


@dataclass(frozen=True)
class Book:
    jia: Party
    yi: Party
    bing: Party
    ding: Party
    cancelled: Order


def day(month: int, dom: int) -> datetime.date:
    return datetime.date(2025, month, dom)


def book_of_business(alice: User, bob: User) -> Book:
    category = sales.category_create(actor=alice, name="椅子")
    chair = product(alice, "CH-1", "100.00", "60.00", category=category)
    desk = product(alice, "DK-1", "500.00", "300.00")
    dollar = product(alice, "US-1", "10.00", "6.00", currency="USD")

    def party(name: str, owner: User, **fields: Any) -> Party:
        return parties.party_create(
            actor=alice, kind="organisation", name=name, owner=owner, **fields
        )

    jia = party("甲公司", alice, province="广东省", city="深圳市", source="展会")
    yi = party("乙公司", bob, province="北京市", city="北京市")
    bing = party("丙公司", alice, province="广东省", city="广州市")
    ding = party("丁公司", alice)

    def sell(
        who: Party, when: datetime.date, *lines: tuple[object, str], **fields: object
    ) -> Order:
        items = [sales.LineIn(p, Decimal(q)) for p, q in lines]  # type: ignore[arg-type]
        return sales.order_create(
            actor=alice,
            party=who,
            lines=items,
            order_date=when,
            status=OrderStatus.CONFIRMED,
            owner=who.owner,
            **fields,  # type: ignore[arg-type]
        )

    first = sell(jia, day(1, 10), (chair, "2"))
    sales.return_create(
        actor=alice, original=first, lines=[(chair, Decimal(1))], order_date=day(2, 20)
    )
    sell(jia, day(3, 3), (chair, "1"), (desk, "1"), discount=Decimal("60"))
    sell(yi, day(2, 8), (chair, "3"))
    cancelled = sales.order_cancel(actor=alice, order=sell(yi, day(2, 9), (desk, "2")))
    sell(bing, day(3, 1), (dollar, "1"), currency="USD")

    south = tenancy.team_create(actor=alice, name="华南")
    north = tenancy.team_create(actor=alice, name="华北")
    for team, member in ((south, alice), (south, bob), (north, bob)):
        tenancy.team_member_add(actor=alice, team=team, user=member)

    for who, minutes, when in (
        (jia, 120, day(1, 15)),
        (jia, 60, day(3, 5)),
        (yi, 60, day(2, 10)),
        (ding, 90, day(3, 6)),
    ):
        activities.service_time_log(actor=alice, party=who, minutes=minutes, worked_on=when)
    activities.interaction_log(
        actor=alice,
        parties=[bing],
        kind="call",
        subject="报价",
        occurred_at=timezone.make_aware(datetime.datetime(2025, 3, 2, 10)),
        duration_minutes=30,
    )
    return Book(jia, yi, bing, ding, cancelled)

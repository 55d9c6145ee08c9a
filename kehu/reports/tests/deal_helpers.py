"""A small, hand-checked book of deals for the pipeline reports, built through the
services (only a deal's creation time is set back afterwards: the services stamp "now").

Pipelines: 新客户销售 (初步接洽 10, 需求确认 30, 提案 60, 谈判 80, 赢单, 输单) and 续约
(续约洽谈 50, 续约成功, 未续约). Lost reasons 价格 and 竞品. Parties 甲 (Alice's) and
乙 (Bob's). Teams 华南 (Alice, Bob) and 华北 (Bob). Closed in 2025 (created → closed):

- D1 Alice, 甲, 1000, won   01-01 → 01-11 (10 days)
- D2 Alice, 甲,  500, lost  01-05 → 01-25 (20 days), 价格
- D3 Bob,   乙, 2000, won   02-01 → 03-03 (30 days)
- D4 Alice, 乙,  300, lost  02-10 → 02-14 (4 days), 竞品
- D5 Alice, 甲,  800, won   2024-12-01 → 03-01 (90 days), in 续约
- D6 Alice, 甲, USD 100, lost 03-01 → 03-10 (9 days), 价格
- D7 Alice, 甲,  700, won   2024-05-01 → 2024-06-01: outside 2025
Open today: O1 Alice, 甲, 400 in 初步接洽; O2 Bob, 乙, 1000 in 提案.
"""

import datetime
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.utils import timezone

from kehu.parties import services as parties
from kehu.parties.models import Party
from kehu.sales import pipeline_services as deals
from kehu.sales.models import LostReason, Opportunity, Pipeline, StageKind, cycle_days_of
from kehu.sales.tests.pipeline_helpers import new_sales, stage
from kehu.tenancy import services as tenancy
from kehu.tenancy.models import User

CLOSE = datetime.date(2025, 12, 31)


@dataclass(frozen=True)
class Deals:
    new_sales: Pipeline
    renewals: Pipeline
    jia: Party
    yi: Party
    by_name: dict[str, Opportunity]


def created_on(deal: Opportunity, day: datetime.date) -> None:
    """Set back when a deal was created (at noon, local time), and a closed deal's
    sales cycle with it, as closing it would have stored it had it been created then."""
    at = timezone.make_aware(datetime.datetime.combine(day, datetime.time(12)))
    deal.refresh_from_db(fields=["closed_on"])
    cycle = cycle_days_of(at, deal.closed_on) if deal.closed_on else None
    Opportunity.objects.filter(pk=deal.pk).update(created_at=at, cycle_days=cycle)


def book_of_deals(alice: User, bob: User) -> Deals:
    pipeline = new_sales(alice)
    renewals = deals.pipeline_create(
        actor=alice,
        name="续约",
        stages=[
            deals.StageIn("续约洽谈", 50),
            deals.StageIn("续约成功", 100, StageKind.WON),
            deals.StageIn("未续约", 0, StageKind.LOST),
        ],
    )
    price = deals.lost_reason_create(actor=alice, name="价格")
    rival = deals.lost_reason_create(actor=alice, name="竞品")
    jia = parties.party_create(actor=alice, kind="organisation", name="甲公司", owner=alice)
    yi = parties.party_create(actor=alice, kind="organisation", name="乙公司", owner=bob)
    south = tenancy.team_create(actor=alice, name="华南")
    north = tenancy.team_create(actor=alice, name="华北")
    for team, member in ((south, alice), (south, bob), (north, bob)):
        tenancy.team_member_add(actor=alice, team=team, user=member)

    def deal(name: str, party: Party, owner: User, amount: str, **fields: Any) -> Opportunity:
        return deals.opportunity_create(
            actor=alice,
            party=party,
            name=name,
            owner=owner,
            amount=Decimal(amount),
            expected_close_date=CLOSE,
            pipeline=fields.pop("pipeline", pipeline),
            **fields,
        )

    def won(found: Opportunity, created: datetime.date, closed: datetime.date) -> None:
        deals.opportunity_win(actor=alice, opportunity=found, closed_on=closed)
        created_on(found, created)

    def lost(
        found: Opportunity, created: datetime.date, closed: datetime.date, reason: LostReason
    ) -> None:
        deals.opportunity_lose(actor=alice, opportunity=found, reason=reason, closed_on=closed)
        created_on(found, created)

    d = datetime.date
    made = {
        "D1": deal("D1", jia, alice, "1000"),
        "D2": deal("D2", jia, alice, "500"),
        "D3": deal("D3", yi, bob, "2000"),
        "D4": deal("D4", yi, alice, "300"),
        "D5": deal("D5", jia, alice, "800", pipeline=renewals),
        "D6": deal("D6", jia, alice, "100", currency="USD"),
        "D7": deal("D7", jia, alice, "700"),
        "O1": deal("O1", jia, alice, "400"),
        "O2": deal("O2", yi, bob, "1000", stage=stage(pipeline, "提案")),
    }
    won(made["D1"], d(2025, 1, 1), d(2025, 1, 11))
    lost(made["D2"], d(2025, 1, 5), d(2025, 1, 25), price)
    won(made["D3"], d(2025, 2, 1), d(2025, 3, 3))
    lost(made["D4"], d(2025, 2, 10), d(2025, 2, 14), rival)
    won(made["D5"], d(2024, 12, 1), d(2025, 3, 1))
    lost(made["D6"], d(2025, 3, 1), d(2025, 3, 10), price)
    won(made["D7"], d(2024, 5, 1), d(2024, 6, 1))
    return Deals(pipeline, renewals, jia, yi, made)

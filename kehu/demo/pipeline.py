"""The demo firm's selling: two pipelines, lost reasons, about 400 opportunities spread
over the stages (won and lost ones with their reasons, every one with its stage history)
and about 300 leads in every status from several channels.

Pipelines and settings go through the services (a handful of rows, audited); deals,
their history and leads are drawn from the generator's Random and written with
bulk_create, in a fixed order, so that a seed gives the same rows on every run. They
obey the services' rules: a deal at or past a stage that requires amount and expected
close date has both; a won deal of a customer with orders points at its latest order.
"""

import datetime
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from random import Random
from typing import TypeVar

from django.db.models import Max

from kehu.core.context import current_tenant_id
from kehu.demo import data
from kehu.demo.factory import GIVEN_FEMALE, GIVEN_MALE, LEGAL_FORMS, PLACES, SURNAMES, Weighted
from kehu.parties.models import LinkKind, Party, PartyKind, PartyLink, RelationshipState
from kehu.sales import pipeline_services as deals
from kehu.sales.models import (
    BOOKED,
    Lead,
    LeadStatus,
    LeadVia,
    LostReason,
    Opportunity,
    OpportunityLine,
    Order,
    Pipeline,
    Product,
    SourceChannel,
    Stage,
    StageField,
    StageKind,
    StageMove,
    StageStays,
    StageTotal,
    cycle_days_of,
)
from kehu.sales.stage_stays import stage_stays_rebuild
from kehu.sales.stage_totals import stage_totals_rebuild
from kehu.tenancy.models import Role, Team, User

M = TypeVar("M", Opportunity, Lead)
NEEDS = [StageField.AMOUNT, StageField.EXPECTED_CLOSE]
PIPELINES = {
    "新客户销售": [
        deals.StageIn("初步接洽", 10),
        deals.StageIn("需求确认", 25),
        deals.StageIn("方案报价", 50, required_fields=NEEDS),
        deals.StageIn("商务谈判", 75, required_fields=[StageField.NEXT_STEP]),
        deals.StageIn("赢单", 100, StageKind.WON),
        deals.StageIn("输单", 0, StageKind.LOST),
    ],
    "续约/增购": [
        deals.StageIn("续约沟通", 30),
        deals.StageIn("报价确认", 60, required_fields=NEEDS),
        deals.StageIn("合同审批", 85),
        deals.StageIn("赢单", 100, StageKind.WON),
        deals.StageIn("输单", 0, StageKind.LOST),
    ],
}
LOST_REASONS = ("价格太高", "选择了竞争对手", "预算取消", "需求变化", "联系不上")
OUTCOMES = Weighted([(StageKind.OPEN, 55), (StageKind.WON, 25), (StageKind.LOST, 20)])
CHANNELS = Weighted(
    [
        (SourceChannel.WEB_FORM, 30),
        (SourceChannel.PHONE, 20),
        (SourceChannel.EXHIBITION, 15),
        (SourceChannel.REFERRAL, 15),
        (SourceChannel.ADVERTISING, 10),
        (SourceChannel.WECHAT, 10),
    ]
)
CAMPAIGNS = ("2025 春季展会", "618 线上推广", "老客户推荐计划", "行业峰会", "")
LEAD_STATUSES = Weighted(
    [
        (LeadStatus.NEW, 25),
        (LeadStatus.WORKING, 25),
        (LeadStatus.QUALIFIED, 15),
        (LeadStatus.DISQUALIFIED, 15),
        (LeadStatus.CONVERTED, 20),
    ]
)
DISQUALIFY = ("空号", "同行询价", "预算太低", "重复提交", "不在服务区域")
NEXT_STEPS = ("发送报价单", "安排产品演示", "约见采购负责人", "提交合同初稿", "现场考察")
DAY = datetime.timedelta(days=1)
MOBILE_PREFIXES = ("135", "136", "137", "138", "139", "150", "151", "158", "186", "188")


Move = tuple[Stage | None, Stage, datetime.datetime, datetime.datetime | None]


@dataclass(frozen=True)
class World:
    """What the deals are drawn from: the firm's sellers, parties and products."""

    tenant_id: int
    admin: User
    sellers: list[User]
    organisations: list[tuple[int, int, str]]  # id, owner id, relationship state
    contacts: dict[int, int]  # organisation id → a person it employs
    products: list[Product]
    last_orders: dict[int, int]  # party id → its latest booked order


def _world(users: list[User]) -> World:
    admin = next(u for u in users if u.role == Role.ADMIN)
    sellers = [u for u in users if u.role in (Role.SALES, Role.MANAGER)]
    organisations = list(
        Party.objects.filter(kind=PartyKind.ORGANISATION)
        .order_by("pk")
        .values_list("pk", "owner_id", "relationship_state")
    )
    contacts: dict[int, int] = {}
    employed = PartyLink.objects.filter(kind=LinkKind.EMPLOYS).order_by("pk")
    for company, person in employed.values_list("from_party_id", "to_party_id"):
        contacts.setdefault(company, person)
    booked = Order.objects.filter(status__in=BOOKED, kind="order").values("party_id")
    last = {row["party_id"]: row["last"] for row in booked.annotate(last=Max("pk"))}
    products = list(Product.objects.filter(is_active=True).order_by("code"))
    return World(current_tenant_id(), admin, sellers, organisations, contacts, products, last)


def write_pipeline(
    users: list[User], now: datetime.datetime, rng: Random, *, opportunities: int, leads: int
) -> Counter[str]:
    """The pipelines, settings and lost reasons, then the deals and the leads; returns the
    rows written by model."""
    world = _world(users)
    pipelines = [
        deals.pipeline_create(actor=world.admin, name=name, stages=stages, is_default=i == 0)
        for i, (name, stages) in enumerate(PIPELINES.items())
    ]
    reasons = [deals.lost_reason_create(actor=world.admin, name=n) for n in LOST_REASONS]
    team = Team.objects.order_by("pk").first()
    deals.settings_update(actor=world.admin, stale_days=14, default_team=team)
    made = _Deals(world, now, rng, reasons).write(pipelines, opportunities)
    stage_totals_rebuild()  # the deals were bulk-created, around the services
    stage_stays_rebuild()  # and their moves
    drawn = _leads(world, now, rng, leads, made)
    created = [lead.created_at for lead in drawn]
    backdate(Lead.objects.bulk_create(drawn), created)
    counted = (
        Pipeline,
        Stage,
        LostReason,
        Opportunity,
        OpportunityLine,
        StageMove,
        StageTotal,
        StageStays,
        Lead,
    )
    return Counter({m._meta.label: m.objects.count() for m in counted})


def backdate(rows: Sequence[M], created: Sequence[datetime.datetime]) -> None:
    """Give bulk-created rows the creation times drawn for them (bulk_create stamps now
    on auto_now_add fields; bulk_update leaves them as given)."""
    for row, moment in zip(rows, created, strict=True):
        row.created_at = row.updated_at = moment
    if rows:
        type(rows[0]).objects.bulk_update(rows, ["created_at", "updated_at"], batch_size=500)


class _Deals:
    def __init__(
        self, world: World, now: datetime.datetime, rng: Random, reasons: list[LostReason]
    ) -> None:
        self.world, self.now, self.rng, self.reasons = world, now, rng, reasons
        # Per deal: (from, to, when, when it entered `from`) for each of its moves.
        self.moves: list[tuple[int, list[Move]]] = []
        self.lines: list[tuple[int, list[OpportunityLine]]] = []

    def write(self, pipelines: list[Pipeline], n: int) -> list[Opportunity]:
        if not self.world.organisations or not self.world.sellers:
            return []
        stages = {
            p.pk: list(Stage.objects.filter(pipeline=p).order_by("position")) for p in pipelines
        }
        drawn = [self._deal(i, pipelines, stages) for i in range(n)]
        created = [deal.created_at for deal in drawn]
        made = Opportunity.objects.bulk_create(drawn)
        backdate(made, created)
        StageMove.objects.bulk_create(
            StageMove(
                tenant_id=self.world.tenant_id,
                opportunity=made[i],
                from_stage=a,
                to_stage=b,
                moved_by_id=made[i].owner_id,
                moved_at=t,
                stayed_seconds=None if before is None else (t - before).total_seconds(),
            )
            for i, path in self.moves
            for a, b, t, before in path
        )
        for i, lines in self.lines:
            for line in lines:
                line.opportunity = made[i]
        OpportunityLine.objects.bulk_create(line for _i, lines in self.lines for line in lines)
        return made

    def _deal(
        self, i: int, pipelines: list[Pipeline], stages: dict[int, list[Stage]]
    ) -> Opportunity:
        rng, world = self.rng, self.world
        party_id, owner_id, state = rng.choice(world.organisations)
        customer = state in (RelationshipState.CURRENT, RelationshipState.WON_BACK)
        pipeline = pipelines[1] if customer and rng.random() < 0.6 else pipelines[0]
        ladder = stages[pipeline.pk]
        open_stages = [s for s in ladder if s.is_open]
        outcome = OUTCOMES.pick(rng)
        reached = rng.randint(1, len(open_stages))
        path = open_stages[:reached]
        if outcome == StageKind.WON:
            path = [*open_stages, next(s for s in ladder if s.kind == StageKind.WON)]
        elif outcome == StageKind.LOST:
            path = [*path, next(s for s in ladder if s.kind == StageKind.LOST)]
        created = self.now - DAY * rng.randint(3, 365)
        times = sorted(created + (self.now - created) * rng.random() for _ in path[1:])
        moments = [created, *times]
        final = path[-1]
        deal = Opportunity(
            tenant_id=world.tenant_id,
            name=f"{rng.choice(data.PRODUCTS)}采购",
            party_id=party_id,
            contact_id=world.contacts.get(party_id),
            pipeline=pipeline,
            stage=final,
            owner_id=owner_id,
            source_channel=CHANNELS.pick(rng),
            campaign=rng.choice(CAMPAIGNS),
            stage_changed_at=moments[-1],
            created_by_id=owner_id,
        )
        deal.created_at = created
        self._fill(deal, i, path, moments)
        entered: list[datetime.datetime | None] = [None, *moments[:-1]]
        self.moves.append((i, list(zip([None, *path[:-1]], path, moments, entered, strict=True))))
        return deal

    def _fill(
        self, deal: Opportunity, i: int, path: list[Stage], moments: list[datetime.datetime]
    ) -> None:
        rng = self.rng
        needs = {f for stage in path for f in stage.required_fields}
        lines = self._lines(i) if self.world.products and rng.random() < 0.7 else []
        if lines or StageField.AMOUNT in needs or rng.random() < 0.5:
            amount = sum((line.amount for line in lines), Decimal(0))
            deal.amount = amount or Decimal(rng.randint(5, 500) * 1000)
        if StageField.EXPECTED_CLOSE in needs or rng.random() < 0.5:
            deal.expected_close_date = (self.now + DAY * rng.randint(-20, 150)).date()
        if StageField.NEXT_STEP in needs or rng.random() < 0.5:
            deal.next_step = rng.choice(NEXT_STEPS)
        final = path[-1]
        if not final.is_open:
            deal.closed_on = moments[-1].date()
            deal.cycle_days = cycle_days_of(deal.created_at, deal.closed_on)
            deal.expected_close_date = deal.expected_close_date or deal.closed_on
        if final.kind == StageKind.LOST:
            deal.lost_reason = rng.choice(self.reasons)
        if final.kind == StageKind.WON:
            deal.order_id = self.world.last_orders.get(deal.party_id)

    def _lines(self, i: int) -> list[OpportunityLine]:
        rng = self.rng
        picked = rng.sample(self.world.products, min(len(self.world.products), rng.randint(1, 3)))
        lines = []
        for position, product in enumerate(picked, start=1):
            quantity = Decimal(rng.choice((1, 2, 5, 10, 20, 50)))
            amount = (quantity * product.unit_price).quantize(Decimal("0.01"))
            lines.append(
                OpportunityLine(
                    tenant_id=self.world.tenant_id,
                    position=position,
                    product=product,
                    quantity=quantity,
                    unit_price=product.unit_price,
                    amount=amount,
                )
            )
        self.lines.append((i, lines))
        return lines


def _person_name(rng: Random) -> str:
    given = GIVEN_MALE if rng.random() < 0.55 else GIVEN_FEMALE
    return SURNAMES.pick(rng) + given.pick(rng)


def _leads(
    world: World, now: datetime.datetime, rng: Random, n: int, made: list[Opportunity]
) -> list[Lead]:
    """Leads in every status; a converted one points at a deal of the party it became."""
    out = []
    converted = iter(made)
    for i in range(n):
        status = LEAD_STATUSES.pick(rng)
        place = PLACES.pick(rng)
        owner = rng.choice(world.sellers) if world.sellers and status != LeadStatus.NEW else None
        channel = CHANNELS.pick(rng)
        lead = Lead(
            tenant_id=world.tenant_id,
            name=_person_name(rng),
            company=f"{place.city.name[:2]}{''.join(rng.sample(data.BRAND_CHARS, 2))}"
            f"{rng.choice(('科技', '贸易', '制造', '咨询'))}{LEGAL_FORMS.pick(rng)}",
            mobile=f"+86{rng.choice(MOBILE_PREFIXES)}{rng.randint(10**7, 10**8 - 1)}",
            region=place.province,
            source_channel=channel,
            campaign=rng.choice(CAMPAIGNS),
            product_interest=rng.choice(world.products) if world.products else None,
            status=status,
            owner=owner,
            created_via=LeadVia.FORM if channel == SourceChannel.WEB_FORM else LeadVia.MANUAL,
        )
        lead.created_at = now - DAY * rng.randint(0, 180) - datetime.timedelta(minutes=i)
        if status == LeadStatus.DISQUALIFIED:
            lead.disqualify_reason = rng.choice(DISQUALIFY)
        deal = next(converted, None) if status == LeadStatus.CONVERTED else None
        if status == LeadStatus.CONVERTED and deal is None:
            lead.status = LeadStatus.QUALIFIED  # no deal left to have become
        if deal is not None:
            lead.converted_party_id = deal.party_id
            lead.converted_contact_id = deal.contact_id
            lead.converted_opportunity = deal
            lead.converted_at = deal.created_at
            lead.owner_id = deal.owner_id
        out.append(lead)
    return out

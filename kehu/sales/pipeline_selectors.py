"""Reads of pipelines, opportunities and leads, scoped to what a user may see.

Who sees what (docs/decisions/0005-pipeline.md): an opportunity is visible to a user who
may see its party, and to its owner (and, with team visibility, to the owner's
teammates) even when the party is someone else's. A lead is its owner's; with team
visibility also its team's and the teammates'; with all visibility everyone's.
"""

import datetime
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from django.core.exceptions import PermissionDenied
from django.db.models import Count, OuterRef, Q, QuerySet, Subquery, Sum
from django.db.models.functions import Coalesce, Greatest
from django.http import Http404
from django.utils import timezone

from kehu.activities.models import InteractionParty, Task
from kehu.parties.search import matching_party_ids
from kehu.parties.selectors import parties_visible_to
from kehu.sales.models import (
    Currency,
    Lead,
    LostReason,
    Opportunity,
    Pipeline,
    PipelineSettings,
    Stage,
    StageKind,
    WebForm,
)
from kehu.sales.pipeline_services import weighted
from kehu.tenancy.models import TeamMembership, User, Visibility

# A board column shows this many cards; the list shows the rest.
COLUMN_CAP = 50


def _people(user: User) -> list[int]:
    """The user, and with team visibility everyone who shares a team with them."""
    if user.effective_visibility != Visibility.TEAM:
        return [user.pk]
    mine = TeamMembership.objects.filter(user=user).values("team_id")
    mates = TeamMembership.objects.filter(team_id__in=mine).values_list("user_id", flat=True)
    return sorted(set(mates) | {user.pk})


def pipeline_settings() -> PipelineSettings:
    """The firm's settings (the defaults when it has never changed them)."""
    return PipelineSettings.objects.select_related("default_team").first() or PipelineSettings()


def pipelines() -> QuerySet[Pipeline]:
    return Pipeline.objects.order_by("-is_default", "name")


def get_pipeline(pk: int) -> Pipeline:
    pipeline = Pipeline.objects.filter(pk=pk).first()
    if pipeline is None:
        raise Http404
    return pipeline


def stages_of(pipeline: Pipeline) -> QuerySet[Stage]:
    return Stage.objects.filter(pipeline=pipeline).order_by("position")


def get_stage(pk: int) -> Stage:
    stage = Stage.objects.filter(pk=pk).select_related("pipeline").first()
    if stage is None:
        raise Http404
    return stage


def lost_reasons() -> QuerySet[LostReason]:
    return LostReason.objects.filter(is_active=True).order_by("position", "name")


# --- opportunities ---------------------------------------------------------------------


def opportunities_visible_to(user: User) -> QuerySet[Opportunity]:
    deals = Opportunity.objects.filter(party__deleted_at__isnull=True)
    if user.effective_visibility == Visibility.ALL:
        return deals
    seen = parties_visible_to(user).values("pk")
    return deals.filter(Q(owner_id__in=_people(user)) | Q(party_id__in=seen))


def with_last_activity(deals: QuerySet[Opportunity]) -> QuerySet[Opportunity]:
    """`last_activity`: the latest of the stage change, an interaction with the party and
    a task about the party."""
    party = OuterRef("party_id")
    talked = InteractionParty.objects.filter(party_id=party).order_by("-occurred_at")
    tasked = Task.objects.filter(party_id=party).order_by("-created_at")
    return deals.annotate(
        last_activity=Greatest(
            "stage_changed_at",
            Coalesce(Subquery(talked.values("occurred_at")[:1]), "stage_changed_at"),
            Coalesce(Subquery(tasked.values("created_at")[:1]), "stage_changed_at"),
        )
    )


def stale_cutoff(now: datetime.datetime | None = None) -> datetime.datetime:
    return (now or timezone.now()) - datetime.timedelta(days=pipeline_settings().stale_days)


def is_stale(deal: Opportunity, cutoff: datetime.datetime) -> bool:
    """An open deal with nothing done on it or its party since `cutoff`."""
    last: datetime.datetime = getattr(deal, "last_activity", deal.stage_changed_at)
    return deal.stage.is_open and last < cutoff


def get_opportunity_for_user(user: User, pk: int, *, write: bool = False) -> Opportunity:
    """The deal if `user` may see it (else 404) and, for `write`, change it (else 403)."""
    deal = (
        opportunities_visible_to(user)
        .filter(pk=pk)
        .select_related("party", "contact", "owner", "pipeline", "stage", "lost_reason", "order")
        .first()
    )
    if deal is None:
        raise Http404
    if write and not user.can_write:
        raise PermissionDenied
    return deal


@dataclass(frozen=True)
class OpportunityFilters:
    q: str = ""  # the party: name, pinyin, initials, phone
    pipeline_id: int | None = None
    stage_id: int | None = None
    status: str = ""  # a StageKind: open, won, lost
    owner_id: int | None = None
    team_id: int | None = None
    party_id: int | None = None
    stale: bool = False
    close_from: datetime.date | None = None
    close_to: datetime.date | None = None


def _matching(user: User, filters: OpportunityFilters) -> QuerySet[Opportunity]:
    """The visible deals the filters ask for, but for `stale` (which needs last_activity)."""
    deals = opportunities_visible_to(user)
    if filters.q.strip():
        deals = deals.filter(party_id__in=list(matching_party_ids(filters.q)))
    exact = {
        "pipeline_id": filters.pipeline_id,
        "stage_id": filters.stage_id,
        "stage__kind": filters.status,
        "owner_id": filters.owner_id,
        "party_id": filters.party_id,
        "expected_close_date__gte": filters.close_from,
        "expected_close_date__lte": filters.close_to,
    }
    deals = deals.filter(**{k: v for k, v in exact.items() if v})
    if filters.team_id:
        members = TeamMembership.objects.filter(team_id=filters.team_id).values("user_id")
        deals = deals.filter(owner_id__in=members)
    return deals


def opportunity_list(user: User, filters: OpportunityFilters) -> QuerySet[Opportunity]:
    """The deals a list shows, newest first, each with its `last_activity`."""
    deals = with_last_activity(_matching(user, filters))
    if filters.stale:
        stale = {"stage__kind": StageKind.OPEN, "last_activity__lt": stale_cutoff()}
        deals = deals.filter(**stale)  # an annotation django-stubs cannot follow
    return deals.select_related("party", "owner", "stage", "pipeline").order_by("-id")


PARTY_CLOSED_SHOWN = 10


@dataclass(frozen=True)
class PartyDeals:
    open: list[Opportunity]
    closed: list[Opportunity]  # the latest PARTY_CLOSED_SHOWN
    closed_count: int


def party_opportunities(user: User, party_id: int) -> PartyDeals:
    """The party's open deals (each with `is_stale`), soonest expected close first, and
    its latest closed ones, for its page: one query (a party has tens of deals, not
    thousands), and the stale period when some are open."""
    deals = (
        with_last_activity(opportunities_visible_to(user).filter(party_id=party_id))
        .select_related("owner", "stage", "pipeline", "order")
        .order_by("-id")
    )
    found = list(deals)
    open_deals = [d for d in found if d.stage.is_open]
    open_deals.sort(key=lambda d: (d.expected_close_date or datetime.date.max, -d.pk))
    if open_deals:
        cutoff = stale_cutoff()
        for deal in open_deals:
            deal.is_stale = is_stale(deal, cutoff)  # type: ignore[attr-defined]
    closed = [d for d in found if not d.stage.is_open]
    closed.sort(key=lambda d: (d.closed_on or datetime.date.min, d.pk), reverse=True)
    return PartyDeals(open_deals, closed[:PARTY_CLOSED_SHOWN], len(closed))


@dataclass
class Column:
    stage: Stage
    cards: list[Opportunity] = field(default_factory=list)
    count: int = 0
    amount: Decimal = Decimal("0.00")
    more: bool = False  # deals beyond `cards` (the board's "load more" fetches them)


def column_cards(
    deals: QuerySet[Opportunity], stage_id: int, before: int | None = None
) -> tuple[list[Opportunity], bool]:
    """The latest COLUMN_CAP deals of a stage (older than deal `before`), newest first,
    and whether there are more: one query on the (tenant, stage, id) index, so a column
    costs the same with fifty deals or fifty thousand."""
    cards = deals.filter(stage_id=stage_id)
    if before is not None:
        cards = cards.filter(pk__lt=before)
    page = list(cards[: COLUMN_CAP + 1])
    return page[:COLUMN_CAP], len(page) > COLUMN_CAP


def board_deals(
    user: User, pipeline: Pipeline, filters: OpportunityFilters
) -> QuerySet[Opportunity]:
    return opportunity_list(user, filters).filter(pipeline=pipeline)


def board(user: User, pipeline: Pipeline, filters: OpportunityFilters) -> list[Column]:
    """The open stages of a pipeline with their latest COLUMN_CAP deals, the number of
    deals and their total amount (counted and summed by the database, not by loading
    the deals): stages, totals, then one query of cards per open stage."""
    columns = {s.pk: Column(s) for s in stages_of(pipeline).filter(kind=StageKind.OPEN)}
    deals = board_deals(user, pipeline, filters)
    # Counted without each deal's last activity (three subqueries a row) unless the
    # stale filter needs it.
    counted = deals if filters.stale else _matching(user, filters).filter(pipeline=pipeline)
    totals = (
        counted.filter(stage_id__in=columns)
        .order_by()
        .values("stage_id")
        .annotate(n=Count("pk"), amount=Sum("amount"))
    )
    for row in totals:
        column = columns[row["stage_id"]]
        column.count = row["n"]
        column.amount = Decimal(row["amount"] or 0).quantize(Decimal("0.01"))
    for column in columns.values():
        if column.count:
            column.cards, column.more = column_cards(deals, column.stage.pk)
    return list(columns.values())


# --- the forecast ---------------------------------------------------------------------


@dataclass(frozen=True)
class ForecastRow:
    month: datetime.date
    key: str  # the owner's or team's name; "" for the month's total
    amount: Decimal
    weighted: Decimal
    deals: int


def _add(
    rows: dict[tuple[datetime.date, str], list[Decimal]],
    key: tuple[datetime.date, str],
    amount: Decimal,
    weight: Decimal,
) -> None:
    row = rows.setdefault(key, [Decimal(0), Decimal(0), Decimal(0)])
    row[0] += amount
    row[1] += weight
    row[2] += 1


def forecast(user: User, by: str, currency: str = Currency.CNY) -> list[ForecastRow]:
    """The weighted amount (amount × stage probability) of the open deals `user` sees,
    by expected close month and by owner, team or nothing (`by`: owner, team, month).
    A rep in two teams counts in both teams' rows."""
    deals = opportunities_visible_to(user).filter(
        stage__kind=StageKind.OPEN, expected_close_date__isnull=False, currency=currency
    )
    values = deals.values_list(
        "expected_close_date",
        "owner_id",
        "owner__display_name",
        "owner__username",
        "amount",
        "stage__probability",
    )
    teams: dict[int, list[str]] = defaultdict(list)
    if by == "team":
        for uid, name in TeamMembership.objects.values_list("user_id", "team__name"):
            teams[uid].append(name)
    rows: dict[tuple[datetime.date, str], list[Decimal]] = {}
    for day, owner_id, display, username, amount, probability in values:
        assert day is not None  # filtered above
        month = day.replace(day=1)
        amount = amount or Decimal(0)
        weight = weighted(amount, probability)
        keys = {"owner": [display or username], "team": teams[owner_id] or [""]}.get(by, [""])
        for key in keys:
            _add(rows, (month, key), amount, weight)
    return [
        ForecastRow(month, key, v[0], v[1], int(v[2])) for (month, key), v in sorted(rows.items())
    ]


# --- leads -----------------------------------------------------------------------------


def leads_visible_to(user: User) -> QuerySet[Lead]:
    leads = Lead.objects.all()
    visibility = user.effective_visibility
    if visibility == Visibility.ALL:
        return leads
    if visibility == Visibility.TEAM:
        my_teams = TeamMembership.objects.filter(user=user).values("team_id")
        return leads.filter(Q(owner_id__in=_people(user)) | Q(team_id__in=my_teams))
    return leads.filter(owner=user)


def get_lead_for_user(user: User, pk: int, *, write: bool = False) -> Lead:
    lead = (
        leads_visible_to(user)
        .filter(pk=pk)
        .select_related("owner", "team", "product_interest", "converted_party")
        .first()
    )
    if lead is None:
        raise Http404
    if write and not user.can_write:
        raise PermissionDenied
    return lead


@dataclass(frozen=True)
class LeadFilters:
    q: str = ""  # name, company, mobile or email
    status: str = ""
    source_channel: str = ""
    owner_id: int | None = None
    team_id: int | None = None


def lead_list(user: User, filters: LeadFilters) -> QuerySet[Lead]:
    leads = leads_visible_to(user)
    q = filters.q.strip()
    if q:
        leads = leads.filter(
            Q(name__icontains=q)
            | Q(company__icontains=q)
            | Q(mobile__contains=q)
            | Q(email__icontains=q)
        )
    exact = {
        "status": filters.status,
        "source_channel": filters.source_channel,
        "owner_id": filters.owner_id,
        "team_id": filters.team_id,
    }
    leads = leads.filter(**{k: v for k, v in exact.items() if v})
    return leads.select_related("owner", "team").order_by("-id")


def web_forms() -> QuerySet[WebForm]:
    return WebForm.objects.order_by("-id")

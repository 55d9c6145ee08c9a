"""Reads of pipelines, opportunities and leads, scoped to what a user may see.

Who sees what (docs/decisions/0005-pipeline.md): an opportunity is visible to a user who
may see its party, and to its owner (and, with team visibility, to the owner's
teammates) even when the party is someone else's. A lead is its owner's; with team
visibility also its team's and the teammates'; with all visibility everyone's.
"""

import datetime
from collections import defaultdict
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db.models import Count, F, OuterRef, Q, QuerySet, Subquery, Sum
from django.db.models.functions import Coalesce, Greatest
from django.http import Http404
from django.utils import timezone

from kehu.activities.models import InteractionParty, Task
from kehu.parties.models import Party
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
    StageTotal,
    WebForm,
)
from kehu.sales.pipeline_services import weighted
from kehu.tenancy.models import TeamMembership, User, Visibility

# A board column shows this many cards, and "load more" this many more; the list shows
# the rest. Rendering is most of a board's time: 50 a column took the admin's board of a
# 59,000-deal pipeline from 58 to 161 ms (docs/benchmarks.md).
COLUMN_CAP = 20
CENT = Decimal("0.01")
# What a board card shows (sales/_deal_card.html): not the wide rows of the deal, its
# party and its owner.
CARD_RELATED = ("party", "owner", "stage")
CARD_FIELDS = (
    *("name", "amount", "currency", "expected_close_date", "stage_changed_at"),
    *("party__name", "owner__display_name", "owner__username"),
    *("stage__name", "stage__kind", "stage__pipeline_id", "stage__position"),
)


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


def deleted_parties() -> QuerySet[Party]:
    """The tenant's deleted parties (on their partial index): deals of them are hidden,
    left out by `NOT IN` this set rather than by a join to every deal's party."""
    return Party.with_deleted.filter(deleted_at__isnull=False)


def opportunities_visible_to(user: User) -> QuerySet[Opportunity]:
    deals = Opportunity.objects.exclude(party_id__in=deleted_parties().values("pk"))
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
        "owner_id": filters.owner_id,
        "party_id": filters.party_id,
        "expected_close_date__gte": filters.close_from,
        "expected_close_date__lte": filters.close_to,
    }
    deals = deals.filter(**{k: v for k, v in exact.items() if v})
    if filters.status:  # the stages of that kind (a handful), not a join to each deal's
        deals = deals.filter(stage_id__in=Stage.objects.filter(kind=filters.status).values("pk"))
    if filters.team_id:
        members = TeamMembership.objects.filter(team_id=filters.team_id).values("user_id")
        deals = deals.filter(owner_id__in=members)
    return deals


def stale_only(deals: QuerySet[Opportunity], cutoff: datetime.datetime) -> QuerySet[Opportunity]:
    """The open deals whose `last_activity` (see `with_last_activity`) is before `cutoff`,
    said without it: the stage unchanged since, and the party neither talked to nor
    given a task since. Two sets of parties, each found once on its time index, instead
    of two subqueries a deal."""
    opened = Stage.objects.filter(kind=StageKind.OPEN).values("pk")
    return _idle_since(deals.filter(stage_id__in=opened), cutoff)


def _idle_since(deals: QuerySet[Opportunity], cutoff: datetime.datetime) -> QuerySet[Opportunity]:
    """`stale_only` but for the stage's kind, which the caller says."""
    talked = InteractionParty.objects.filter(occurred_at__gte=cutoff).values("party_id")
    tasked = Task.objects.filter(created_at__gte=cutoff, party_id__isnull=False)
    return (
        deals.filter(stage_changed_at__lt=cutoff)
        .exclude(party_id__in=talked)
        .exclude(party_id__in=tasked.values("party_id"))
    )


def _listed(user: User, filters: OpportunityFilters) -> QuerySet[Opportunity]:
    """The deals the filters ask for, stale ones included, without `last_activity`."""
    deals = _matching(user, filters)
    return stale_only(deals, stale_cutoff()) if filters.stale else deals


def opportunity_list(user: User, filters: OpportunityFilters) -> QuerySet[Opportunity]:
    """The deals a list shows, newest first, each with its `last_activity`."""
    deals = with_last_activity(_listed(user, filters))
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
    cards = deals.filter(stage_id=stage_id).select_related(None).select_related(*CARD_RELATED)
    cards = cards.only(*CARD_FIELDS)
    if before is not None:
        cards = cards.filter(pk__lt=before)
    page = list(cards[: COLUMN_CAP + 1])
    return page[:COLUMN_CAP], len(page) > COLUMN_CAP


def board_deals(
    user: User, pipeline: Pipeline, filters: OpportunityFilters
) -> QuerySet[Opportunity]:
    return opportunity_list(user, filters).filter(pipeline=pipeline)


Totals = dict[int, tuple[int, Decimal]]  # stage → (deals, amount)


def _add_totals(into: dict[int, list[Any]], deals: QuerySet[Opportunity], sign: int) -> None:
    """Count and sum `deals` by stage (by the database) into `into`. `COUNT(*)`, not of
    the id: PostgreSQL's board index holds no id, and with one it read the table's rows
    (a stale board's totals 97 → 27 ms)."""
    rows = deals.order_by().values("stage_id").annotate(n=Count("*"), amount=Sum("amount"))
    for row in rows.values_list("stage_id", "n", "amount"):
        into[row[0]][0] += sign * row[1]
        into[row[0]][1] += sign * Decimal(row[2] or 0).quantize(CENT)


def live_board_totals(user: User, pipeline: Pipeline, filters: OpportunityFilters) -> Totals:
    """Each open stage's deals and amount for `user` and `filters`, counted from the deals."""
    stage_ids = list(stages_of(pipeline).filter(kind=StageKind.OPEN).values_list("pk", flat=True))
    found: dict[int, list[Any]] = {s: [0, Decimal(0)] for s in stage_ids}
    # The open stages by id, and not "open" again as a subquery of stages: each such
    # condition made PostgreSQL expect fewer deals, and plan for them.
    plain = replace(filters, stale=False)
    if plain.status == StageKind.OPEN:
        plain = replace(plain, status="")
    deals = _matching(user, plain).filter(pipeline=pipeline, stage_id__in=stage_ids)
    _add_totals(found, _idle_since(deals, stale_cutoff()) if filters.stale else deals, 1)
    return {s: (n, amount) for s, (n, amount) in found.items()}


def _asked_owners(filters: OpportunityFilters) -> set[int] | None:
    """The owners the owner and team filters leave (None: no such filter)."""
    owners = {filters.owner_id} if filters.owner_id else None
    if filters.team_id:
        team = TeamMembership.objects.filter(team_id=filters.team_id)
        members = set(team.values_list("user_id", flat=True))
        owners = members if owners is None else owners & members
    return owners


def _kept_applies(pipeline: Pipeline, filters: OpportunityFilters) -> bool:
    """Whether the kept totals answer these filters (by owner or team, or none; the
    board's columns are the open stages, so "open" asks nothing more)."""
    kept = OpportunityFilters(owner_id=filters.owner_id, team_id=filters.team_id)
    if filters.pipeline_id not in (None, pipeline.pk) or filters.status not in ("", StageKind.OPEN):
        return False
    return replace(filters, pipeline_id=None, status="") == kept


def kept_board_totals(
    user: User, pipeline: Pipeline, filters: OpportunityFilters, stage_ids: list[int]
) -> Totals:
    """What `live_board_totals` counts, from `StageTotal` (docs/decisions/0014-stage-totals.md):
    the kept rows of the owners whose deals `user` sees, less their deals of deleted
    parties (few), plus, for own or team visibility, the others' deals on parties the
    user may see (those of the parties they own, serve or find in the pool)."""
    asked = _asked_owners(filters)
    mine = None if user.effective_visibility == Visibility.ALL else set(_people(user))
    counted = mine if asked is None else (asked if mine is None else asked & mine)
    kept = StageTotal.objects.filter(stage_id__in=stage_ids)
    deals = Opportunity.objects.filter(pipeline=pipeline, stage_id__in=stage_ids)
    gone = deals.filter(party_id__in=deleted_parties().values("pk"))
    if counted is not None:
        kept = kept.filter(owner_id__in=counted)
        gone = gone.filter(owner_id__in=counted)
    found: dict[int, list[Any]] = {s: [0, Decimal(0)] for s in stage_ids}
    sums = kept.order_by().values("stage_id").annotate(n=Sum("deals"), c=Sum("amount_cents"))
    for stage_id, n, c in sums.values_list("stage_id", "n", "c"):
        found[stage_id][0] += n or 0
        found[stage_id][1] += Decimal(c or 0) / 100
    _add_totals(found, gone, -1)
    if mine is not None:
        seen = parties_visible_to(user).values("pk")
        # `party_id + 0`: not the party index (a probe per visible party, thousands of
        # table rows) but the board index, read alone, each deal's party looked up in
        # the set of visible ones: 115 → 12 ms for a rep of 60,000 deals (SQLite).
        theirs = deals.alias(seen_party=F("party_id") + 0).filter(seen_party__in=seen)
        theirs = theirs.exclude(owner_id__in=mine)
        _add_totals(found, theirs if asked is None else theirs.filter(owner_id__in=asked), 1)
    return {s: (n, amount.quantize(CENT)) for s, (n, amount) in found.items()}


def board(user: User, pipeline: Pipeline, filters: OpportunityFilters) -> list[Column]:
    """The open stages of a pipeline with their latest COLUMN_CAP deals, the number of
    deals and their total amount: stages, totals (kept ones where the filters allow,
    else counted and summed by the database), then one query of cards per open stage."""
    columns = {s.pk: Column(s) for s in stages_of(pipeline).filter(kind=StageKind.OPEN)}
    if _kept_applies(pipeline, filters):
        totals = kept_board_totals(user, pipeline, filters, list(columns))
    else:
        totals = live_board_totals(user, pipeline, filters)
    deals = board_deals(user, pipeline, filters)
    for column in columns.values():
        column.count, column.amount = totals[column.stage.pk]
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

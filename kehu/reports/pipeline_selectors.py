"""The pipeline reports' figures: the open deals by stage, win rate, lost reasons, sales
cycle length and time in stage.

Deals are scoped like the other reports (the package docstring): admins, managers and
analysts read the firm's, everyone else the deals their visibility shows them
(`opportunities_visible_to`). The rep and team filters are the deal's owner's. A closed
deal counts in the period of its close date (`closed_on`), an open one as it stands
today. Amounts are CNY; deals in other currencies count in the numbers of deals but not
in the amounts (each row says how many there are).

Win rate and cycle length read the closed deals of the range in one query and group them
here: a firm closes thousands of deals a year, not millions, and medians need the values.
"""

import datetime
import statistics
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Generic, TypeVar

from django.db.models import Count, Q, QuerySet, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from kehu.reports.periods import period_label, period_start, period_starts
from kehu.reports.selectors import REPORT_CURRENCY, ReportFilters, sees_firm, share
from kehu.sales.models import Opportunity, Pipeline, Stage, StageKind, StageMove
from kehu.sales.pipeline_selectors import opportunities_visible_to
from kehu.sales.pipeline_services import weighted
from kehu.tenancy.models import TeamMembership, User

ZERO = Decimal("0.00")
T = TypeVar("T")
DAY_SECONDS = 86400


def deals_in_scope(user: User, filters: ReportFilters) -> QuerySet[Opportunity]:
    """The deals `user` may report on, by the rep, team and pipeline filters."""
    if sees_firm(user):
        deals = Opportunity.objects.filter(party__deleted_at__isnull=True)
    else:
        deals = opportunities_visible_to(user)
    if filters.owner_id:
        deals = deals.filter(owner_id=filters.owner_id)
    if filters.team_id:
        deals = deals.filter(owner__team_memberships__team_id=filters.team_id)
    if filters.pipeline_id:
        deals = deals.filter(pipeline_id=filters.pipeline_id)
    return deals


def closed_in_range(user: User, filters: ReportFilters) -> QuerySet[Opportunity]:
    return deals_in_scope(user, filters).filter(
        stage__kind__in=[StageKind.WON, StageKind.LOST],
        closed_on__gte=filters.since,
        closed_on__lte=filters.until,
    )


def report_pipeline(filters: ReportFilters) -> Pipeline | None:
    """The pipeline a by-stage report shows: the chosen one, else the default one."""
    pipelines = Pipeline.objects.order_by("-is_default", "name")
    if filters.pipeline_id:
        return pipelines.filter(pk=filters.pipeline_id).first()
    return pipelines.first()


def days(value: float | None) -> Decimal | None:
    return None if value is None else Decimal(str(value)).quantize(Decimal("0.1"))


def _money(value: Any) -> Decimal:
    return Decimal(str(value or 0)).quantize(Decimal("0.01"))


# --- pipeline by stage -----------------------------------------------------------------


@dataclass
class StageRow:
    stage: Stage
    deals: int = 0
    amount: Decimal = ZERO
    weighted: Decimal = ZERO
    other_currency: int = 0  # deals in another currency: counted, not summed


@dataclass
class StageReport:
    pipeline: Pipeline | None
    rows: list[StageRow]

    @property
    def open_rows(self) -> list[StageRow]:
        return [r for r in self.rows if r.stage.is_open]

    def total(self) -> StageRow:
        """The open deals together (the won and lost rows are the range's, apart)."""
        whole = StageRow(Stage(name=_("进行中合计")))
        for row in self.open_rows:
            whole.deals += row.deals
            whole.amount += row.amount
            whole.weighted += row.weighted
            whole.other_currency += row.other_currency
        return whole


def pipeline_by_stage(user: User, filters: ReportFilters) -> StageReport:
    """Each stage of the pipeline in order: its open deals today (number, amount, amount
    × the stage's probability); the won and lost stages: the deals closed in the range.
    Three queries: the pipeline, its stages, the deals grouped by stage and currency."""
    pipeline = report_pipeline(filters)
    if pipeline is None:
        return StageReport(None, [])
    rows = {s.pk: StageRow(s) for s in Stage.objects.filter(pipeline=pipeline).order_by("position")}
    scoped = deals_in_scope(user, filters).filter(pipeline=pipeline)
    deals = scoped.filter(
        Q(stage__kind=StageKind.OPEN)
        | Q(closed_on__gte=filters.since, closed_on__lte=filters.until)
    )
    grouped = deals.values("stage_id", "currency").annotate(n=Count("pk"), amount=Sum("amount"))
    for found in grouped.order_by():
        row = rows[found["stage_id"]]
        row.deals += found["n"]
        if found["currency"] != REPORT_CURRENCY:
            row.other_currency += found["n"]
            continue
        row.amount = _money(found["amount"])
        row.weighted = weighted(row.amount, row.stage.probability)
    return StageReport(pipeline, list(rows.values()))


# --- closed deals: win rate, lost reasons, cycle length ---------------------------------


@dataclass(frozen=True)
class ClosedDeal:
    won: bool
    amount: Decimal | None  # CNY only; None for another currency or no amount
    closed_on: datetime.date
    cycle_days: int  # from the day the deal was created to the day it closed
    owner_id: int
    owner: str
    pipeline_id: int
    pipeline: str
    lost_reason_id: int | None
    lost_reason: str


def closed_deals(user: User, filters: ReportFilters) -> list[ClosedDeal]:
    """The won and lost deals closed in the range: one query."""
    found = closed_in_range(user, filters).values_list(
        "stage__kind",
        "amount",
        "currency",
        "created_at",
        "closed_on",
        "owner_id",
        "owner__display_name",
        "owner__username",
        "pipeline_id",
        "pipeline__name",
        "lost_reason_id",
        "lost_reason__name",
    )
    deals = []
    for row in found:
        kind, amount, currency, created, closed, owner_id, name, username = row[:8]
        pipeline_id, pipeline_name, reason_id, reason = row[8:]
        assert closed is not None  # filtered on
        cny = amount is not None and currency == REPORT_CURRENCY
        deals.append(
            ClosedDeal(
                kind == StageKind.WON,
                _money(amount) if cny else None,
                closed,
                max((closed - timezone.localdate(created)).days, 0),
                owner_id,
                name or username,
                pipeline_id,
                pipeline_name,
                reason_id,
                reason or "",
            )
        )
    return deals


# A group of closed deals: its key (a period start, a rep, team or pipeline id) and label.
Group = tuple[str | int | None, str]


def _teams(deals: Sequence[ClosedDeal]) -> dict[int, list[Group]]:
    owners = {d.owner_id for d in deals}
    teams: dict[int, list[Group]] = defaultdict(list)
    memberships = TeamMembership.objects.filter(user_id__in=owners).values_list(
        "user_id", "team_id", "team__name"
    )
    for user_id, team_id, name in memberships.order_by("team__name"):
        teams[user_id].append((team_id, name))
    return teams


class By:
    """What a win-rate or cycle report groups by."""

    PERIOD = "period"
    REP = "rep"
    TEAM = "team"
    PIPELINE = "pipeline"


def grouped(
    deals: Sequence[ClosedDeal], filters: ReportFilters, by: str
) -> list[tuple[Group, list[ClosedDeal]]]:
    """The deals in groups: every period of the range in order (empty ones too); reps,
    teams (a rep in two teams counts in both; no team: 未分配团队) or pipelines by name."""
    groups: dict[Group, list[ClosedDeal]] = defaultdict(list)
    if by == By.PERIOD:
        period = filters.period
        starts = period_starts(filters.since, filters.until, period)
        groups = {(s.isoformat(), period_label(s, period)): [] for s in starts}
        for deal in deals:
            start = period_start(deal.closed_on, period)
            groups[(start.isoformat(), period_label(start, period))].append(deal)
        return list(groups.items())
    teams = _teams(deals) if by == By.TEAM else {}
    for deal in deals:
        for key in _keys(deal, by, teams):
            groups[key].append(deal)
    return sorted(groups.items(), key=lambda item: item[0][1])


def _keys(deal: ClosedDeal, by: str, teams: dict[int, list[Group]]) -> list[Group]:
    if by == By.REP:
        return [(deal.owner_id, deal.owner)]
    if by == By.PIPELINE:
        return [(deal.pipeline_id, deal.pipeline)]
    return teams.get(deal.owner_id) or [(None, _("未分配团队"))]


@dataclass(frozen=True)
class WinRate:
    key: str | int | None
    label: str
    won: int = 0
    lost: int = 0
    won_amount: Decimal = ZERO
    lost_amount: Decimal = ZERO

    @property
    def closed(self) -> int:
        return self.won + self.lost

    @property
    def win_rate(self) -> Decimal | None:
        """won / (won + lost), as a percentage to one decimal."""
        return share(Decimal(self.won), Decimal(self.closed))


def win_rate_of(group: Group, deals: Iterable[ClosedDeal]) -> WinRate:
    deals = list(deals)
    won = [d for d in deals if d.won]
    lost = [d for d in deals if not d.won]
    return WinRate(
        group[0],
        group[1],
        len(won),
        len(lost),
        sum((d.amount or ZERO for d in won), ZERO),
        sum((d.amount or ZERO for d in lost), ZERO),
    )


@dataclass
class GroupedReport(Generic[T]):
    rows: list[T]
    total: T


def win_rate(user: User, filters: ReportFilters, by: str) -> GroupedReport[WinRate]:
    deals = closed_deals(user, filters)
    rows = [win_rate_of(group, members) for group, members in grouped(deals, filters, by)]
    return GroupedReport(rows, win_rate_of((None, _("合计")), deals))


@dataclass(frozen=True)
class LostReasonRow:
    key: int | None
    label: str
    deals: int
    share: Decimal | None  # of all the lost deals, %
    amount: Decimal


def lost_reasons(user: User, filters: ReportFilters) -> GroupedReport[LostReasonRow]:
    """The lost deals of the range by reason, most frequent first; a deal lost with a
    written reason only (a firm with no reasons set up) is under 其他."""
    lost = [d for d in closed_deals(user, filters) if not d.won]
    groups: dict[Group, list[ClosedDeal]] = defaultdict(list)
    for deal in lost:
        groups[(deal.lost_reason_id, deal.lost_reason or _("其他"))].append(deal)

    def row(group: Group, deals: list[ClosedDeal]) -> LostReasonRow:
        amount = sum((d.amount or ZERO for d in deals), ZERO)
        key = group[0] if isinstance(group[0], int) else None
        return LostReasonRow(
            key, group[1], len(deals), share(Decimal(len(deals)), Decimal(len(lost))), amount
        )

    rows = sorted(
        (row(g, members) for g, members in groups.items()), key=lambda r: (-r.deals, r.label)
    )
    return GroupedReport(rows, row((None, _("合计")), lost))


@dataclass(frozen=True)
class Cycle:
    key: str | int | None
    label: str
    deals: int
    won: int
    median_days: Decimal | None
    mean_days: Decimal | None
    won_median_days: Decimal | None
    lost_median_days: Decimal | None


def _median(values: Sequence[int]) -> Decimal | None:
    return days(statistics.median(values)) if values else None


def cycle_of(group: Group, deals: Iterable[ClosedDeal]) -> Cycle:
    deals = list(deals)
    all_days = [d.cycle_days for d in deals]
    return Cycle(
        group[0],
        group[1],
        len(deals),
        sum(1 for d in deals if d.won),
        _median(all_days),
        days(statistics.mean(all_days)) if all_days else None,
        _median([d.cycle_days for d in deals if d.won]),
        _median([d.cycle_days for d in deals if not d.won]),
    )


def sales_cycle(user: User, filters: ReportFilters, by: str) -> GroupedReport[Cycle]:
    """Days from a deal's creation to its close (won or lost), median and mean."""
    deals = closed_deals(user, filters)
    rows = [cycle_of(group, members) for group, members in grouped(deals, filters, by)]
    return GroupedReport(rows, cycle_of((None, _("合计")), deals))


# Upper bounds (days, included) of the distribution's buckets; the last is open-ended.
CYCLE_BUCKETS = (7, 14, 30, 60, 90, 180, 365)


@dataclass(frozen=True)
class Bucket:
    low: int
    high: int | None  # None: and more
    won: int
    lost: int

    @property
    def label(self) -> str:
        if self.high is None:
            return _("%(low)d 天以上") % {"low": self.low}
        return _("%(low)d–%(high)d 天") % {"low": self.low, "high": self.high}


def cycle_distribution(user: User, filters: ReportFilters) -> list[Bucket]:
    """How many deals closed (won, lost) after 0–7 days, 8–14, … , over a year."""
    deals = closed_deals(user, filters)
    buckets = []
    low = 0
    for high in (*CYCLE_BUCKETS, None):
        inside = [
            d for d in deals if d.cycle_days >= low and (high is None or d.cycle_days <= high)
        ]
        buckets.append(
            Bucket(low, high, sum(d.won for d in inside), sum(not d.won for d in inside))
        )
        low = (high or 0) + 1
    return buckets


# --- time in stage ---------------------------------------------------------------------


@dataclass
class StageTime:
    stage: Stage
    stays: list[float] = field(default_factory=list)  # days of the stays that ended
    current: list[float] = field(default_factory=list)  # days so far of the deals in it

    @property
    def median_days(self) -> Decimal | None:
        return days(statistics.median(self.stays)) if self.stays else None

    @property
    def mean_days(self) -> Decimal | None:
        return days(statistics.mean(self.stays)) if self.stays else None

    @property
    def current_mean_days(self) -> Decimal | None:
        return days(statistics.mean(self.current)) if self.current else None


@dataclass
class StageTimeReport:
    pipeline: Pipeline | None
    rows: list[StageTime]


def time_in_stage(
    user: User, filters: ReportFilters, now: datetime.datetime | None = None
) -> StageTimeReport:
    """How long deals stay in each open stage of the pipeline, from the stage history:
    the stays that ended (the deal moved on, won or lost) in the range, and the open
    deals in the stage now with their days so far. Three queries."""
    pipeline = report_pipeline(filters)
    if pipeline is None:
        return StageTimeReport(None, [])
    stages = Stage.objects.filter(pipeline=pipeline, kind=StageKind.OPEN).order_by("position")
    rows = {s.pk: StageTime(s) for s in stages}
    deals = deals_in_scope(user, filters).filter(pipeline=pipeline)
    moves = (
        StageMove.objects.filter(opportunity_id__in=deals.values("pk"))
        .order_by("opportunity_id", "moved_at", "pk")
        .values_list("opportunity_id", "to_stage_id", "moved_at", "opportunity__stage__kind")
    )
    now = now or timezone.now()
    previous: Move | None = None
    for move in moves:
        _add_stay(rows, previous, move, filters)
        previous = move
    for deal in _last_moves(moves):
        if deal[3] == StageKind.OPEN and deal[1] in rows:
            rows[deal[1]].current.append((now - deal[2]).total_seconds() / DAY_SECONDS)
    return StageTimeReport(pipeline, list(rows.values()))


Move = tuple[int, int, datetime.datetime, str]


def _add_stay(
    rows: dict[int, StageTime], previous: Move | None, move: Move, filters: ReportFilters
) -> None:
    """A stay runs from a move into a stage to the deal's next move; it counts when it
    ended in the range."""
    if previous is None or previous[0] != move[0] or previous[1] not in rows:
        return
    if filters.since <= timezone.localdate(move[2]) <= filters.until:
        rows[previous[1]].stays.append((move[2] - previous[2]).total_seconds() / DAY_SECONDS)


def _last_moves(moves: Iterable[Move]) -> list[Move]:
    """Each deal's last move (the queryset is cached: no second query)."""
    return list({move[0]: move for move in moves}.values())

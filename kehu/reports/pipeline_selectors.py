"""The pipeline reports' figures: the open deals by stage, win rate, lost reasons, sales
cycle length and time in stage.

Deals are scoped like the other reports (the package docstring): admins, managers and
analysts read the firm's, everyone else the deals their visibility shows them
(`opportunities_visible_to`). The rep and team filters are the deal's owner's. A closed
deal counts in the period of its close date (`closed_on`), an open one as it stands
today. Amounts are CNY; deals in other currencies count in the numbers of deals but not
in the amounts (each row says how many there are).

Win rate, lost reasons and cycle length group the closed deals of the range in the
database (by group, outcome and cycle days: medians come from the counts), on an index
that holds every column they read.
"""

import datetime
import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Generic, TypeVar, cast

from django.db.models import Avg, Count, FloatField, Func, Q, QuerySet, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from kehu.reports.periods import TRUNC, Period, period_label, period_starts
from kehu.reports.selectors import REPORT_CURRENCY, ReportFilters, as_date, sees_firm, share
from kehu.sales.models import (
    LostReason,
    Opportunity,
    Pipeline,
    Stage,
    StageKind,
    StageMove,
    StageStays,
)
from kehu.sales.pipeline_selectors import deleted_parties, opportunities_visible_to
from kehu.sales.pipeline_services import weighted
from kehu.sales.stage_stays import micros
from kehu.tenancy.models import TeamMembership, User

ZERO = Decimal("0.00")
T = TypeVar("T")
DAY_SECONDS = 86400


def deals_in_scope(user: User, filters: ReportFilters) -> QuerySet[Opportunity]:
    """The deals `user` may report on, by the rep, team and pipeline filters (deleted
    parties' deals and the team's members as `IN` sets, not joins to every deal)."""
    if sees_firm(user):
        deals = Opportunity.objects.exclude(party_id__in=deleted_parties().values("pk"))
    else:
        deals = opportunities_visible_to(user)
    if filters.owner_id:
        deals = deals.filter(owner_id=filters.owner_id)
    if filters.team_id:
        members = TeamMembership.objects.filter(team_id=filters.team_id).values("user_id")
        deals = deals.filter(owner_id__in=members)
    if filters.pipeline_id:
        deals = deals.filter(pipeline_id=filters.pipeline_id)
    return deals


def closed_in_range(
    user: User, filters: ReportFilters, stages: Iterable[int] | None = None
) -> QuerySet[Opportunity]:
    """The won and lost deals closed in the range (`stages`: the won and lost stages'
    ids, when the caller has them)."""
    if stages is None:
        stages = _closed_stages()
    return deals_in_scope(user, filters).filter(
        stage_id__in=list(stages), closed_on__gte=filters.since, closed_on__lte=filters.until
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
    Four queries: the pipeline, its stages, the deals grouped by stage and currency
    (the open ones, and the closed ones)."""
    pipeline = report_pipeline(filters)
    if pipeline is None:
        return StageReport(None, [])
    rows = {s.pk: StageRow(s) for s in Stage.objects.filter(pipeline=pipeline).order_by("position")}
    scoped = deals_in_scope(user, filters).filter(pipeline=pipeline)
    # Two reads, each on an index that holds what it groups (an OR of the two read
    # every deal of the pipeline): the open stages', and the closed ones' in the range.
    opened = scoped.filter(stage_id__in=[pk for pk, row in rows.items() if row.stage.is_open])
    closed = scoped.filter(
        stage_id__in=[pk for pk, row in rows.items() if not row.stage.is_open],
        closed_on__gte=filters.since,
        closed_on__lte=filters.until,
    )
    for deals in (opened, closed):
        grouped = deals.values("stage_id", "currency").annotate(n=Count("*"), amount=Sum("amount"))
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


# A group of closed deals: its key (a period start, a rep, team or pipeline id) and label.
Group = tuple[str | int | None, str]


@dataclass
class Tally:
    """Closed deals counted together: how many were won and lost, their CNY amounts, and
    how many of each took how many days from creation to close (the sales cycle)."""

    won: int = 0
    lost: int = 0
    won_amount: Decimal = ZERO
    lost_amount: Decimal = ZERO
    won_days: Counter[int] = field(default_factory=Counter)
    lost_days: Counter[int] = field(default_factory=Counter)

    def add(self, won: bool, n: int, amount: Decimal, cycle: int | None) -> None:
        if won:
            self.won += n
            self.won_amount += amount
            self.won_days[cycle or 0] += n
        else:
            self.lost += n
            self.lost_amount += amount
            self.lost_days[cycle or 0] += n

    def __iadd__(self, other: "Tally") -> "Tally":
        self.won += other.won
        self.lost += other.lost
        self.won_amount += other.won_amount
        self.lost_amount += other.lost_amount
        self.won_days += other.won_days
        self.lost_days += other.lost_days
        return self

    @property
    def all_days(self) -> Counter[int]:
        return self.won_days + self.lost_days


class By:
    """What a win-rate or cycle report groups by."""

    PERIOD = "period"
    REP = "rep"
    TEAM = "team"
    PIPELINE = "pipeline"


def _closed_stages() -> dict[int, bool]:
    """The firm's won and lost stages: {stage id: won}."""
    stages = Stage.objects.filter(kind__in=[StageKind.WON, StageKind.LOST])
    return {pk: kind == StageKind.WON for pk, kind in stages.values_list("pk", "kind")}


def _tallies(
    user: User, filters: ReportFilters, key: str, *, cycles: bool = False, **annotations: Any
) -> dict[Any, Tally]:
    """The deals closed in the range, one tally per value of `key`: one GROUP BY in the
    database, read from the closed-deal index (a firm closes tens of thousands of deals
    a year; reading each into Python cost seconds), won and lost counted side by side.
    With `cycles`, by cycle days too, and without the amounts (the cycle reports show
    none)."""
    stages = _closed_stages()
    won = Q(stage_id__in=[pk for pk, is_won in stages.items() if is_won])
    lost = Q(stage_id__in=[pk for pk, is_won in stages.items() if not is_won])
    sums: dict[str, Any] = {
        "won_n": Count("stage_id", filter=won),
        "lost_n": Count("stage_id", filter=lost),
    }
    if not cycles:
        cny = Q(currency=REPORT_CURRENCY)
        sums["won_amount"] = Sum("amount", filter=won & cny)
        sums["lost_amount"] = Sum("amount", filter=lost & cny)
    keys = [key, *(["cycle_days"] if cycles else [])]
    deals = closed_in_range(user, filters, stages).annotate(**annotations)
    rows = deals.values(*keys).annotate(**sums).order_by()
    tallies: dict[Any, Tally] = defaultdict(Tally)
    for row in rows.values_list(*keys, *sums):
        tally, cycle = tallies[row[0]], row[1] if cycles else None
        amounts = (ZERO, ZERO) if cycles else (_money(row[-2]), _money(row[-1]))
        won_n, lost_n = row[-2:] if cycles else row[-4:-2]
        if won_n:
            tally.add(True, won_n, amounts[0], cycle)
        if lost_n:
            tally.add(False, lost_n, amounts[1], cycle)
    return tallies


def _sum(tallies: Iterable[Tally]) -> Tally:
    total = Tally()
    for tally in tallies:
        total += tally
    return total


def grouped_tallies(
    user: User, filters: ReportFilters, by: str, *, cycles: bool = False
) -> tuple[list[tuple[Group, Tally]], Tally]:
    """The closed deals in groups, and all of them together: every period of the range
    in order (empty ones too); reps, teams (a rep in two teams counts in both; no team:
    未分配团队) or pipelines by name. Two queries: the tallies and the groups' names."""
    if by == By.PERIOD:
        period = filters.period
        found = _tallies(
            user, filters, "start", cycles=cycles, start=TRUNC[Period(period)]("closed_on")
        )
        by_start = {as_date(start): tally for start, tally in found.items()}
        rows: list[tuple[Group, Tally]] = [
            ((start.isoformat(), period_label(start, period)), by_start.get(start, Tally()))
            for start in period_starts(filters.since, filters.until, period)
        ]
        return rows, _sum(found.values())
    if by == By.PIPELINE:
        found = _tallies(user, filters, "pipeline_id", cycles=cycles)
        names = dict(Pipeline.objects.filter(pk__in=list(found)).values_list("pk", "name"))
        groups = [((pk, names[pk]), tally) for pk, tally in found.items()]
        return sorted(groups, key=lambda g: g[0][1]), _sum(found.values())
    found = _tallies(user, filters, "owner_id", cycles=cycles)
    total = _sum(found.values())
    if by == By.REP:
        owners = User.objects.filter(pk__in=list(found))
        names = {
            pk: name or username
            for pk, name, username in owners.values_list("pk", "display_name", "username")
        }
        groups = [((pk, names[pk]), tally) for pk, tally in found.items()]
        return sorted(groups, key=lambda g: g[0][1]), total
    teams = _teams(found)
    by_team: dict[Group, Tally] = defaultdict(Tally)
    for owner_id, tally in found.items():
        for team in teams.get(owner_id) or [(None, _("未分配团队"))]:
            by_team[team] += tally
    return sorted(by_team.items(), key=lambda g: g[0][1]), total


def _teams(owners: Iterable[int]) -> dict[int, list[Group]]:
    teams: dict[int, list[Group]] = defaultdict(list)
    memberships = TeamMembership.objects.filter(user_id__in=list(owners)).values_list(
        "user_id", "team_id", "team__name"
    )
    for user_id, team_id, name in memberships.order_by("team__name"):
        teams[user_id].append((team_id, name))
    return teams


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


def win_rate_of(group: Group, tally: Tally) -> WinRate:
    return WinRate(group[0], group[1], tally.won, tally.lost, tally.won_amount, tally.lost_amount)


@dataclass
class GroupedReport(Generic[T]):
    rows: list[T]
    total: T


def win_rate(user: User, filters: ReportFilters, by: str) -> GroupedReport[WinRate]:
    groups, total = grouped_tallies(user, filters, by)
    rows = [win_rate_of(group, tally) for group, tally in groups]
    return GroupedReport(rows, win_rate_of((None, _("合计")), total))


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
    found = _tallies(user, filters, "lost_reason_id")
    names = dict(LostReason.objects.filter(pk__in=list(found)).values_list("pk", "name"))
    lost = sum(tally.lost for tally in found.values())

    def row(key: int | None, label: str, deals: int, amount: Decimal) -> LostReasonRow:
        return LostReasonRow(key, label, deals, share(Decimal(deals), Decimal(lost)), amount)

    rows = sorted(
        (
            row(pk, names.get(pk) or _("其他") if pk else _("其他"), t.lost, t.lost_amount)
            for pk, t in found.items()
            if t.lost
        ),
        key=lambda r: (-r.deals, r.label),
    )
    amount = sum((tally.lost_amount for tally in found.values()), ZERO)
    return GroupedReport(rows, row(None, _("合计"), lost, amount))


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


def _median(counts: Counter[int]) -> Decimal | None:
    """The median of the values counted (`statistics.median` of them, from the counts)."""
    n = sum(counts.values())
    if not n:
        return None
    ordered = sorted(counts.items())

    def nth(k: int) -> int:  # the k-th value, from 0
        seen = 0
        for value, count in ordered:
            seen += count
            if k < seen:
                return value
        raise IndexError(k)

    middle = nth(n // 2)
    return days(middle if n % 2 else (nth(n // 2 - 1) + middle) / 2)


def _mean(counts: Counter[int]) -> Decimal | None:
    n = sum(counts.values())
    return days(sum(value * count for value, count in counts.items()) / n) if n else None


def cycle_of(group: Group, tally: Tally) -> Cycle:
    all_days = tally.all_days
    return Cycle(
        group[0],
        group[1],
        tally.won + tally.lost,
        tally.won,
        _median(all_days),
        _mean(all_days),
        _median(tally.won_days),
        _median(tally.lost_days),
    )


def sales_cycle(user: User, filters: ReportFilters, by: str) -> GroupedReport[Cycle]:
    """Days from a deal's creation to its close (won or lost), median and mean."""
    groups, total = grouped_tallies(user, filters, by, cycles=True)
    rows = [cycle_of(group, tally) for group, tally in groups]
    return GroupedReport(rows, cycle_of((None, _("合计")), total))


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
    total = _sum(_tallies(user, filters, "pipeline_id", cycles=True).values())
    buckets = []
    low = 0
    for high in (*CYCLE_BUCKETS, None):

        def inside(counts: Counter[int], low: int = low, high: int | None = high) -> int:
            return sum(n for d, n in counts.items() if d >= low and (high is None or d <= high))

        buckets.append(Bucket(low, high, inside(total.won_days), inside(total.lost_days)))
        low = (high or 0) + 1
    return buckets


# --- time in stage ---------------------------------------------------------------------


@dataclass
class StageTime:
    stage: Stage
    stays: int = 0  # the stays that ended in the range
    median_days: Decimal | None = None
    mean_days: Decimal | None = None
    current: int = 0  # the deals in the stage now
    current_mean_days: Decimal | None = None  # their days so far


@dataclass
class StageTimeReport:
    pipeline: Pipeline | None
    rows: list[StageTime]


def _day_starts(filters: ReportFilters) -> tuple[datetime.datetime, datetime.datetime]:
    """The range as moments: from the first day's midnight to the one after the last."""

    def midnight(day: datetime.date) -> datetime.datetime:
        return timezone.make_aware(datetime.datetime.combine(day, datetime.time()))

    return midnight(filters.since), midnight(filters.until + datetime.timedelta(days=1))


class _Epoch(Func):
    """A moment as seconds since 1970 (for an average of moments)."""

    output_field = FloatField()

    def as_sqlite(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        template = "((julianday(%(expressions)s) - 2440587.5) * 86400.0)"
        return self.as_sql(compiler, connection, template=template, **extra)

    def as_postgresql(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        # date_part is double precision; EXTRACT is numeric (PostgreSQL 14 on), whose
        # arithmetic took 30 of the 40 ms of averaging 60,000 deals' moments.
        template = "date_part('epoch', %(expressions)s)"
        return self.as_sql(compiler, connection, template=template, **extra)


def _reads_firm(user: User, filters: ReportFilters) -> bool:
    """A reader of the whole firm with no rep or team filter: every deal's moves but
    those of deleted parties' deals (a few)."""
    return sees_firm(user) and not filters.owner_id and not filters.team_id


def _gone_deals() -> QuerySet[Opportunity]:
    return Opportunity.objects.filter(party_id__in=deleted_parties().values("pk"))


def _moves_of(
    user: User, filters: ReportFilters, deals: QuerySet[Opportunity]
) -> QuerySet[StageMove]:
    """The stage moves of `deals`. For the firm (`_reads_firm`) said as every move but
    those of deleted parties' deals: the moves are then read by stage and time on their
    index, not deal by deal."""
    if _reads_firm(user, filters):
        return StageMove.objects.exclude(opportunity_id__in=_gone_deals().values("pk"))
    return StageMove.objects.filter(opportunity_id__in=deals.values("pk"))


def _counted_stays(
    user: User, filters: ReportFilters, stays: QuerySet[StageMove], stage_ids: list[int]
) -> dict[int, tuple[int, float]]:
    """Stage → (stays, mean seconds) of the stays that ended in the range. For the firm,
    the kept rows per stage and day (`sales.StageStays`, decision 0019) less the stays of
    deleted parties' deals (read live, usually none); else counted from the moves."""
    if not _reads_firm(user, filters):
        counted = (
            stays.filter(from_stage_id__in=stage_ids)
            .values("from_stage_id")
            .annotate(n=Count("*"), mean=Avg("stayed_seconds"))
            .order_by()
            .values_list("from_stage_id", "n", "mean")
        )
        return {stage: (n, mean) for stage, n, mean in counted}
    kept = StageStays.objects.filter(
        stage_id__in=stage_ids, day__gte=filters.since, day__lte=filters.until
    )
    summed = kept.values("stage_id").annotate(n=Sum("stays"), us=Sum("micros")).order_by()
    tally = {stage: [n, us] for stage, n, us in summed.values_list("stage_id", "n", "us")}
    since, until = _day_starts(filters)
    gone = StageMove.objects.filter(
        opportunity_id__in=_gone_deals().values("pk"),
        from_stage_id__in=stage_ids,
        moved_at__gte=since,
        moved_at__lt=until,
        stayed_seconds__isnull=False,
    )
    for stage, seconds in gone.values_list("from_stage_id", "stayed_seconds"):
        row = tally.setdefault(stage, [0, 0])
        row[0] -= 1
        row[1] -= micros(cast(float, seconds))
    return {stage: (n, us / n / 1_000_000) for stage, (n, us) in tally.items() if n > 0}


def time_in_stage(
    user: User, filters: ReportFilters, now: datetime.datetime | None = None
) -> StageTimeReport:
    """How long deals stay in each open stage of the pipeline, from the stage history:
    the stays that ended (the deal moved on, won or lost) in the range, each kept on the
    move that ended it, and the open deals in the stage now with their days so far. The
    counts and means (for the firm, from the kept stays per day), a query a stage for its
    median, one for the deals in the stages now."""
    pipeline = report_pipeline(filters)
    if pipeline is None:
        return StageTimeReport(None, [])
    stages = Stage.objects.filter(pipeline=pipeline, kind=StageKind.OPEN).order_by("position")
    rows = {s.pk: StageTime(s) for s in stages}
    deals = deals_in_scope(user, filters).filter(pipeline=pipeline)
    since, until = _day_starts(filters)
    stays = _moves_of(user, filters, deals).filter(
        moved_at__gte=since, moved_at__lt=until, stayed_seconds__isnull=False
    )
    for stage_id, (n, mean) in _counted_stays(user, filters, stays, list(rows)).items():
        row = rows[stage_id]
        row.stays, row.mean_days = n, days(mean / DAY_SECONDS)
        # The middle one or two of the stage's stays, read in order off the stay index
        # (PostgreSQL's PERCENTILE_CONT of them all sorted 250,000 stays: no faster). One
        # stage only: with the list of stages beside it PostgreSQL sorted the stays.
        lengths = stays.filter(from_stage_id=stage_id).order_by("stayed_seconds")
        median = list(lengths.values_list("stayed_seconds", flat=True)[(n - 1) // 2 : n // 2 + 1])
        row.median_days = days(statistics.fmean(cast(list[float], median)) / DAY_SECONDS)
    now = now or timezone.now()
    current = deals.filter(stage_id__in=list(rows)).values("stage_id")
    entered = current.annotate(n=Count("*"), at=Avg(_Epoch("stage_changed_at"))).order_by()
    for stage_id, n, at in entered.values_list("stage_id", "n", "at"):
        rows[stage_id].current = n
        rows[stage_id].current_mean_days = days((now.timestamp() - at) / DAY_SECONDS)
    return StageTimeReport(pipeline, list(rows.values()))

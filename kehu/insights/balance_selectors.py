"""The customer asset balance sheet (客户资产负债表, DOMAIN.md §3) of one scoring run, and
its movement since the run before. What each line means: docs/customer-value.md.

Assets are the run's scores, each customer counted once: gained by referral (an incoming
"refers" link, or converted from a lead whose channel is referral), else new (first
booked order in the period), else a current customer (current value and growth
potential apart). Liabilities are the open tasks with those customers (hours × the cost
of an hour), loyalty points (none: there is no loyalty module yet) and the planned spend
whose period holds the run's date. The movement is one grouped query over both runs'
rows joined on party. Customer figures are scoped like the Pareto page
(firm_selectors); planned spend is the firm's and counts only for those who see the
whole firm (`sees_budget`).
"""

import datetime
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db import connection
from django.db.models import (
    Case,
    CharField,
    Count,
    Q,
    QuerySet,
    Sum,
    Value,
    When,
)
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from kehu.activities.models import Task, TaskStatus
from kehu.insights import selectors
from kehu.insights.firm_selectors import parties_in_scope, scores_in_scope
from kehu.insights.models import (
    TIER_ORDER,
    CustomerScore,
    InsightSettings,
    PlannedSpend,
    RunStatus,
    ScoringRun,
    SpendKind,
)
from kehu.parties.models import LinkKind, Party, PartyLink
from kehu.reports.selectors import sees_firm
from kehu.sales.models import Lead, SourceChannel
from kehu.tenancy.models import User, Visibility

ZERO = Decimal("0.00")
CENT = Decimal("0.01")
# Without a run before, "new" means a first order in the last 90 days up to the run.
FIRST_PERIOD_DAYS = 90
# The customers or tasks listed behind a figure.
LIST_LIMIT = 100
RUN_CHOICES = 24

ASSET_GROUPS = ("referral", "new", "current")
ASSET_LINES = {
    "current_value": gettext_lazy("当前客户的当前价值"),
    "growth_potential": gettext_lazy("当前客户的增值潜力"),
    "new": gettext_lazy("新客户的价值"),
    "referral": gettext_lazy("口碑客户（推荐获得）的价值"),
}
SPEND_LINES = {
    SpendKind.ACQUISITION: gettext_lazy("计划获客投入"),
    SpendKind.WIN_BACK: gettext_lazy("计划挽回投入"),
    SpendKind.RETENTION: gettext_lazy("计划维系投入"),
    SpendKind.OTHER: gettext_lazy("其他计划投入"),
}
MOVEMENTS = {
    "gained": gettext_lazy("新增客户资产"),
    "churned": gettext_lazy("流失的客户资产"),
    "upgraded": gettext_lazy("等级上升的客户"),
    "downgraded": gettext_lazy("等级下降的客户"),
    "same": gettext_lazy("等级不变的客户"),
}
# The lists a figure links to.
SHOWS = (*ASSET_LINES, "service", *MOVEMENTS)


def sees_budget(user: User) -> bool:
    """Planned spend is the firm's: admins, managers and analysts, and anyone who sees
    every customer (visibility all) read it; managers and admins write it."""
    return sees_firm(user) or user.effective_visibility == Visibility.ALL


def _money(value: Any) -> Decimal:
    return ZERO if value is None else Decimal(str(value)).quantize(CENT)


@dataclass(frozen=True)
class Line:
    key: str
    label: str
    amount: Decimal | None  # None: not counted for this viewer (planned spend, not firm-wide)
    count: int | None = None  # the customers, tasks or entries behind it
    note: str = ""


@dataclass(frozen=True)
class Movement:
    key: str
    label: str
    customers: int
    before: Decimal  # CLP in the run before
    now: Decimal  # CLP in this run

    @property
    def change(self) -> Decimal:
        return self.now - self.before


@dataclass(frozen=True)
class BalanceSheet:
    run: ScoringRun | None
    previous: ScoringRun | None
    period_start: datetime.date | None
    period_end: datetime.date | None
    assets: list[Line] = field(default_factory=list)
    liabilities: list[Line] = field(default_factory=list)
    movements: list[Movement] = field(default_factory=list)
    task_hours: Decimal = ZERO
    staff_hour_cost: Decimal = ZERO
    spend_counted: bool = False

    @property
    def total_assets(self) -> Decimal:
        return sum((line.amount or ZERO for line in self.assets), ZERO)

    @property
    def total_liabilities(self) -> Decimal:
        return sum((line.amount or ZERO for line in self.liabilities), ZERO)

    @property
    def equity(self) -> Decimal:
        """Net customer equity: assets less liabilities."""
        return self.total_assets - self.total_liabilities

    @property
    def before_total(self) -> Decimal:
        return sum((m.before for m in self.movements), ZERO)

    @property
    def now_total(self) -> Decimal:
        return sum((m.now for m in self.movements), ZERO)

    @property
    def change_total(self) -> Decimal:
        return self.now_total - self.before_total


def done_runs() -> QuerySet[ScoringRun]:
    return ScoringRun.objects.filter(status=RunStatus.DONE).order_by("-created_at", "-id")


def run_choices() -> list[ScoringRun]:
    return list(done_runs()[:RUN_CHOICES])


def chosen_run(pk: int | None) -> ScoringRun | None:
    """The finished run `pk` (None when there is no such run of the firm), or the latest."""
    runs = done_runs()
    return runs.filter(pk=pk).first() if pk is not None else runs.first()


def previous_run(run: ScoringRun) -> ScoringRun | None:
    """The finished run before `run` (in the order runs were made)."""
    earlier = Q(created_at__lt=run.created_at) | Q(created_at=run.created_at, id__lt=run.pk)
    return done_runs().filter(earlier).first()


def period_of(run: ScoringRun, previous: ScoringRun | None) -> tuple[datetime.date, datetime.date]:
    """The days since the run before (or the last 90 days), up to the run's date."""
    if previous is None:
        return run.as_of - datetime.timedelta(days=FIRST_PERIOD_DAYS - 1), run.as_of
    return previous.as_of + datetime.timedelta(days=1), run.as_of


# --- assets ---------------------------------------------------------------------------


def _grouped_scores(user: User, run: ScoringRun, start: datetime.date) -> QuerySet[Any]:
    """The run's scores in scope, each marked referral, new (first purchase in the
    period) or current."""
    # Sets, not lookups per score: the planner hashes each once.
    by_link = PartyLink.objects.filter(kind=LinkKind.REFERS).values("to_party_id")
    by_lead = Lead.objects.filter(
        source_channel=SourceChannel.REFERRAL, converted_party__isnull=False
    ).values("converted_party_id")
    # The first purchase as the run saw it: its date less the days since the first one.
    days_in_period = (run.as_of - start).days
    return (
        scores_in_scope(user)
        .filter(run=run)
        .annotate(
            group=Case(
                When(Q(party_id__in=by_link) | Q(party_id__in=by_lead), then=Value("referral")),
                When(orders_count__gt=0, tenure_days__lte=days_in_period, then=Value("new")),
                default=Value("current"),
                output_field=CharField(),
            )
        )
    )


def _assets(user: User, run: ScoringRun, start: datetime.date) -> list[Line]:
    rows = {
        row["group"]: row
        for row in _grouped_scores(user, run, start)
        .values("group")
        .annotate(
            n=Count("id"), cv=Sum("current_value"), gp=Sum("growth_potential"), clp=Sum("clp")
        )
        .order_by()
    }
    current = rows.get("current", {})

    def line(key: str, amount: Any, group: dict[str, Any]) -> Line:
        return Line(key, str(ASSET_LINES[key]), _money(amount), group.get("n", 0))

    return [
        line("current_value", current.get("cv"), current),
        line("growth_potential", current.get("gp"), current),
        line("new", rows.get("new", {}).get("clp"), rows.get("new", {})),
        line("referral", rows.get("referral", {}).get("clp"), rows.get("referral", {})),
    ]


# --- liabilities ----------------------------------------------------------------------


def open_commitments(user: User, run: ScoringRun) -> QuerySet[Task]:
    """Open tasks with the run's customers in scope: service still owed to them."""
    customers = scores_in_scope(user).filter(run=run).values("party_id")
    return Task.objects.filter(status=TaskStatus.OPEN, party__in=customers)


def spend_on(day: datetime.date) -> QuerySet[PlannedSpend]:
    """Planned spend whose period holds `day`."""
    return PlannedSpend.objects.filter(period_start__lte=day, period_end__gte=day)


def _liabilities(
    user: User, run: ScoringRun, hours: Decimal, cost: Decimal, spend_counted: bool
) -> list[Line]:
    # Counted from the run's scores, each joined to its party's tasks (the task's party
    # index), a plan that stays good whatever the planner knows of the tables.
    tasks = (
        scores_in_scope(user)
        .filter(run=run)
        .aggregate(n=Count("party__tasks", filter=Q(party__tasks__status=TaskStatus.OPEN)))["n"]
    )
    lines = [
        Line(
            "service",
            _("对当前客户的服务承诺"),
            _money(Decimal(tasks) * hours * cost),
            tasks,
            _("%(n)s 个待办任务 × %(h)s 小时 × 每小时 %(c)s 元")
            % {"n": tasks, "h": hours, "c": cost},
        ),
        Line("loyalty", _("未兑付的积分"), ZERO, None, _("积分功能尚未启用")),
    ]
    sums: dict[str, dict[str, Any]] = {}
    if spend_counted:
        sums = {
            row["kind"]: row
            for row in spend_on(run.as_of)
            .values("kind")
            .annotate(n=Count("id"), total=Sum("amount"))
            .order_by()
        }
    hidden = _("计划投入是全公司的数字，只计入能查看全部客户的成员所见的表中")
    for kind, label in SPEND_LINES.items():
        row, key = sums.get(kind, {}), f"spend_{kind}"
        if spend_counted:
            lines.append(Line(key, str(label), _money(row.get("total")), row.get("n", 0)))
        else:
            lines.append(Line(key, str(label), None, None, hidden))
    return lines


# --- the movement since the run before --------------------------------------------------


def _tier_rank() -> str:
    whens = " ".join(f"WHEN '{t.value}' THEN {i}" for i, t in enumerate(TIER_ORDER))
    return f"(CASE tier {whens} ELSE {len(TIER_ORDER)} END)"


def _movement_sql(
    user: User, run: ScoringRun, previous: ScoringRun, threshold: float
) -> tuple[str, list[Any]]:
    """One row per customer in scope scored in either run: party, CLP before and now,
    and how it moved. Gained: scored now, not before. Churned: scored before and not now,
    or its chance of being alive fell below the churn threshold. Otherwise by tier.

    Both runs' rows are read once and paired by a GROUP BY party (no lookup per row:
    the score indexes do not lead with the run and the party together)."""
    score, scope = CustomerScore._meta.db_table, parties_in_scope(user).values("pk")
    scope_sql, scope_params = scope.query.sql_with_params()

    def side(column: str) -> str:
        return f"MAX(CASE WHEN run_id = %s THEN {column} END)"

    rank = _tier_rank()
    pairs = (
        f"SELECT party_id, {side('clp')} AS now_clp, {side('clp')} AS before_clp, "  # noqa: S608
        f"{side('p_alive')} AS now_alive, {side('p_alive')} AS before_alive, "
        f"{side(rank)} AS now_rank, {side(rank)} AS before_rank "
        f'FROM "{score}" WHERE tenant_id = %s AND run_id IN (%s, %s) '
        f"AND party_id IN ({scope_sql}) GROUP BY party_id"
    )
    sql = (
        "SELECT party_id, before_clp, now_clp, "  # noqa: S608
        "CASE WHEN before_clp IS NULL THEN 'gained' "
        "WHEN now_clp IS NULL THEN 'churned' "
        "WHEN now_alive < %s AND before_alive >= %s THEN 'churned' "
        "WHEN now_rank < before_rank THEN 'upgraded' "
        "WHEN now_rank > before_rank THEN 'downgraded' "
        f"ELSE 'same' END AS movement FROM ({pairs}) pairs"
    )
    now, before = run.pk, previous.pk
    params: list[Any] = [threshold, threshold, now, before, now, before, now, before]
    params += [run.tenant_id, now, before, *scope_params]
    return sql, params


def _threshold(rule: InsightSettings) -> float:
    """The churn threshold of the chance of being alive (0–1)."""
    return rule.churn_alive_threshold / 100


def _movements(
    user: User, run: ScoringRun, previous: ScoringRun, threshold: float
) -> list[Movement]:
    inner, params = _movement_sql(user, run, previous, threshold)
    sql = (
        "SELECT movement, COUNT(*), SUM(before_clp), SUM(now_clp) "  # noqa: S608
        f"FROM ({inner}) m GROUP BY movement"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = {key: (n, before, now) for key, n, before, now in cursor.fetchall()}
    out = []
    for key, label in MOVEMENTS.items():
        n, before, now = rows.get(key, (0, None, None))
        out.append(Movement(key, str(label), n, _money(before), _money(now)))
    return out


def balance_sheet(user: User, run: ScoringRun | None) -> BalanceSheet:
    if run is None:
        return BalanceSheet(None, None, None, None)
    previous = previous_run(run)
    start, end = period_of(run, previous)
    rule = selectors.insight_settings()
    spend_counted = sees_budget(user)
    return BalanceSheet(
        run=run,
        previous=previous,
        period_start=start,
        period_end=end,
        assets=_assets(user, run, start),
        liabilities=_liabilities(
            user, run, Decimal(rule.task_hours), Decimal(rule.staff_hour_cost), spend_counted
        ),
        movements=_movements(user, run, previous, _threshold(rule)) if previous else [],
        task_hours=Decimal(rule.task_hours),
        staff_hour_cost=Decimal(rule.staff_hour_cost),
        spend_counted=spend_counted,
    )


# --- what is behind a figure ----------------------------------------------------------


@dataclass(frozen=True)
class Behind:
    party_id: int
    name: str
    amount: Decimal | None  # the line's amount for this customer
    before: Decimal | None = None  # movements: CLP in the run before
    title: str = ""  # service: the task
    due_date: datetime.date | None = None


def behind(user: User, run: ScoringRun, show: str) -> list[Behind]:
    """The customers (or open tasks) behind the figure `show`, the largest first."""
    previous = previous_run(run)
    if show in ASSET_LINES:
        start, _end = period_of(run, previous)
        group = "current" if show in ("current_value", "growth_potential") else show
        amount = show if group == "current" else "clp"
        rows = (
            _grouped_scores(user, run, start)
            .filter(group=group)
            .order_by(f"-{amount}", "party_id")
            .values_list("party_id", "party__name", amount)[:LIST_LIMIT]
        )
        return [Behind(pk, name, _money(value)) for pk, name, value in rows]
    if show == "service":
        tasks = (
            open_commitments(user, run)
            .order_by("due_date", "id")
            .values_list("party_id", "party__name", "title", "due_date")[:LIST_LIMIT]
        )
        return [Behind(pk, name, None, title=t, due_date=d) for pk, name, t, d in tasks]
    if show in MOVEMENTS and previous is not None:
        return _moved(user, run, previous, show)
    return []


def _moved(user: User, run: ScoringRun, previous: ScoringRun, show: str) -> list[Behind]:
    threshold = _threshold(selectors.insight_settings())
    inner, params = _movement_sql(user, run, previous, threshold)
    party = Party._meta.db_table
    sql = (
        "SELECT m.party_id, p.name, m.before_clp, m.now_clp "  # noqa: S608
        f'FROM ({inner}) m JOIN "{party}" p ON p.id = m.party_id WHERE m.movement = %s '
        "ORDER BY COALESCE(m.now_clp, m.before_clp) DESC, m.party_id LIMIT %s"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, show, LIST_LIMIT])
        rows: Sequence[tuple[int, str, Any, Any]] = cursor.fetchall()
    return [
        Behind(pk, name, None if now is None else _money(now), None if b is None else _money(b))
        for pk, name, b, now in rows
    ]

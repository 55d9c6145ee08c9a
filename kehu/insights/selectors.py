"""Reads of customer value: the firm's settings, runs, and scores as a user may see them."""

from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Count, Q, QuerySet, Subquery, Sum

from kehu.activities.models import TaskStatus
from kehu.core.context import current_tenant_id
from kehu.insights.models import (
    TIER_ORDER,
    CustomerScore,
    InsightSettings,
    LifecycleStage,
    RunStatus,
    ScoringRun,
    StageOverride,
    WinBackAction,
)
from kehu.parties.models import Party
from kehu.parties.selectors import parties_visible_to
from kehu.tenancy.models import User


def insight_settings() -> InsightSettings:
    """The firm's settings; the defaults (not saved) until a manager changes them."""
    return InsightSettings.objects.first() or InsightSettings(tenant_id=current_tenant_id())


def latest_run() -> ScoringRun | None:
    return ScoringRun.objects.select_related("triggered_by").order_by("-created_at", "-id").first()


def _done_runs() -> QuerySet[ScoringRun]:
    return ScoringRun.objects.filter(status=RunStatus.DONE).order_by("-created_at", "-id")


def last_done_run() -> ScoringRun | None:
    return _done_runs().first()


def published_run() -> Subquery:
    """The id of the run whose scores everyone reads: the firm's last finished run, as a
    subquery (the database looks it up once per statement; no query of its own). A run
    is published by being marked done, in the transaction that ends it."""
    return Subquery(_done_runs().values("id")[:1])


def published_scores() -> QuerySet[CustomerScore]:
    """The published run's scores of every customer (not narrowed to a user)."""
    return CustomerScore.objects.filter(run_id=published_run())


def get_run(pk: int) -> ScoringRun | None:
    return ScoringRun.objects.filter(pk=pk).first()


def latest_scores(user: User) -> QuerySet[CustomerScore]:
    """Every visible customer's latest score."""
    visible = parties_visible_to(user).values("pk")
    return published_scores().filter(party__in=visible)


def scores_by_clp(user: User, *, tier: str = "", stage: str = "") -> QuerySet[CustomerScore]:
    scores = latest_scores(user)
    if tier:
        scores = scores.filter(tier=tier)
    if stage:
        scores = scores.filter(lifecycle_stage=stage)
    return scores.select_related("party", "party__owner").order_by("-clp", "id")


@dataclass(frozen=True)
class TierSummary:
    tier: str
    label: str
    customers: int
    clp: Decimal
    current_value: Decimal
    growth_potential: Decimal


def pyramid(user: User) -> list[TierSummary]:
    """S/A/B/C from the top: how many customers, and their CLP and its two parts."""
    rows = {
        row["tier"]: row
        for row in latest_scores(user)
        .values("tier")
        .annotate(
            n=Count("id"), clp=Sum("clp"), cv=Sum("current_value"), gp=Sum("growth_potential")
        )
        .order_by()
    }
    zero = Decimal("0.00")
    out = []
    for tier in TIER_ORDER:
        row = rows.get(tier.value, {})
        out.append(
            TierSummary(
                tier.value,
                str(tier.label),
                row.get("n", 0),
                row.get("clp") or zero,
                row.get("cv") or zero,
                row.get("gp") or zero,
            )
        )
    return out


def win_back_filter(rule: InsightSettings) -> Q:
    """Declining: alive probability under the threshold, frequency or value fallen past
    it, or another decline rule (one purchase long ago) unless a manager said otherwise."""
    fall = -float(rule.churn_trend_threshold) / 100
    return (
        Q(lifecycle_stage=LifecycleStage.DECLINE)
        | Q(p_alive__lt=float(rule.churn_alive_threshold) / 100)
        | Q(frequency_trend__lte=fall)
        | Q(value_trend__lte=fall)
    )


def win_back_list(user: User) -> QuerySet[CustomerScore]:
    """Customers slipping away, highest CLP first."""
    rule = insight_settings()
    return (
        latest_scores(user)
        .filter(win_back_filter(rule))
        .select_related("party", "party__owner")
        .order_by("-clp", "id")
    )


def open_win_back_party_ids(party_ids: list[int]) -> set[int]:
    """Parties among these that already have an open win-back task."""
    return set(
        WinBackAction.objects.filter(party_id__in=party_ids, task__status=TaskStatus.OPEN)
        .values_list("party_id", flat=True)
        .distinct()
    )


def party_scores(party: Party, *, limit: int = 24) -> list[CustomerScore]:
    """The party's scores, newest first (the history its trend is drawn from); each says
    whether it is the published one (`is_latest`)."""
    published = _done_runs().values_list("id", flat=True).first()
    scores = CustomerScore.objects.filter(party=party).select_related("party")
    rows = list(scores.order_by("-as_of", "-id")[:limit])
    for score in rows:
        score.is_latest = score.run_id == published
    return rows


def stage_overrides(party: Party) -> QuerySet[StageOverride]:
    return (
        StageOverride.objects.filter(party=party)
        .select_related("created_by")
        .order_by("-created_at", "-id")
    )


def current_override(party: Party) -> StageOverride | None:
    """The override that holds (None when there is none, or the last one cleared it)."""
    last = stage_overrides(party).first()
    return last if last is not None and last.stage else None


def overridden_stages() -> dict[int, str]:
    """{party id: stage} of every party whose latest override sets a stage."""
    latest: dict[int, str] = {}
    rows = StageOverride.objects.order_by("party_id", "created_at", "id").values_list(
        "party_id", "stage"
    )
    for party_id, stage in rows:
        latest[party_id] = stage
    return {party_id: stage for party_id, stage in latest.items() if stage}

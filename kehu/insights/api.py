"""API of customer value: scoring runs, scores, the pyramid, overrides and win-back.

Scores are read over the parties the caller may see; a party's history is fetched
through `get_party_for_user` (404 when hidden). Managers start runs, change settings and
override stages.
"""

from typing import Any

from django.http import Http404, HttpRequest
from ninja import Query, Router

from kehu.core.pagination import Page, PageParams, page_of
from kehu.core.problems import Conflict
from kehu.insights import selectors, services
from kehu.insights.models import (
    CustomerScore,
    InsightSettings,
    LifecycleStage,
    ScoringRun,
    StageOverride,
    ValueTier,
)
from kehu.insights.schemas import (
    InsightSettingsIn,
    InsightSettingsOut,
    RunOut,
    ScoreOut,
    StageOverrideIn,
    StageOverrideOut,
    TierOut,
    WinBackIn,
    WinBackOut,
)
from kehu.parties.selectors import capped_count, get_party_for_user, parties_visible_to
from kehu.tenancy.api_auth import api_user, require_manage, require_write

router = Router(tags=["insights"])


@router.get("/insights/settings", response=InsightSettingsOut)
def get_settings(request: HttpRequest) -> InsightSettings:
    api_user(request)
    return selectors.insight_settings()


@router.put("/insights/settings", response=InsightSettingsOut)
def put_settings(request: HttpRequest, payload: InsightSettingsIn) -> InsightSettings:
    """Change the settings (managers); they apply from the next run."""
    user = api_user(request)
    require_manage(user)
    return services.insight_settings_update(actor=user, **payload.dict())


@router.post("/insights/runs", response={201: RunOut})
def start_run(request: HttpRequest) -> tuple[int, ScoringRun]:
    """Queue a scoring of every current customer (managers); 409 while one runs."""
    user = api_user(request)
    require_manage(user)
    try:
        return 201, services.scoring_run_start(actor=user)
    except services.RunInProgress as exc:
        raise Conflict(" ".join(exc.messages)) from exc


@router.get("/insights/runs", response=Page[RunOut])
def list_runs(request: HttpRequest, page: Query[PageParams]) -> dict[str, Any]:
    api_user(request)
    runs = ScoringRun.objects.select_related("triggered_by").order_by("-created_at", "-id")
    return page_of(runs, page, capped_count(runs))


@router.get("/insights/runs/{int:run_id}", response=RunOut)
def get_run(request: HttpRequest, run_id: int) -> ScoringRun:
    """A run's status and progress (poll it while it runs)."""
    api_user(request)
    run = selectors.get_run(run_id)
    if run is None:
        raise Http404
    return run


@router.get("/insights/scores", response=Page[ScoreOut])
def list_scores(
    request: HttpRequest,
    page: Query[PageParams],
    tier: ValueTier | None = None,
    stage: LifecycleStage | None = None,
) -> dict[str, Any]:
    """The latest score of each visible customer, highest CLP first."""
    scores = selectors.scores_by_clp(api_user(request), tier=tier or "", stage=stage or "")
    return page_of(scores, page, capped_count(scores))


@router.get("/insights/pyramid", response=list[TierOut])
def get_pyramid(request: HttpRequest) -> list[selectors.TierSummary]:
    return selectors.pyramid(api_user(request))


@router.get("/insights/win-back", response=Page[ScoreOut])
def list_win_back(request: HttpRequest, page: Query[PageParams]) -> dict[str, Any]:
    """Customers slipping away (settings' thresholds), highest CLP first."""
    scores = selectors.win_back_list(api_user(request))
    return page_of(scores, page, capped_count(scores))


@router.post("/insights/win-back/tasks", response={201: WinBackOut})
def create_win_back_tasks(request: HttpRequest, payload: WinBackIn) -> tuple[int, dict[str, Any]]:
    """A win-back task for each party's owner, skipping parties with one open."""
    user = api_user(request)
    parties = list(parties_visible_to(user).filter(pk__in=payload.parties).select_related("owner"))
    if len(parties) != len(set(payload.parties)):
        raise Http404
    require_write(user)
    outcome = services.win_back_tasks_create(actor=user, parties=parties)
    return 201, {
        "created_task_ids": [a.task_id for a in outcome.created],
        "skipped": [{"party_id": p.pk, "reason": why} for p, why in outcome.skipped],
    }


@router.get("/parties/{int:party_id}/scores", response=list[ScoreOut])
def party_scores(request: HttpRequest, party_id: int) -> list[CustomerScore]:
    """The party's scores, newest first."""
    party = get_party_for_user(api_user(request), party_id)
    return selectors.party_scores(party)


@router.post("/parties/{int:party_id}/lifecycle-stage", response={201: StageOverrideOut})
def override_stage(
    request: HttpRequest, party_id: int, payload: StageOverrideIn
) -> tuple[int, StageOverride]:
    """Set (or with no stage, clear) a manager's override of the lifecycle stage."""
    user = api_user(request)
    party = get_party_for_user(user, party_id)
    require_manage(user)
    override = services.stage_override_set(
        actor=user, party=party, stage=payload.stage or "", reason=payload.reason
    )
    return 201, override

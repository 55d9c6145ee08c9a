"""API of pipelines (admins and managers configure them), opportunities, leads, the
forecast.

Deals and leads are fetched with their access helpers, so one the caller may not see is
a 404; a party, contact or competitor named in a body is looked up the same way.
"""

from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import Prefetch, QuerySet, prefetch_related_objects
from django.http import Http404, HttpRequest
from django.utils.translation import gettext as _
from ninja import Query, Router

from kehu.core.pagination import Page, page_of
from kehu.parties.models import Party
from kehu.parties.schemas import PartyRef
from kehu.parties.selectors import capped_count, get_party_for_user, parties_visible_to
from kehu.sales import lead_services as leads
from kehu.sales import pipeline_selectors as selectors
from kehu.sales import pipeline_services as deals
from kehu.sales.api import order_lines_in
from kehu.sales.models import (
    Lead,
    LostReason,
    Opportunity,
    OpportunityCompetitor,
    OpportunityLine,
    Pipeline,
    Product,
    Stage,
)
from kehu.sales.pipeline_schemas import (
    AssignIn,
    ConvertIn,
    DisqualifyIn,
    ForecastQuery,
    ForecastRowOut,
    LeadIn,
    LeadOut,
    LeadPatch,
    LeadQuery,
    LoseIn,
    LostReasonIn,
    LostReasonOut,
    MoveIn,
    OpportunityDetailOut,
    OpportunityIn,
    OpportunityOut,
    OpportunityPatch,
    OpportunityQuery,
    PipelineIn,
    PipelineOut,
    PipelinePatch,
    StageIn,
    StageOut,
    StagePatch,
    WinIn,
)
from kehu.tenancy.api import staff_ref
from kehu.tenancy.api_auth import api_user, require_manage, require_write
from kehu.tenancy.models import Team, User

router = Router(tags=["pipeline"])


# --- pipelines -------------------------------------------------------------------------


def _with_stages(pipelines: Any) -> Any:
    stages = Stage.objects.order_by("position")
    prefetch_related_objects(list(pipelines), Prefetch("stages", queryset=stages))
    return pipelines


@router.get("/pipelines", response=list[PipelineOut])
def list_pipelines(request: HttpRequest) -> list[Pipeline]:
    """Every pipeline of the firm with its stages in order, the default first."""
    api_user(request)
    return list(_with_stages(list(selectors.pipelines())))


def _stage_in(stage: StageIn) -> deals.StageIn:
    return deals.StageIn(stage.name, stage.probability, stage.kind, stage.required_fields)


@router.post("/pipelines", response={201: PipelineOut})
def create_pipeline(request: HttpRequest, payload: PipelineIn) -> Pipeline:
    user = api_user(request)
    require_manage(user)
    pipeline = deals.pipeline_create(
        actor=user,
        name=payload.name,
        stages=[_stage_in(s) for s in payload.stages],
        is_default=payload.is_default,
    )
    return _with_stages([pipeline])[0]  # type: ignore[no-any-return]


@router.patch("/pipelines/{int:pipeline_id}", response=PipelineOut)
def update_pipeline(request: HttpRequest, pipeline_id: int, payload: PipelinePatch) -> Pipeline:
    user = api_user(request)
    pipeline = selectors.get_pipeline(pipeline_id)
    require_manage(user)
    deals.pipeline_update(actor=user, pipeline=pipeline, **payload.dict(exclude_unset=True))
    return _with_stages([pipeline])[0]  # type: ignore[no-any-return]


@router.post("/pipelines/{int:pipeline_id}/stages", response={201: StageOut})
def add_stage(request: HttpRequest, pipeline_id: int, payload: StageIn) -> Stage:
    """A new open stage, before the won and lost stages."""
    user = api_user(request)
    pipeline = selectors.get_pipeline(pipeline_id)
    require_manage(user)
    return deals.stage_add(actor=user, pipeline=pipeline, stage=_stage_in(payload))


@router.patch("/stages/{int:stage_id}", response=StageOut)
def update_stage(request: HttpRequest, stage_id: int, payload: StagePatch) -> Stage:
    user = api_user(request)
    stage = selectors.get_stage(stage_id)
    require_manage(user)
    return deals.stage_update(actor=user, stage=stage, **payload.dict(exclude_unset=True))


@router.get("/lost-reasons", response=list[LostReasonOut])
def list_lost_reasons(request: HttpRequest) -> QuerySet[LostReason]:
    api_user(request)
    return selectors.lost_reasons()


@router.post("/lost-reasons", response={201: LostReasonOut})
def create_lost_reason(request: HttpRequest, payload: LostReasonIn) -> LostReason:
    user = api_user(request)
    require_manage(user)
    return deals.lost_reason_create(actor=user, name=payload.name)


# --- opportunities ---------------------------------------------------------------------


def _detail(deal: Opportunity) -> Opportunity:
    lines = OpportunityLine.objects.select_related("product").order_by("position")
    prefetch_related_objects([deal], Prefetch("lines", queryset=lines))
    rivals = OpportunityCompetitor.objects.filter(opportunity=deal).values_list("party_id")
    deal.competitor_ids = sorted(pk for (pk,) in rivals)  # type: ignore[attr-defined]
    return deal


def _party_ref(user: User, pk: int, field: str) -> Party:
    """A party named in a body: one the caller may not see is that field's error."""
    try:
        return get_party_for_user(user, pk)
    except Http404:
        raise ValidationError({field: _("没有找到编号为 %(id)s 的客户。") % {"id": pk}}) from None


def _body(user: User, payload: OpportunityIn | OpportunityPatch, *, unset: bool) -> dict[str, Any]:
    """The body with its ids turned into the records the services take."""
    data = payload.dict(exclude_unset=unset)
    if data.get("contact") is not None:
        data["contact"] = _party_ref(user, data["contact"], "contact")
    if data.get("owner") is not None:
        data["owner"] = staff_ref(data["owner"], "owner")
    if data.get("competitors") is not None:
        data["competitors"] = [
            _party_ref(user, pk, f"competitors[{i}]") for i, pk in enumerate(data["competitors"])
        ]
    if payload.lines is not None and "lines" in data:
        data["lines"] = order_lines_in(payload.lines)
    return data


@router.get("/opportunities", response=Page[OpportunityOut])
def list_opportunities(request: HttpRequest, filters: Query[OpportunityQuery]) -> dict[str, Any]:
    """The deals the caller may see, newest first; `stale=true` for those with no
    activity in the firm's stale period."""
    user = api_user(request)
    found = selectors.opportunity_list(
        user,
        selectors.OpportunityFilters(
            q=filters.q,
            pipeline_id=filters.pipeline,
            stage_id=filters.stage,
            status=filters.status or "",
            owner_id=filters.owner,
            team_id=filters.team,
            party_id=filters.party,
            stale=filters.stale,
            close_from=filters.close_from,
            close_to=filters.close_to,
        ),
    )
    return page_of(found, filters, capped_count(found))


@router.post("/opportunities", response={201: OpportunityDetailOut})
def create_opportunity(request: HttpRequest, payload: OpportunityIn) -> Opportunity:
    user = api_user(request)
    require_write(user)
    party = get_party_for_user(user, payload.party, write=True)
    data = _body(user, payload, unset=False)
    del data["party"]
    pipeline, stage = data.pop("pipeline"), data.pop("stage")
    deal = deals.opportunity_create(
        actor=user,
        party=party,
        pipeline=selectors.get_pipeline(pipeline) if pipeline else None,
        stage=selectors.get_stage(stage) if stage else None,
        **data,
    )
    return _detail(deal)


@router.get("/opportunities/{int:opportunity_id}", response=OpportunityDetailOut)
def get_opportunity(request: HttpRequest, opportunity_id: int) -> Opportunity:
    return _detail(selectors.get_opportunity_for_user(api_user(request), opportunity_id))


@router.patch("/opportunities/{int:opportunity_id}", response=OpportunityDetailOut)
def update_opportunity(
    request: HttpRequest, opportunity_id: int, payload: OpportunityPatch
) -> Opportunity:
    """Change some fields; `lines` and `competitors`, when sent, replace the old ones."""
    user = api_user(request)
    deal = selectors.get_opportunity_for_user(user, opportunity_id, write=True)
    data = _body(user, payload, unset=True)
    return _detail(deals.opportunity_update(actor=user, opportunity=deal, **data))


@router.post("/opportunities/{int:opportunity_id}/move", response=OpportunityDetailOut)
def move_opportunity(request: HttpRequest, opportunity_id: int, payload: MoveIn) -> Opportunity:
    """Move to another stage of its pipeline; refused (422) while the stage's required
    fields are missing. Moving to the won stage wins the deal."""
    user = api_user(request)
    deal = selectors.get_opportunity_for_user(user, opportunity_id, write=True)
    stage = Stage.objects.filter(pk=payload.stage, pipeline=deal.pipeline).first()
    if stage is None:
        raise ValidationError({"stage": _("只能移到同一流程的阶段。")})
    return _detail(deals.opportunity_move(actor=user, opportunity=deal, stage=stage))


@router.post("/opportunities/{int:opportunity_id}/win", response=OpportunityDetailOut)
def win_opportunity(request: HttpRequest, opportunity_id: int, payload: WinIn) -> Opportunity:
    """Won: a deal with products books a confirmed order for its party (`order_id`)."""
    user = api_user(request)
    deal = selectors.get_opportunity_for_user(user, opportunity_id, write=True)
    won = deals.opportunity_win(
        actor=user, opportunity=deal, closed_on=payload.closed_on, note=payload.note
    )
    return _detail(won)


@router.post("/opportunities/{int:opportunity_id}/lose", response=OpportunityDetailOut)
def lose_opportunity(request: HttpRequest, opportunity_id: int, payload: LoseIn) -> Opportunity:
    user = api_user(request)
    deal = selectors.get_opportunity_for_user(user, opportunity_id, write=True)
    reason = None
    if payload.lost_reason is not None:
        reason = LostReason.objects.filter(pk=payload.lost_reason).first()
        if reason is None:
            raise ValidationError({"lost_reason": _("没有找到这个输单原因。")})
    lost = deals.opportunity_lose(actor=user, opportunity=deal, reason=reason, note=payload.note)
    return _detail(lost)


@router.get("/forecast", response=list[ForecastRowOut])
def get_forecast(request: HttpRequest, query: Query[ForecastQuery]) -> list[Any]:
    """Weighted amount of the open deals the caller sees, by expected close month (and
    owner or team)."""
    return selectors.forecast(api_user(request), query.by, query.currency)


# --- leads -----------------------------------------------------------------------------


def _product(pk: int | None) -> Product | None:
    if pk is None:
        return None
    product = Product.objects.filter(pk=pk).first()
    if product is None:
        raise ValidationError({"product_interest": _("没有找到这个产品。")})
    return product


def _team(pk: int) -> Team:
    team = Team.objects.filter(pk=pk).first()
    if team is None:
        raise ValidationError({"team": _("没有找到这个团队。")})
    return team


@router.get("/leads", response=Page[LeadOut])
def list_leads(request: HttpRequest, filters: Query[LeadQuery]) -> dict[str, Any]:
    user = api_user(request)
    found = selectors.lead_list(
        user,
        selectors.LeadFilters(
            q=filters.q,
            status=filters.status or "",
            source_channel=filters.source_channel or "",
            owner_id=filters.owner,
            team_id=filters.team,
        ),
    )
    return page_of(found, filters, capped_count(found))


@router.post("/leads", response={201: LeadOut})
def create_lead(request: HttpRequest, payload: LeadIn) -> Lead:
    """A lead from another system; without an owner it is assigned by the firm's rules."""
    user = api_user(request)
    require_write(user)
    data = payload.dict(exclude={"owner"})
    owner = staff_ref(payload.owner, "owner") if payload.owner is not None else None
    data["product_interest"] = _product(data["product_interest"])
    return leads.lead_create(actor=user, via="api", owner=owner, **data)


@router.get("/leads/{int:lead_id}", response=LeadOut)
def get_lead(request: HttpRequest, lead_id: int) -> Lead:
    return selectors.get_lead_for_user(api_user(request), lead_id)


@router.patch("/leads/{int:lead_id}", response=LeadOut)
def update_lead(request: HttpRequest, lead_id: int, payload: LeadPatch) -> Lead:
    user = api_user(request)
    lead = selectors.get_lead_for_user(user, lead_id, write=True)
    changes = payload.dict(exclude_unset=True)
    if "product_interest" in changes:
        changes["product_interest"] = _product(changes["product_interest"])
    return leads.lead_update(actor=user, lead=lead, **changes)


@router.post("/leads/{int:lead_id}/assign", response=LeadOut)
def assign_lead(request: HttpRequest, lead_id: int, payload: AssignIn) -> Lead:
    """To a person, to a team's next member in turn, or (neither) by the rules again."""
    user = api_user(request)
    lead = selectors.get_lead_for_user(user, lead_id, write=True)
    owner = staff_ref(payload.owner, "owner") if payload.owner is not None else None
    team = _team(payload.team) if payload.team is not None else None
    return leads.lead_assign(actor=user, lead=lead, owner=owner, team=team)


@router.post("/leads/{int:lead_id}/qualify", response=LeadOut)
def qualify_lead(request: HttpRequest, lead_id: int) -> Lead:
    user = api_user(request)
    lead = selectors.get_lead_for_user(user, lead_id, write=True)
    return leads.lead_qualify(actor=user, lead=lead)


@router.post("/leads/{int:lead_id}/disqualify", response=LeadOut)
def disqualify_lead(request: HttpRequest, lead_id: int, payload: DisqualifyIn) -> Lead:
    user = api_user(request)
    lead = selectors.get_lead_for_user(user, lead_id, write=True)
    return leads.lead_disqualify(actor=user, lead=lead, reason=payload.reason)


@router.get("/leads/{int:lead_id}/duplicates", response=list[PartyRef])
def lead_duplicates(request: HttpRequest, lead_id: int) -> list[Party]:
    """Parties of the archive the lead may already be (mobile, email, USCC, name), of
    those the caller may see."""
    user = api_user(request)
    lead = selectors.get_lead_for_user(user, lead_id)
    found = leads.lead_duplicates(lead)
    visible = set(
        parties_visible_to(user).filter(pk__in=[p.pk for p in found]).values_list("pk", flat=True)
    )
    return [p for p in found if p.pk in visible]


@router.post("/leads/{int:lead_id}/convert", response={201: OpportunityDetailOut})
def convert_lead(request: HttpRequest, lead_id: int, payload: ConvertIn) -> Opportunity:
    """Into a party, a contact person and a deal in the default pipeline. A likely
    duplicate is refused (422, naming the candidates): send `existing_party` to link the
    lead to one of them, or `create_anyway`."""
    user = api_user(request)
    lead = selectors.get_lead_for_user(user, lead_id, write=True)
    existing = None
    if payload.existing_party is not None:
        existing = _party_ref(user, payload.existing_party, "existing_party")
    deal = leads.lead_convert(
        actor=user,
        lead=lead,
        existing=existing,
        create_anyway=payload.create_anyway,
        opportunity_name=payload.opportunity_name,
    )
    return _detail(deal)

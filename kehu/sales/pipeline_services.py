"""Writes of pipelines, stages and opportunities. Each runs in one transaction, audited.

Callers have checked access (pipeline_selectors.get_opportunity_for_user; can_manage for
pipeline configuration). Here are the data's own rules: a stage asks for fields before
an opportunity may enter it (and every stage before it, so that skipping a stage skips
no requirement); winning books an order for the party's products; losing needs a reason.
"""

import datetime
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from kehu.core.audit import audit_entry, audit_write, diff, snapshot
from kehu.core.context import current_tenant_id
from kehu.core.models import AuditEntry
from kehu.parties.models import Party, PartyKind, PartyRole, PartyRoleKind
from kehu.sales import services
from kehu.sales.models import (
    ZERO,
    Currency,
    LostReason,
    Opportunity,
    OpportunityCompetitor,
    OpportunityLine,
    OrderStatus,
    Pipeline,
    PipelineSettings,
    Stage,
    StageField,
    StageKind,
    StageMove,
    cycle_days_of,
)
from kehu.sales.stage_stays import stage_stays_add
from kehu.sales.stage_totals import BoardKey, board_key, cents, stage_totals_move
from kehu.tenancy.models import User

Action = AuditEntry.Action
OPPORTUNITY_FIELDS = (
    "name",
    "party",
    "contact",
    "pipeline",
    "stage",
    "owner",
    "amount",
    "currency",
    "expected_close_date",
    "next_step",
    "competitor_note",
    "source_channel",
    "campaign",
    "lost_reason",
    "close_note",
    "closed_on",
    "order",
)
EDITABLE = frozenset(
    {"name", "contact", "owner", "amount", "currency", "expected_close_date", "next_step"}
) | {"competitor_note", "source_channel", "campaign"}
STAGE_FIELDS = ("pipeline", "name", "position", "probability", "kind", "required_fields")


@dataclass(frozen=True)
class StageIn:
    name: str
    probability: int
    kind: str = StageKind.OPEN
    required_fields: Sequence[str] = ()


# --- pipelines and stages --------------------------------------------------------------


def _check_stage(stage: Stage) -> None:
    stage.name = " ".join(stage.name.split())
    unknown = set(stage.required_fields) - set(StageField.values)
    if unknown:
        raise ValidationError(
            {"required_fields": _("未知的必填字段：%(f)s") % {"f": ", ".join(sorted(unknown))}}
        )
    if not 0 <= stage.probability <= 100:
        raise ValidationError({"probability": _("赢单概率应在 0 到 100 之间。")})
    if stage.kind == StageKind.WON and stage.probability != 100:
        raise ValidationError({"probability": _("赢单阶段的概率应为 100。")})
    if stage.kind == StageKind.LOST and stage.probability != 0:
        raise ValidationError({"probability": _("输单阶段的概率应为 0。")})
    stage.required_fields = sorted(set(stage.required_fields))
    stage.full_clean(exclude=["tenant", "pipeline"], validate_constraints=False)


def _save_stage(stage: Stage) -> None:
    _check_stage(stage)
    try:
        with transaction.atomic():
            stage.save()
    except IntegrityError as exc:
        raise ValidationError({"name": _("这个流程已有同名阶段。")}) from exc


def _check_pipeline_kinds(pipeline: Pipeline) -> None:
    """A pipeline has open stages, exactly one won stage and exactly one lost stage."""
    kinds = list(Stage.objects.filter(pipeline=pipeline).values_list("kind", flat=True))
    if kinds.count(StageKind.WON) != 1 or kinds.count(StageKind.LOST) != 1:
        raise ValidationError({"stages": _("流程必须恰好有一个赢单阶段和一个输单阶段。")})
    if StageKind.OPEN not in kinds:
        raise ValidationError({"stages": _("流程至少要有一个进行中的阶段。")})


def _make_default(pipeline: Pipeline) -> None:
    Pipeline.objects.exclude(pk=pipeline.pk).filter(is_default=True).update(is_default=False)


@transaction.atomic
def pipeline_create(
    *, actor: User, name: str, stages: Sequence[StageIn], is_default: bool = False
) -> Pipeline:
    """A pipeline with its stages in the given order (open ones, then won and lost)."""
    pipeline = Pipeline(tenant_id=current_tenant_id(), name=" ".join(name.split()))
    pipeline.is_default = is_default or not Pipeline.objects.exists()
    pipeline.full_clean(exclude=["tenant"], validate_constraints=False)
    if pipeline.is_default:
        _make_default(pipeline)
    try:
        with transaction.atomic():
            pipeline.save()
    except IntegrityError as exc:
        raise ValidationError({"name": _("已有同名销售流程。")}) from exc
    for i, given in enumerate(stages):
        stage = Stage(pipeline=pipeline, position=i + 1, **given.__dict__)
        stage.tenant_id = pipeline.tenant_id
        try:
            _save_stage(stage)
        except ValidationError as exc:
            raise ValidationError(
                {f"stages[{i}].{k}": v for k, v in exc.message_dict.items()}
            ) from exc
    _check_pipeline_kinds(pipeline)
    audit_write(
        actor_id=actor.pk,
        action=Action.CREATE,
        obj=pipeline,
        changes={"name": [None, pipeline.name], "stages": [None, [s.name for s in stages]]},
    )
    return pipeline


@transaction.atomic
def pipeline_update(
    *, actor: User, pipeline: Pipeline, name: str | None = None, is_default: bool | None = None
) -> Pipeline:
    before = snapshot(pipeline, ("name", "is_default"))
    if name is not None:
        pipeline.name = " ".join(name.split())
    if is_default is False and pipeline.is_default:
        raise ValidationError({"is_default": _("请把另一个流程设为默认，而不是取消默认。")})
    if is_default:
        _make_default(pipeline)
        pipeline.is_default = True
    pipeline.full_clean(exclude=["tenant"], validate_constraints=False)
    try:
        with transaction.atomic():
            pipeline.save()
    except IntegrityError as exc:
        raise ValidationError({"name": _("已有同名销售流程。")}) from exc
    changed = diff(before, snapshot(pipeline, ("name", "is_default")))
    if changed:
        audit_write(actor_id=actor.pk, action=Action.UPDATE, obj=pipeline, changes=changed)
    return pipeline


@transaction.atomic
def stage_add(*, actor: User, pipeline: Pipeline, stage: StageIn) -> Stage:
    """A new open stage, placed before the won and lost stages."""
    if stage.kind != StageKind.OPEN:
        raise ValidationError({"kind": _("流程已有赢单和输单阶段，只能添加进行中的阶段。")})
    stages = Stage.objects.filter(pipeline=pipeline)
    last_open = max((s.position for s in stages if s.is_open), default=0)
    stages.filter(position__gt=last_open).update(position=F("position") + 1)
    added = Stage(pipeline=pipeline, position=last_open + 1, **stage.__dict__)
    added.tenant_id = pipeline.tenant_id
    _save_stage(added)
    audit_write(
        actor_id=actor.pk,
        action=Action.CREATE,
        obj=added,
        changes=diff({}, snapshot(added, STAGE_FIELDS)),
        root=pipeline,
    )
    return added


@transaction.atomic
def stage_update(*, actor: User, stage: Stage, **changes: Any) -> Stage:
    """Rename a stage, change its probability or the fields it requires."""
    unknown = set(changes) - {"name", "probability", "required_fields"}
    if unknown:
        raise ValidationError(
            _("不能修改这些字段：%(fields)s") % {"fields": ", ".join(sorted(unknown))}
        )
    before = snapshot(stage, STAGE_FIELDS)
    for name, value in changes.items():
        setattr(stage, name, value)
    _save_stage(stage)
    changed = diff(before, snapshot(stage, STAGE_FIELDS))
    if changed:
        audit_write(
            actor_id=actor.pk, action=Action.UPDATE, obj=stage, changes=changed, root=stage.pipeline
        )
    return stage


@transaction.atomic
def lost_reason_create(*, actor: User, name: str) -> LostReason:
    reason = LostReason(tenant_id=current_tenant_id(), name=" ".join(name.split()))
    reason.position = LostReason.objects.count() + 1
    reason.full_clean(exclude=["tenant"], validate_constraints=False)
    try:
        with transaction.atomic():
            reason.save()
    except IntegrityError as exc:
        raise ValidationError({"name": _("已有这个输单原因。")}) from exc
    audit_write(actor_id=actor.pk, action=Action.CREATE, obj=reason, changes={"name": [None, name]})
    return reason


# --- opportunities ---------------------------------------------------------------------


def _first_open_stage(pipeline: Pipeline) -> Stage:
    stage = Stage.objects.filter(pipeline=pipeline, kind=StageKind.OPEN).order_by("position")
    found = stage.first()
    if found is None:
        raise ValidationError({"stage": _("这个流程没有进行中的阶段。")})
    return found


def default_pipeline() -> Pipeline:
    pipeline = Pipeline.objects.filter(is_default=True).first()
    if pipeline is None:
        raise ValidationError({"pipeline": _("还没有销售流程：请管理员先设置。")})
    return pipeline


def _priced(lines: Sequence[services.LineIn], currency: str) -> list[OpportunityLine]:
    """The order-line rules (product on sale, quantity, currency) applied to deal lines."""
    if not lines:
        return []
    return [
        OpportunityLine(
            tenant_id=current_tenant_id(),
            position=line.position,
            product=line.product,
            quantity=line.quantity,
            unit_price=line.unit_price,
            discount=line.discount,
            amount=line.amount,
        )
        for line in services.checked_lines(lines, currency)
    ]


def _check_people(opportunity: Opportunity) -> None:
    errors: dict[str, str] = {}
    tenant_id = current_tenant_id()
    party = opportunity.party
    if party.tenant_id != tenant_id or party.deleted_at is not None:
        errors["party"] = _("没有找到这个客户，或您无权查看。")
    contact = opportunity.contact
    if contact is not None and (contact.tenant_id != tenant_id or contact.kind != PartyKind.PERSON):
        errors["contact"] = _("联系人必须是本公司客户档案中的个人。")
    owner = opportunity.owner
    if owner.tenant_id != tenant_id or not owner.is_active:
        errors["owner"] = _("负责人必须是本公司在职员工。")
    if opportunity.currency not in Currency.values:
        errors["currency"] = _("不支持的币种：%(code)s。") % {"code": opportunity.currency}
    if errors:
        raise ValidationError(errors)


def _check_competitors(competitors: Sequence[Party]) -> None:
    ids = {party.pk for party in competitors}
    known = set(
        PartyRole.objects.filter(party_id__in=ids, role=PartyRoleKind.COMPETITOR).values_list(
            "party_id", flat=True
        )
    )
    if ids - known:
        raise ValidationError({"competitors": _("竞争对手必须是带「竞争对手」角色的客户档案。")})


def _set_competitors(opportunity: Opportunity, competitors: Sequence[Party]) -> None:
    _check_competitors(competitors)
    OpportunityCompetitor.objects.filter(opportunity=opportunity).delete()
    OpportunityCompetitor.objects.bulk_create(
        OpportunityCompetitor(tenant_id=opportunity.tenant_id, opportunity=opportunity, party=p)
        for p in {p.pk: p for p in competitors}.values()
    )


def _save_lines(opportunity: Opportunity, lines: list[OpportunityLine]) -> None:
    OpportunityLine.objects.filter(opportunity=opportunity).delete()
    for line in lines:
        line.opportunity = opportunity
    OpportunityLine.objects.bulk_create(lines)


def _audit(actor: User, opportunity: Opportunity, action: str, changes: dict[str, Any]) -> None:
    """In the deal's own history and in its party's."""
    AuditEntry.objects.bulk_create(
        [
            audit_entry(actor_id=actor.pk, action=action, obj=opportunity, changes=changes),
            audit_entry(
                actor_id=actor.pk,
                action=action,
                obj=opportunity,
                changes=changes,
                root=opportunity.party,
            ),
        ]
    )


def missing_fields(opportunity: Opportunity, stage: Stage, *, has_lines: bool) -> list[str]:
    """Labels of the fields `stage` (and every open stage before it) requires that the
    opportunity lacks."""
    earlier = Stage.objects.filter(
        pipeline_id=stage.pipeline_id, kind=StageKind.OPEN, position__lte=stage.position
    )
    required = set(stage.required_fields)
    for fields in earlier.values_list("required_fields", flat=True):
        required |= set(fields)
    filled: dict[str, bool] = {
        StageField.AMOUNT: opportunity.amount is not None,
        StageField.EXPECTED_CLOSE: opportunity.expected_close_date is not None,
        StageField.NEXT_STEP: bool(opportunity.next_step.strip()),
        StageField.CONTACT: opportunity.contact_id is not None,
        StageField.PRODUCTS: has_lines,
    }
    return [str(StageField(f).label) for f in StageField.values if f in required and not filled[f]]


def _require_fields(opportunity: Opportunity, stage: Stage, has_lines: bool | None = None) -> None:
    if has_lines is None:
        has_lines = OpportunityLine.objects.filter(opportunity=opportunity).exists()
    missing = missing_fields(opportunity, stage, has_lines=has_lines)
    if missing:
        raise ValidationError(
            {
                "stage": _("进入「%(stage)s」前请填写：%(fields)s。")
                % {"stage": stage.name, "fields": "、".join(missing)}
            }
        )


def _stored_key(opportunity: Opportunity) -> BoardKey:
    """The deal's stage, owner and amount as the database has them, locked for this
    transaction: what its stage totals hold for it (the instance may be stale)."""
    stored = Opportunity.objects.select_for_update().filter(pk=opportunity.pk)
    stage_id, owner_id, amount = stored.values_list("stage_id", "owner_id", "amount").get()
    return BoardKey(stage_id, owner_id, cents(amount))


def _recount(before: BoardKey, opportunity: Opportunity) -> None:
    stage_totals_move(before, board_key(opportunity))


def _record_move(actor: User, opportunity: Opportunity, from_stage: Stage | None) -> None:
    """The move, with how long the deal stayed in the stage it leaves (since it entered
    it: its last move)."""
    now = timezone.now()
    stayed = None
    if from_stage is not None:
        stayed = (now - opportunity.stage_changed_at).total_seconds()
        stage_stays_add(from_stage.pk, now, stayed)
    opportunity.stage_changed_at = now
    StageMove.objects.create(
        tenant_id=opportunity.tenant_id,
        opportunity=opportunity,
        from_stage=from_stage,
        to_stage=opportunity.stage,
        moved_by=actor,
        moved_at=now,
        stayed_seconds=stayed,
    )


@transaction.atomic
def opportunity_create(
    *,
    actor: User,
    party: Party,
    name: str,
    pipeline: Pipeline | None = None,
    stage: Stage | None = None,
    owner: User | None = None,
    lines: Sequence[services.LineIn] = (),
    competitors: Sequence[Party] = (),
    **fields: Any,
) -> Opportunity:
    """A new open deal, in the pipeline's first stage unless another open one is given."""
    unknown = set(fields) - EDITABLE
    if unknown:
        raise ValidationError(_("未知字段：%(fields)s") % {"fields": ", ".join(sorted(unknown))})
    pipeline = pipeline or (stage.pipeline if stage else default_pipeline())
    stage = stage or _first_open_stage(pipeline)
    if stage.pipeline_id != pipeline.pk or not stage.is_open:
        raise ValidationError({"stage": _("请选择这个流程中进行中的阶段。")})
    opportunity = Opportunity(
        tenant_id=current_tenant_id(),
        name=" ".join(name.split()),
        party=party,
        pipeline=pipeline,
        stage=stage,
        owner=owner or party.owner,
        created_by=actor,
        stage_changed_at=timezone.now(),
        **fields,
    )
    _check_people(opportunity)
    priced = _priced(lines, opportunity.currency)
    if opportunity.amount is None and priced:
        opportunity.amount = sum((line.amount for line in priced), ZERO)
    _require_fields(opportunity, stage, has_lines=bool(priced))
    opportunity.full_clean(exclude=["tenant", "party", "contact", "owner", "pipeline", "stage"])
    opportunity.save()
    stage_totals_move(None, board_key(opportunity))
    _save_lines(opportunity, priced)
    _set_competitors(opportunity, competitors)
    _record_move(actor, opportunity, None)
    _audit(actor, opportunity, Action.CREATE, diff({}, snapshot(opportunity, OPPORTUNITY_FIELDS)))
    return opportunity


def _check_open(opportunity: Opportunity) -> None:
    if not opportunity.stage.is_open:
        raise ValidationError(
            {"stage": _("商机已「%(stage)s」，不能再修改。") % {"stage": opportunity.stage.name}}
        )


@transaction.atomic
def opportunity_update(
    *,
    actor: User,
    opportunity: Opportunity,
    lines: Sequence[services.LineIn] | None = None,
    competitors: Sequence[Party] | None = None,
    **changes: Any,
) -> Opportunity:
    unknown = set(changes) - EDITABLE
    if unknown:
        raise ValidationError(
            _("不能修改这些字段：%(fields)s") % {"fields": ", ".join(sorted(unknown))}
        )
    _check_open(opportunity)
    counted = _stored_key(opportunity)
    before = snapshot(opportunity, OPPORTUNITY_FIELDS)
    for name, value in changes.items():
        setattr(opportunity, name, value)
    if isinstance(opportunity.name, str):
        opportunity.name = " ".join(opportunity.name.split())
    _check_people(opportunity)
    if lines is not None:
        _save_lines(opportunity, _priced(lines, opportunity.currency))
    if competitors is not None:
        _set_competitors(opportunity, competitors)
    _require_fields(opportunity, opportunity.stage)
    opportunity.full_clean(exclude=["tenant", "party", "contact", "owner", "pipeline", "stage"])
    opportunity.save()
    _recount(counted, opportunity)
    changed = diff(before, snapshot(opportunity, OPPORTUNITY_FIELDS))
    if lines is not None:
        changed["lines"] = [None, opportunity_lines_summary(opportunity)]
    if changed:
        _audit(actor, opportunity, Action.UPDATE, changed)
    return opportunity


@transaction.atomic
def opportunity_hand_over(
    *, actor: User, opportunity: Opportunity, receiver: User, note: str
) -> Opportunity:
    """Give an open deal to `receiver`, with the handover note in its history (and its
    party's)."""
    _check_open(opportunity)
    counted = _stored_key(opportunity)
    before = opportunity.owner
    opportunity.owner = receiver
    _check_people(opportunity)
    opportunity.save(update_fields=["owner", "updated_at"])
    stage_totals_move(counted, counted._replace(owner_id=receiver.pk))
    changes = {"owner": [str(before), str(receiver)], "handover_note": [None, note]}
    _audit(actor, opportunity, Action.UPDATE, changes)
    return opportunity


def opportunity_lines_summary(opportunity: Opportunity) -> list[str]:
    lines = OpportunityLine.objects.filter(opportunity=opportunity).select_related("product")
    return [
        f"{line.product.code} × {line.quantity.normalize():f} @ {line.unit_price}"
        for line in lines.order_by("position")
    ]


def _change_stage(actor: User, opportunity: Opportunity, stage: Stage) -> None:
    counted = _stored_key(opportunity)
    before = opportunity.stage
    opportunity.stage = stage
    _record_move(actor, opportunity, before)
    opportunity.save()
    _recount(counted, opportunity)
    _audit(actor, opportunity, Action.STATE, {"stage": [before.name, stage.name]})


@transaction.atomic
def opportunity_move(*, actor: User, opportunity: Opportunity, stage: Stage) -> Opportunity:
    """Move an open deal to another open stage of its pipeline (the board's drag).
    Winning and losing have their own functions: a won deal books an order, a lost
    one needs its reason."""
    _check_open(opportunity)
    if stage.pipeline_id != opportunity.pipeline_id:
        raise ValidationError({"stage": _("只能移到同一流程的阶段。")})
    if stage.kind == StageKind.WON:
        return opportunity_win(actor=actor, opportunity=opportunity)
    if stage.kind == StageKind.LOST:
        raise ValidationError({"stage": _("输单需要填写原因：请在商机页点「输单」。")})
    if stage.pk == opportunity.stage_id:
        return opportunity
    _require_fields(opportunity, stage)
    _change_stage(actor, opportunity, stage)
    return opportunity


def _closing_stage(opportunity: Opportunity, kind: str) -> Stage:
    return Stage.objects.get(pipeline_id=opportunity.pipeline_id, kind=kind)


@transaction.atomic
def opportunity_win(
    *,
    actor: User,
    opportunity: Opportunity,
    closed_on: datetime.date | None = None,
    note: str = "",
) -> Opportunity:
    """Won: the deal's products become a confirmed order of its party (which lands on
    the timeline, makes the party a customer and counts in revenue)."""
    _check_open(opportunity)
    won = _closing_stage(opportunity, StageKind.WON)
    _require_fields(opportunity, won)
    opportunity.closed_on = closed_on or timezone.localdate()
    opportunity.cycle_days = cycle_days_of(opportunity.created_at, opportunity.closed_on)
    opportunity.close_note = note.strip()
    lines = list(
        OpportunityLine.objects.filter(opportunity=opportunity)
        .select_related("product")
        .order_by("position")
    )
    if lines:
        opportunity.order = services.order_create(
            actor=actor,
            party=opportunity.party,
            lines=[
                services.LineIn(line.product, line.quantity, line.unit_price, None, line.discount)
                for line in lines
            ],
            order_date=opportunity.closed_on,
            status=OrderStatus.CONFIRMED,
            currency=opportunity.currency,
            owner=opportunity.owner,
            note=_("赢单：%(name)s") % {"name": opportunity.name},
        )
    _change_stage(actor, opportunity, won)
    return opportunity


@transaction.atomic
def opportunity_lose(
    *,
    actor: User,
    opportunity: Opportunity,
    reason: LostReason | None,
    note: str = "",
    closed_on: datetime.date | None = None,
) -> Opportunity:
    """Lost, with one of the firm's reasons (or, where it has none, a written one)."""
    _check_open(opportunity)
    if reason is None and (LostReason.objects.exists() or not note.strip()):
        raise ValidationError({"lost_reason": _("请选择输单原因。")})
    if reason is not None and reason.tenant_id != current_tenant_id():
        raise ValidationError({"lost_reason": _("没有找到这个输单原因。")})
    opportunity.lost_reason = reason
    opportunity.close_note = note.strip()[:500]
    opportunity.closed_on = closed_on or timezone.localdate()
    opportunity.cycle_days = cycle_days_of(opportunity.created_at, opportunity.closed_on)
    _change_stage(actor, opportunity, _closing_stage(opportunity, StageKind.LOST))
    return opportunity


def weighted(amount: Decimal | None, probability: int) -> Decimal:
    """amount × probability, to the cent (nothing for a deal with no amount yet)."""
    return services.money((amount or ZERO) * probability / 100)


SETTINGS_FIELDS = ("stale_days", "default_team")


@transaction.atomic
def settings_update(*, actor: User, **changes: Any) -> PipelineSettings:
    """The stale period and the team that gets leads no rule matches."""
    unknown = set(changes) - set(SETTINGS_FIELDS)
    if unknown:
        raise ValidationError(
            _("不能修改这些字段：%(fields)s") % {"fields": ", ".join(sorted(unknown))}
        )
    found, _created = PipelineSettings.objects.select_for_update().get_or_create(
        tenant_id=current_tenant_id()
    )
    before = snapshot(found, SETTINGS_FIELDS)
    for name, value in changes.items():
        setattr(found, name, value)
    team = found.default_team
    if team is not None and team.tenant_id != found.tenant_id:
        raise ValidationError({"default_team": _("没有找到这个团队。")})
    if not 1 <= found.stale_days <= 365:
        raise ValidationError({"stale_days": _("停滞天数应在 1 到 365 之间。")})
    found.save()
    changed = diff(before, snapshot(found, SETTINGS_FIELDS))
    if changed:
        audit_write(actor_id=actor.pk, action=Action.UPDATE, obj=found, changes=changed)
    return found

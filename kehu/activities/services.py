"""Writes of interactions and tasks; each lands on the timeline of every party involved."""

import datetime
from collections.abc import Iterable, Sequence

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from kehu.activities.models import (
    Interaction,
    InteractionParty,
    ServiceKind,
    ServiceTime,
    Task,
    TaskStatus,
)
from kehu.activities.summary import effort_refresh
from kehu.core.audit import audit_entry, audit_write, diff, snapshot
from kehu.core.models import AuditEntry
from kehu.parties.models import Party
from kehu.parties.services import party_touch
from kehu.tenancy.models import User

INTERACTION_FIELDS = ("kind", "subject", "body", "occurred_at", "duration_minutes")
TASK_FIELDS = ("title", "note", "due_date", "assignee", "party", "status", "time_spent_minutes")
SERVICE_TIME_FIELDS = ("user", "worked_on", "minutes", "kind", "note")
Action = AuditEntry.Action


@transaction.atomic
def interaction_log(
    *,
    actor: User,
    parties: Sequence[Party],
    kind: str,
    subject: str,
    body: str = "",
    occurred_at: datetime.datetime | None = None,
    duration_minutes: int | None = None,
) -> Interaction:
    if not parties:
        raise ValidationError({"parties": _("至少选择一个客户。")})
    interaction = Interaction(
        kind=kind,
        subject=subject,
        body=body,
        occurred_at=occurred_at or timezone.now(),
        duration_minutes=duration_minutes,
        created_by=actor,
    )
    interaction_check(interaction)
    interaction.save()
    unique = {p.pk: p for p in parties}
    InteractionParty.objects.bulk_create(
        InteractionParty(
            tenant_id=interaction.tenant_id,
            interaction=interaction,
            party_id=pk,
            occurred_at=interaction.occurred_at,
        )
        for pk in unique
    )
    changes = diff({}, snapshot(interaction, INTERACTION_FIELDS))
    _audit_interaction(actor, interaction, Action.CREATE, changes, party_ids=unique)
    party_touch(actor=actor, party_ids=unique)
    if interaction.duration_minutes:
        effort_refresh(unique)
    return interaction


def interaction_check(interaction: Interaction) -> None:
    """The archive's rules for an interaction about to be written (also the importer's)."""
    interaction.full_clean(exclude=["tenant", "created_by"])
    if interaction.occurred_at > timezone.now() + datetime.timedelta(days=1):
        raise ValidationError({"occurred_at": _("互动时间不能晚于明天。")})


def _audit_interaction(
    actor: User,
    interaction: Interaction,
    action: str,
    changes: dict[str, list[object]],
    party_ids: Iterable[int] | None = None,
) -> None:
    """One entry in the history of every party involved (its own root), as its timeline."""
    if party_ids is None:
        party_ids = InteractionParty.objects.filter(interaction=interaction).values_list(
            "party_id", flat=True
        )
    AuditEntry.objects.bulk_create(
        audit_entry(
            actor_id=actor.pk, action=action, obj=interaction, changes=changes, root=Party(pk=pk)
        )
        for pk in sorted(party_ids)
    )


@transaction.atomic
def interaction_update(*, actor: User, interaction: Interaction, **changes: object) -> Interaction:
    """Correct the kind, subject, body, time or duration; the parties stay."""
    allowed = {"kind", "subject", "body", "occurred_at", "duration_minutes"}
    before = _apply(interaction, changes, allowed, INTERACTION_FIELDS)
    interaction_check(interaction)
    interaction.save()
    changed = diff(before, snapshot(interaction, INTERACTION_FIELDS))
    if "occurred_at" in changed:
        # The timeline's copy of the moment (InteractionParty is indexed by it).
        InteractionParty.objects.filter(interaction=interaction).update(
            occurred_at=interaction.occurred_at
        )
    if changed:
        _audit_interaction(actor, interaction, Action.UPDATE, changed)
    if {"occurred_at", "duration_minutes"} & set(changed):
        effort_refresh(_parties_of(interaction))
    return interaction


def _parties_of(interaction: Interaction) -> list[int]:
    links = InteractionParty.objects.filter(interaction=interaction)
    return list(links.values_list("party_id", flat=True))


@transaction.atomic
def interaction_delete(*, actor: User, interaction: Interaction) -> None:
    """Remove a mistaken log from every timeline; each party's history keeps what it was."""
    _audit_interaction(
        actor, interaction, Action.DELETE, diff(snapshot(interaction, INTERACTION_FIELDS), {})
    )
    parties = _parties_of(interaction)
    interaction.delete()
    effort_refresh(parties)


def _apply(
    obj: Interaction | Task | ServiceTime,
    changes: dict[str, object],
    allowed: set[str],
    fields: Sequence[str],
) -> dict[str, object]:
    """Set the `allowed` changes on `obj` (any other is refused); its values before."""
    unknown = set(changes) - allowed
    if unknown:
        raise ValidationError(
            _("不能修改这些字段：%(fields)s") % {"fields": ", ".join(sorted(unknown))}
        )
    before = snapshot(obj, fields)
    for name, value in changes.items():
        setattr(obj, name, value)
    return before


def _check_assignee(assignee: User) -> None:
    if not assignee.is_active:
        raise ValidationError({"assignee": _("执行人必须是在职员工。")})


def _check_worker(user: User) -> None:
    if not user.is_active:
        raise ValidationError({"user": _("只能为在职员工记录工时。")})


def _audit_task(actor: User, task: Task, action: str, changes: dict[str, list[object]]) -> None:
    audit_write(
        actor_id=actor.pk,
        action=action,
        obj=task,
        changes=changes,
        root=task.party if task.party_id else task,
    )


@transaction.atomic
def task_create(
    *,
    actor: User,
    title: str,
    due_date: datetime.date,
    assignee: User | None = None,
    party: Party | None = None,
    note: str = "",
) -> Task:
    assignee = assignee or actor
    _check_assignee(assignee)
    task = Task(
        title=title, note=note, due_date=due_date, assignee=assignee, party=party, created_by=actor
    )
    task.full_clean(exclude=["tenant", "assignee", "party", "created_by"])
    task.save()
    _audit_task(actor, task, Action.CREATE, diff({}, snapshot(task, TASK_FIELDS)))
    return task


@transaction.atomic
def task_update(*, actor: User, task: Task, **changes: object) -> Task:
    allowed = {"title", "note", "due_date", "assignee", "time_spent_minutes"}
    before = _apply(task, changes, allowed, TASK_FIELDS)
    _check_assignee(task.assignee)
    task.full_clean(exclude=["tenant", "assignee", "party", "created_by"])
    task.save()
    changed = diff(before, snapshot(task, TASK_FIELDS))
    if changed:
        _audit_task(actor, task, Action.UPDATE, changed)
    if "time_spent_minutes" in changed and task.party_id:
        effort_refresh([task.party_id])
    return task


@transaction.atomic
def task_set_status(
    *, actor: User, task: Task, status: str, time_spent_minutes: int | None = None
) -> Task:
    """Close or reopen a task; closing it may record the time it took."""
    if status not in TaskStatus.values:
        raise ValidationError({"status": _("未知的任务状态：%(status)s") % {"status": status}})
    before = snapshot(task, TASK_FIELDS)
    task.status = status
    task.completed_at = timezone.now() if status == TaskStatus.DONE else None
    if time_spent_minutes is not None:
        task.time_spent_minutes = time_spent_minutes
        task.full_clean(exclude=["tenant", "assignee", "party", "created_by"])
    task.save(update_fields=["status", "completed_at", "time_spent_minutes"])
    _audit_task(actor, task, Action.UPDATE, diff(before, snapshot(task, TASK_FIELDS)))
    if status == TaskStatus.DONE and task.party_id:
        party_touch(actor=actor, party_ids=[task.party_id])
    if task.party_id:
        effort_refresh([task.party_id])
    return task


@transaction.atomic
def task_hand_over(*, actor: User, task: Task, receiver: User, note: str) -> Task:
    """Give an open task to `receiver`, with the handover note in its history."""
    _check_assignee(receiver)
    before = snapshot(task, TASK_FIELDS)
    task.assignee = receiver
    task.save(update_fields=["assignee"])
    changes = {**diff(before, snapshot(task, TASK_FIELDS)), "handover_note": [None, note]}
    _audit_task(actor, task, Action.UPDATE, changes)
    return task


# Service time: work for a party that is neither an interaction nor a task.


def _save_service_time(entry: ServiceTime) -> None:
    entry.full_clean(exclude=["tenant", "party", "user", "created_by"])
    if entry.worked_on > timezone.localdate():
        raise ValidationError({"worked_on": _("工时日期不能晚于今天。")})
    _check_worker(entry.user)
    entry.save()


@transaction.atomic
def service_time_log(
    *,
    actor: User,
    party: Party,
    minutes: int,
    worked_on: datetime.date | None = None,
    kind: str = ServiceKind.SERVICE,
    note: str = "",
    user: User | None = None,
) -> ServiceTime:
    """Record `minutes` of work for `party`, by the actor unless another `user` is named."""
    entry = ServiceTime(
        party=party,
        user=user or actor,
        worked_on=worked_on or timezone.localdate(),
        minutes=minutes,
        kind=kind,
        note=note,
        created_by=actor,
    )
    _save_service_time(entry)
    effort_refresh([party.pk])
    party_touch(actor=actor, party_ids=[party.pk])
    audit_write(
        actor_id=actor.pk,
        action=Action.CREATE,
        obj=entry,
        changes=diff({}, snapshot(entry, SERVICE_TIME_FIELDS)),
        root=party,
    )
    return entry


@transaction.atomic
def service_time_update(*, actor: User, entry: ServiceTime, **changes: object) -> ServiceTime:
    """Correct the day, minutes, kind or note of an entry (whose time it is stays)."""
    before = _apply(entry, changes, {"worked_on", "minutes", "kind", "note"}, SERVICE_TIME_FIELDS)
    _save_service_time(entry)
    effort_refresh([entry.party_id])
    changed = diff(before, snapshot(entry, SERVICE_TIME_FIELDS))
    if changed:
        audit_write(
            actor_id=actor.pk, action=Action.UPDATE, obj=entry, changes=changed, root=entry.party
        )
    return entry


@transaction.atomic
def service_time_delete(*, actor: User, entry: ServiceTime) -> None:
    audit_write(
        actor_id=actor.pk,
        action=Action.DELETE,
        obj=entry,
        changes=diff(snapshot(entry, SERVICE_TIME_FIELDS), {}),
        root=entry.party,
    )
    entry.delete()
    effort_refresh([entry.party_id])

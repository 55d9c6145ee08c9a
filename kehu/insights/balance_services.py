"""Writes of the balance sheet's planned spend (计划投入): create, change, delete, each
audited. Firm-level entries; the callers check that the actor may manage."""

from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from kehu.core.audit import audit_write, diff, snapshot
from kehu.core.context import current_tenant_id
from kehu.core.models import AuditEntry
from kehu.insights.models import PlannedSpend
from kehu.tenancy.models import User

SPEND_FIELDS = ("period_start", "period_end", "kind", "amount", "note")
CENT = Decimal("0.01")


def _save(entry: PlannedSpend) -> None:
    entry.note = " ".join(entry.note.split())
    errors: dict[str, list[str]] = {}
    try:
        entry.full_clean(exclude=["tenant", "created_by"], validate_constraints=False)
    except ValidationError as exc:
        errors = exc.message_dict
    if entry.amount is not None and entry.amount < 0:
        errors["amount"] = [_("金额不能为负数。")]
    elif entry.amount is not None and "amount" not in errors:
        entry.amount = Decimal(entry.amount).quantize(CENT)
    start, end = entry.period_start, entry.period_end
    if start and end and "period_end" not in errors and end < start:
        errors["period_end"] = [_("结束日期不能早于开始日期。")]
    if errors:
        raise ValidationError(errors)
    entry.save()


@transaction.atomic
def planned_spend_create(*, actor: User, **fields: Any) -> PlannedSpend:
    unknown = set(fields) - set(SPEND_FIELDS)
    if unknown:
        raise ValidationError(
            _("不能修改这些字段：%(fields)s") % {"fields": ", ".join(sorted(unknown))}
        )
    entry = PlannedSpend(tenant_id=current_tenant_id(), created_by=actor, **fields)
    _save(entry)
    audit_write(
        actor_id=actor.pk,
        action=AuditEntry.Action.CREATE,
        obj=entry,
        changes=diff({}, snapshot(entry, SPEND_FIELDS)),
    )
    return entry


@transaction.atomic
def planned_spend_update(*, actor: User, entry: PlannedSpend, **changes: Any) -> PlannedSpend:
    unknown = set(changes) - set(SPEND_FIELDS)
    if unknown:
        raise ValidationError(
            _("不能修改这些字段：%(fields)s") % {"fields": ", ".join(sorted(unknown))}
        )
    before = snapshot(entry, SPEND_FIELDS)
    for name, value in changes.items():
        setattr(entry, name, value)
    _save(entry)
    changed = diff(before, snapshot(entry, SPEND_FIELDS))
    if changed:
        audit_write(actor_id=actor.pk, action=AuditEntry.Action.UPDATE, obj=entry, changes=changed)
    return entry


@transaction.atomic
def planned_spend_delete(*, actor: User, entry: PlannedSpend) -> None:
    audit_write(
        actor_id=actor.pk,
        action=AuditEntry.Action.DELETE,
        obj=entry,
        changes=diff(snapshot(entry, SPEND_FIELDS), {}),
    )
    entry.delete()

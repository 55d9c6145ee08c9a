"""Writing and reading the audit log. Services call `audit_write` inside their transaction."""

import datetime
import decimal
from collections.abc import Iterable
from typing import Any

from django.db import models

from kehu.core.context import current_tenant_id
from kehu.core.models import AuditEntry

Snapshot = dict[str, Any]


def _plain(value: Any) -> Any:
    if isinstance(value, models.Model):
        return value.pk
    if isinstance(value, datetime.datetime | datetime.date):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, list | tuple | set):
        return sorted(_plain(v) for v in value)
    return value


def snapshot(obj: models.Model, fields: Iterable[str]) -> Snapshot:
    """The JSON-ready values of `fields` on `obj` (foreign keys as ids)."""
    out: Snapshot = {}
    for name in fields:
        field = obj._meta.get_field(name)
        attname = getattr(field, "attname", name)
        out[name] = _plain(getattr(obj, attname))
    return out


def diff(before: Snapshot, after: Snapshot) -> dict[str, list[Any]]:
    """{field: [before, after]} for every field whose value changed."""
    keys = before.keys() | after.keys()
    return {k: [before.get(k), after.get(k)] for k in sorted(keys) if before.get(k) != after.get(k)}


def audit_entry(
    *,
    actor_id: int | None,
    action: str,
    obj: models.Model,
    changes: dict[str, Any],
    root: models.Model | None = None,
) -> AuditEntry:
    """An unsaved entry: `audit_write` saves one, bulk writes save many at once."""
    root = root if root is not None else obj
    return AuditEntry(
        tenant_id=current_tenant_id(),
        actor_id=actor_id,
        action=action,
        object_type=obj._meta.label_lower,
        object_id=obj.pk,
        object_repr=str(obj)[:200],
        root_type=root._meta.label_lower,
        root_id=root.pk,
        changes=changes,
    )


def audit_write(
    *,
    actor_id: int | None,
    action: str,
    obj: models.Model,
    changes: dict[str, Any],
    root: models.Model | None = None,
) -> AuditEntry:
    entry = audit_entry(actor_id=actor_id, action=action, obj=obj, changes=changes, root=root)
    entry.save()
    return entry


def audit_for(root: models.Model) -> models.QuerySet[AuditEntry]:
    """The history of one record and its parts, newest first."""
    return (
        AuditEntry.objects.filter(root_type=root._meta.label_lower, root_id=root.pk)
        .select_related("actor")
        .order_by("-created_at", "-id")
    )

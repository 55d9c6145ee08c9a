"""Exporting a list: who may, how much, the audit record, and the streamed file.

Every member except the read-only role may export the lists they can see (an export is
the customer list leaving the system: a read-only colleague may look, not take away).
An export is refused, with a message saying why, past `KEHU_EXPORT_MAX_ROWS` rows (narrow
the filters) or past `KEHU_EXPORTS_PER_HOUR` exports by the same member in the last
hour. Each export is an `Export` row and an audit entry, written before the first byte:
who, which list, which filters; the row count when the last byte is sent.
"""

import datetime
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from kehu.core.audit import audit_write
from kehu.core.context import tenant_scope
from kehu.core.models import AuditEntry
from kehu.dataio.export_writers import csv_chunks, xlsx_chunks
from kehu.dataio.exports import EXPORTS, ExportList, filters_of
from kehu.dataio.models import Export
from kehu.parties.selectors import capped_count
from kehu.tenancy.models import Role, User

FORMATS = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


class ExportRefused(Exception):
    """Too many rows or too many exports: the message says which and what to do."""

    def __init__(self, message: str, *, rate_limited: bool = False):
        super().__init__(message)
        self.message = message
        self.rate_limited = rate_limited


def may_export(user: User) -> bool:
    return user.is_active and user.role != Role.READ_ONLY


@dataclass(frozen=True)
class ExportFile:
    """A started export: the file's name, type and bytes (read lazily, once)."""

    name: str
    content_type: str
    chunks: Generator[bytes]


def export_list(*, slug: str) -> ExportList:
    return EXPORTS[slug]


def export_start(*, actor: User, definition: ExportList, file_format: str, data: Any) -> ExportFile:
    """Check the member may export this list now, record the export, and return its
    file; the rows are read while the file is sent."""
    if not may_export(actor):
        raise PermissionDenied(_("您的角色不能导出数据。"))
    if file_format not in FORMATS:
        raise ValidationError({"format": _("格式应为 csv 或 xlsx。")})
    form = definition.bind(data)
    queryset = definition.queryset(actor, form)
    _check_limits(actor, queryset)
    record = _record(actor, definition, file_format, filters_of(form))
    rows = _counted(record, definition.rows(queryset))
    headers = definition.headers()
    if file_format == "csv":
        chunks = csv_chunks(headers, rows)
    else:
        chunks = xlsx_chunks(headers, rows, title=str(definition.title))
    stamp = timezone.localtime(record.created_at).strftime("%Y%m%d-%H%M%S")
    name = f"{definition.slug}-{stamp}.{file_format}"
    return ExportFile(name, FORMATS[file_format], _scoped(actor.tenant_id, chunks))


def _check_limits(actor: User, queryset: Any) -> None:
    hour_ago = timezone.now() - datetime.timedelta(hours=1)
    recent = Export.objects.filter(created_by=actor, created_at__gte=hour_ago).count()
    if recent >= settings.KEHU_EXPORTS_PER_HOUR:
        raise ExportRefused(
            _("一小时内最多导出 %(n)s 次，请稍后再试。") % {"n": settings.KEHU_EXPORTS_PER_HOUR},
            rate_limited=True,
        )
    limit = settings.KEHU_EXPORT_MAX_ROWS
    _count, within = capped_count(queryset, limit)
    if not within:
        raise ExportRefused(
            _("一次最多导出 %(n)s 行，请缩小筛选范围后分批导出。") % {"n": f"{limit:,}"}
        )


@transaction.atomic
def _record(
    actor: User, definition: ExportList, file_format: str, filters: dict[str, Any]
) -> Export:
    record = Export.objects.create(
        created_by=actor, list_name=definition.slug, file_format=file_format, filters=filters
    )
    changes = {"list": definition.slug, "format": file_format, "filters": filters}
    audit_write(actor_id=actor.pk, action=AuditEntry.Action.CREATE, obj=record, changes=changes)
    return record


def _counted(record: Export, rows: Iterator[Any]) -> Iterator[Any]:
    """The rows, counted; the count is saved when they end or the client goes away."""
    n = 0
    done = False
    try:
        for row in rows:
            n += 1
            yield row
        done = True
    finally:
        _finish(record, n, done)


def _finish(record: Export, n: int, done: bool) -> None:
    with transaction.atomic():
        Export.objects.filter(pk=record.pk).update(
            row_count=n, finished_at=timezone.now() if done else None
        )
        audit_write(
            actor_id=record.created_by_id,
            action=AuditEntry.Action.UPDATE,
            obj=record,
            changes={"row_count": [None, n], "finished": [False, done]},
        )


def _scoped(tenant_id: int | None, chunks: Iterator[bytes]) -> Generator[bytes]:
    """The chunks read inside the tenant's scope: a streamed response is read after the
    request's scope has closed."""
    assert tenant_id is not None
    with tenant_scope(tenant_id):
        yield from chunks

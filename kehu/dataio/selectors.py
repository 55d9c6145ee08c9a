"""Reads of imports, scoped to the tenant and to who may see them.

Importing is a writer's work (admin, manager, sales, service, marketing): each import
belongs to the member who uploaded it; managers see every import of the firm, to help
and to audit. Anyone else gets a 404 — an import's file is the customer list itself.
"""

import csv
import io
from collections.abc import Iterator

from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404

from kehu.core.context import tenant_scope
from kehu.dataio.models import Import, ImportRow, MappingTemplate, Outcome
from kehu.tenancy.models import User

ERROR_COLUMN = "错误"
# A cell starting with one of these is a formula to Excel (CSV injection): prefixed with '.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\0")


def imports_visible_to(user: User) -> QuerySet[Import]:
    imports = Import.objects.all()
    return imports if user.can_manage else imports.filter(created_by=user)


def get_import_for_user(user: User, pk: int, *, write: bool = False) -> Import:
    job = imports_visible_to(user).filter(pk=pk).select_related("created_by").first()
    if job is None:
        raise Http404
    if write and not user.can_write:
        raise PermissionDenied
    return job


def import_list(user: User) -> QuerySet[Import]:
    return imports_visible_to(user).select_related("created_by").order_by("-id")


def import_rows(job: Import, *, phase: str, outcome: str = "") -> QuerySet[ImportRow]:
    rows = ImportRow.objects.filter(job=job, phase=phase)
    if outcome:
        rows = rows.filter(outcome=outcome)
    return rows.select_related("party").order_by("number")


def templates_for(target: str) -> QuerySet[MappingTemplate]:
    return MappingTemplate.objects.filter(target=target).order_by("name")


def safe_cell(value: str) -> str:
    return "'" + value if value.startswith(FORMULA_STARTS) else value


def error_file(job: Import) -> Iterator[str]:
    """The rows that were not imported, as CSV text (UTF-8 with a BOM, for Excel): the
    original columns plus 错误, every cell safe from formula injection. A streamed
    response reads it after the request's tenant scope has closed: it opens its own."""
    with tenant_scope(job.tenant_id):
        yield from _error_lines(job)


def _error_lines(job: Import) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([safe_cell(h) for h in [*job.headers, ERROR_COLUMN]])
    yield "\ufeff" + _drain(buffer)
    rows = import_rows(job, phase=job.phase).filter(
        outcome__in=[Outcome.REFUSED, Outcome.DUPLICATE]
    )
    for row in rows.select_related(None).only("values", "messages").iterator(chunk_size=2000):
        cells = [*row.values, *[""] * (len(job.headers) - len(row.values))]
        writer.writerow([safe_cell(str(c)) for c in [*cells, "；".join(row.messages)]])
        if buffer.tell() > 64 * 1024:
            yield _drain(buffer)
    yield _drain(buffer)


def _drain(buffer: io.StringIO) -> str:
    text = buffer.getvalue()
    buffer.seek(0)
    buffer.truncate()
    return text

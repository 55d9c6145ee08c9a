"""API of imports: upload, set the mapping, dry run, run, follow, read the rows and the
error file. Every import is fetched through `get_import_for_user` (404 when not the
caller's to see, 403 for a change by a role that may not write)."""

from typing import Any

from django.http import HttpRequest
from django.http.response import HttpResponseBase
from ninja import File, Form, Query, Router
from ninja.files import UploadedFile

from kehu.core.pagination import Page, PageParams, page_of
from kehu.dataio import selectors, services
from kehu.dataio.models import Import, ImportTarget
from kehu.dataio.schemas import ImportDetailOut, ImportOut, ImportRowOut, ImportRowQuery, MappingIn
from kehu.dataio.targets import fields_of
from kehu.dataio.views import error_file_response
from kehu.parties.selectors import capped_count
from kehu.tenancy.api_auth import api_user, require_write

router = Router(tags=["imports"])


def _detail(job: Import) -> dict[str, Any]:
    out = ImportOut.from_orm(job).dict()
    fields = [{"key": f.key, "label": str(f.label), "many": f.many} for f in fields_of(job.target)]
    extra = {"headers": job.headers, "mapping": job.mapping, "options": job.options}
    return {**out, **extra, "fields": fields, "resumable": services.import_resumable(job)}


@router.get("/imports", response=Page[ImportOut])
def list_imports(request: HttpRequest, params: Query[PageParams]) -> dict[str, Any]:
    """The caller's imports (a manager's: the firm's), newest first."""
    jobs = selectors.import_list(api_user(request))
    return page_of(jobs, params, capped_count(jobs))


@router.post("/imports", response={201: ImportDetailOut})
def upload(
    request: HttpRequest,
    file: File[UploadedFile],
    target: Form[ImportTarget] = ImportTarget.PARTIES,
) -> dict[str, Any]:
    """Upload a CSV, XLSX, XLS or vCard file (multipart field `file`) to import into
    `target` (parties, interactions or orders; multipart field, parties if left out);
    the mapping comes back guessed from the headers (or from a saved template that fits
    them)."""
    user = api_user(request)
    require_write(user)
    return _detail(services.import_upload(actor=user, file=file, target=target))


@router.get("/imports/{int:import_id}", response=ImportDetailOut)
def get_import(request: HttpRequest, import_id: int) -> dict[str, Any]:
    """The import, its mapping and its progress (poll this while it runs)."""
    return _detail(selectors.get_import_for_user(api_user(request), import_id))


@router.put("/imports/{int:import_id}/mapping", response=ImportDetailOut)
def set_mapping(request: HttpRequest, import_id: int, payload: MappingIn) -> dict[str, Any]:
    user = api_user(request)
    job = selectors.get_import_for_user(user, import_id, write=True)
    options = payload.options.dict() if payload.options else {}
    job = services.import_set_mapping(actor=user, job=job, mapping=payload.mapping, options=options)
    return _detail(job)


@router.post("/imports/{int:import_id}/dry-run", response=ImportDetailOut)
def dry_run(request: HttpRequest, import_id: int) -> dict[str, Any]:
    """Check every row without writing; a large file is checked in the background."""
    user = api_user(request)
    job = selectors.get_import_for_user(user, import_id, write=True)
    return _detail(services.import_dry_run(actor=user, job=job))


@router.post("/imports/{int:import_id}/run", response={202: ImportDetailOut})
def run(request: HttpRequest, import_id: int) -> dict[str, Any]:
    """Start the real import (after a dry run), in the background."""
    user = api_user(request)
    job = selectors.get_import_for_user(user, import_id, write=True)
    return _detail(services.import_start(actor=user, job=job))


@router.post("/imports/{int:import_id}/resume", response={202: ImportDetailOut})
def resume(request: HttpRequest, import_id: int) -> dict[str, Any]:
    """Go on with an interrupted run from its last committed batch."""
    user = api_user(request)
    job = selectors.get_import_for_user(user, import_id, write=True)
    return _detail(services.import_resume(actor=user, job=job))


@router.get("/imports/{int:import_id}/rows", response=Page[ImportRowOut])
def rows(request: HttpRequest, import_id: int, filters: Query[ImportRowQuery]) -> dict[str, Any]:
    """Each row's outcome (created, updated, unchanged, duplicate, refused) and why."""
    job = selectors.get_import_for_user(api_user(request), import_id)
    found = selectors.import_rows(
        job, phase=filters.phase or job.phase, outcome=filters.outcome or ""
    )
    return page_of(found, filters, capped_count(found))


@router.get("/imports/{int:import_id}/errors", response={200: None})
def errors(request: HttpRequest, import_id: int) -> HttpResponseBase:
    """The rows not imported, as CSV: the original columns and an 错误 column."""
    return error_file_response(selectors.get_import_for_user(api_user(request), import_id))

"""The import pages: upload → map columns → dry-run report → run → progress → result.

Each view authorises through `get_import_for_user` (404 when the import is not the
user's to see, 403 when the user may not write) and calls a service.
"""

from typing import cast

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from kehu.core.web import add_service_errors, render_page
from kehu.dataio import selectors, services
from kehu.dataio.forms import MappingForm, TemplateForm, UploadForm
from kehu.dataio.models import Import, ImportStatus, Outcome
from kehu.dataio.targets import fields_of
from kehu.parties.selectors import capped_count
from kehu.parties.views import page_number, paginate
from kehu.tenancy.views import MemberRequest, View, form_status, member_required, require

ACTIVE = {ImportStatus.CHECKING, ImportStatus.QUEUED, ImportStatus.RUNNING}


@member_required
def import_list(request: MemberRequest) -> HttpResponse:
    """My imports (a manager's: everyone's), and the upload form."""
    form = UploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST":
        require(request.user.can_write)
        if form.is_valid():
            try:
                job = services.import_upload(
                    actor=request.user,
                    file=form.cleaned_data["file"],
                    target=form.cleaned_data["target"],
                )
            except ValidationError as exc:
                add_service_errors(form, exc)
            else:
                return redirect("dataio:detail", pk=job.pk)
    jobs = selectors.import_list(request.user)
    page = paginate(jobs, page_number(request), capped_count(jobs))
    context = {"nav": "imports", "form": form, "page": page}
    return render(request, "dataio/list.html", context, status=form_status(form))


def _mapping_form(job: Import, data: dict[str, str] | None = None) -> MappingForm:
    return MappingForm(data, job=job, fields=list(fields_of(job.target)))


def _detail(request: MemberRequest, job: Import, form: MappingForm | None = None) -> HttpResponse:
    outcome = request.GET.get("outcome", "")
    outcome = outcome if outcome in Outcome.values else ""
    rows = selectors.import_rows(job, phase=job.phase, outcome=outcome)
    context = {
        "nav": "imports",
        "job": job,
        "form": form or _mapping_form(job),
        "template_form": TemplateForm(),
        "templates": selectors.templates_for(job.target),
        "editable": job.status in services.EDITABLE and request.user.can_write,
        "active": job.status in ACTIVE,
        "resumable": services.import_resumable(job) and request.user.can_write,
        "outcome": outcome,
        "outcomes": [(v, label, job.counts.get(v, 0)) for v, label in Outcome.choices],
        "page": paginate(rows, page_number(request), capped_count(rows)),
    }
    status = form_status(form) if form else 200
    return render_page(
        request, "dataio/detail.html", context, fragment="dataio/_report.html", status=status
    )


@member_required
def import_detail(request: MemberRequest, pk: int) -> HttpResponse:
    job = selectors.get_import_for_user(request.user, pk, write=request.method == "POST")
    if request.method != "POST":
        return _detail(request, job)
    form = _mapping_form(job, request.POST)
    if form.is_valid():
        try:
            job = services.import_set_mapping(
                actor=request.user, job=job, mapping=form.mapping(), options=form.options()
            )
            if request.POST.get("action") == "dry_run":
                job = services.import_dry_run(actor=request.user, job=job)
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            return redirect("dataio:detail", pk=job.pk)
    return _detail(request, job, form)


@member_required
@require_POST
def template_save(request: MemberRequest, pk: int) -> HttpResponse:
    job = selectors.get_import_for_user(request.user, pk, write=True)
    form = TemplateForm(request.POST)
    if form.is_valid():
        try:
            template = services.template_save(
                actor=request.user, job=job, name=form.cleaned_data["name"]
            )
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            messages.success(request, _("已保存映射模板「%(name)s」。") % {"name": template.name})
    else:
        messages.error(request, _("请填写模板名称（最多 50 个字符）。"))
    return redirect("dataio:detail", pk=job.pk)


def _act(request: MemberRequest, pk: int, action: object, done: str) -> HttpResponse:
    job = selectors.get_import_for_user(request.user, pk, write=True)
    try:
        action(actor=request.user, job=job)  # type: ignore[operator]
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, done)
    return redirect("dataio:detail", pk=job.pk)


@member_required
@require_POST
def import_start(request: MemberRequest, pk: int) -> HttpResponse:
    return _act(request, pk, services.import_start, _("已开始导入，可以离开本页，稍后回来查看。"))


@member_required
@require_POST
def import_resume(request: MemberRequest, pk: int) -> HttpResponse:
    return _act(request, pk, services.import_resume, _("已从上次完成的批次继续导入。"))


@member_required
@require_GET
def import_progress(request: MemberRequest, pk: int) -> HttpResponse:
    """The progress bar, polled by htmx; once the job stops, the page reloads to show it."""
    job = selectors.get_import_for_user(request.user, pk)
    response = render(
        request, "dataio/_progress.html", {"job": job, "active": job.status in ACTIVE}
    )
    if job.status not in ACTIVE:
        response["HX-Refresh"] = "true"
    return response


def _import_errors(request: MemberRequest, pk: int) -> HttpResponseBase:
    job = selectors.get_import_for_user(request.user, pk)
    return error_file_response(job)


# member_required is typed for pages (HttpResponse); the error file is streamed.
import_errors = member_required(require_GET(cast("View", _import_errors)))


def error_file_response(job: Import) -> HttpResponseBase:
    response = StreamingHttpResponse(
        selectors.error_file(job), content_type="text/csv; charset=utf-8"
    )
    name = f"import-{job.pk}-errors.csv"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response

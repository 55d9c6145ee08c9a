"""The backups page (admins only): make a backup, download it when done, restore one
into this firm when it is empty. Others get a 403; another firm's backup is a 404."""

from typing import cast

from django import forms
from django.contrib import messages
from django.http import FileResponse, Http404, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from kehu.dataio import backup_services
from kehu.dataio.backup import BackupError, models_with_data
from kehu.dataio.models import Backup, BackupKind, BackupStatus
from kehu.tenancy.views import MemberRequest, View, member_required

INVALID = 422


class RestoreForm(forms.Form):
    file = forms.FileField(label=gettext_lazy("备份文件（.zip）"))


def _page(request: MemberRequest, form: RestoreForm, status: int = 200) -> HttpResponse:
    context = {
        "nav": "settings",
        "jobs": Backup.objects.select_related("created_by").order_by("-created_at", "-id")[:50],
        "form": form,
        "restorable": not models_with_data(request.user.tenant_id or 0),
        "running": BackupStatus.RUNNING,
    }
    return render(request, "dataio/backups.html", context, status=status)


@member_required
def backup_list(request: MemberRequest) -> HttpResponse:
    backup_services.require_admin(request.user)
    return _page(request, RestoreForm())


@member_required
@require_POST
def backup_new(request: MemberRequest) -> HttpResponse:
    job = backup_services.backup_request(actor=request.user)
    job.refresh_from_db()
    if job.status == BackupStatus.DONE:
        messages.success(request, _("备份已完成，可以下载。"))
    else:
        messages.success(request, _("备份已开始，完成后在此下载。"))
    return redirect("exports:backups")


@member_required
@require_POST
def restore_upload(request: MemberRequest) -> HttpResponse:
    backup_services.require_admin(request.user)
    form = RestoreForm(request.POST, request.FILES)
    if not form.is_valid():
        return _page(request, form, INVALID)
    try:
        job = backup_services.restore_upload(actor=request.user, file=form.cleaned_data["file"])
    except BackupError as exc:
        form.add_error("file", exc.message)
        return _page(request, form, INVALID)
    total = sum(job.counts.values())
    messages.success(request, _("已恢复 %(n)s 条记录。") % {"n": f"{total:,}"})
    return redirect("exports:backups")


def _backup_download(request: MemberRequest, pk: int) -> HttpResponseBase:
    backup_services.require_admin(request.user)
    job = Backup.objects.filter(pk=pk, kind=BackupKind.BACKUP, status=BackupStatus.DONE).first()
    if job is None or not job.file:
        raise Http404
    name = job.file.name.rsplit("/", 1)[-1]
    return FileResponse(job.file.open("rb"), as_attachment=True, filename=name)


# member_required is typed for pages (HttpResponse); the file is streamed.
backup_download = member_required(cast("View", _backup_download))

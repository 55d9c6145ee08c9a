"""The export download behind every list page's 导出 CSV / 导出 Excel buttons.

`/exports/<list>.<csv|xlsx>?<the list's filters>`: the list's rows under the same filters
and visibility as the page, streamed. A refused export (too many rows, too many exports
this hour) goes back to the list with the filters kept and a message saying why.
"""

from typing import cast

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect
from django.urls import reverse
from django.views.decorators.http import require_GET

from kehu.dataio import export_services
from kehu.dataio.export_services import ExportFile, ExportRefused
from kehu.dataio.exports import EXPORTS
from kehu.tenancy.views import MemberRequest, View, member_required


def _export(request: MemberRequest, slug: str, file_format: str) -> HttpResponseBase:
    definition = EXPORTS.get(slug)
    if definition is None:
        raise Http404
    query = request.GET.copy()
    query.pop("page", None)
    try:
        file = export_services.export_start(
            actor=request.user, definition=definition, file_format=file_format, data=query
        )
    except (ExportRefused, ValidationError) as exc:
        message = exc.message if isinstance(exc, ExportRefused) else " ".join(exc.messages)
        messages.error(request, message)
        back = reverse(definition.page)
        return redirect(f"{back}?{query.urlencode()}" if query else back)
    return file_response(file)


def file_response(file: ExportFile) -> StreamingHttpResponse:
    response = StreamingHttpResponse(file.chunks, content_type=file.content_type)
    response["Content-Disposition"] = f'attachment; filename="{file.name}"'
    response["Cache-Control"] = "no-store"
    return response


# member_required is typed for pages (HttpResponse); an export is streamed.
export = member_required(require_GET(cast("View", _export)))

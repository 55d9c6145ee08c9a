"""List exports through the API: `GET /exports/{list}?format=csv|xlsx&<filters>`.

The same lists, filters, visibility, limits and audit as the pages' export buttons
(kehu/dataio/export_services.py); the filters are the list page's query parameters.
An unknown list is a 404, the read-only role a 403, a bad format a 422, too many rows a
422 and too many exports this hour a 429, each a problem saying what to do.
"""

from typing import Literal

from django.http import Http404, HttpRequest
from django.http.response import HttpResponseBase
from ninja import Query, Router, Schema

from kehu.core import problems
from kehu.dataio import export_services
from kehu.dataio.export_services import ExportRefused
from kehu.dataio.export_views import file_response
from kehu.dataio.exports import EXPORTS
from kehu.tenancy.api_auth import api_user

router = Router(tags=["exports"])
TOO_MANY = 429
INVALID = 422


class ExportQuery(Schema):
    format: Literal["csv", "xlsx"] = "csv"


@router.get(
    "/exports/{list_name}",
    openapi_extra={
        "responses": {
            200: {
                "description": "CSV or XLSX, streamed",
                "content": {
                    "text/csv": {},
                    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {},
                },
            }
        }
    },
)
def export_list(
    request: HttpRequest, list_name: str, query: Query[ExportQuery]
) -> HttpResponseBase:
    """A list as a file, with the list page's filters as query parameters (for parties:
    `q`, `kind`, `role`, `state`, `owner`, `team`, `tag`, `province`, `city`, `direct`).
    Lists: parties, pool, interactions, tasks, orders, products, leads, opportunities,
    imports."""
    user = api_user(request)
    definition = EXPORTS.get(list_name)
    if definition is None:
        raise Http404
    data = request.GET.copy()
    data.pop("format", None)
    try:
        file = export_services.export_start(
            actor=user, definition=definition, file_format=query.format, data=data
        )
    except ExportRefused as exc:
        status = TOO_MANY if exc.rate_limited else INVALID
        return problems.problem(request, status, detail=exc.message)
    return file_response(file)

"""The REST API at /api/v1/: auth, problem-detail errors, and every app's router.

OpenAPI 3 at /api/v1/openapi.json; interactive docs at /api/v1/docs, served from the
vendored Swagger UI so that they work offline and behind firewalls.
"""

from typing import Any, NoReturn

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import URLPattern, URLResolver
from ninja import NinjaAPI, Router
from ninja.openapi.docs import DocsBase
from ninja.openapi.schema import OpenAPISchema
from ninja.renderers import JSONRenderer

from kehu.activities.api import router as activities_router
from kehu.core import problems
from kehu.dataio.api import router as dataio_router
from kehu.dataio.dedup_api import router as dedup_router
from kehu.dataio.export_api import router as export_router
from kehu.dataio.quality_api import router as quality_router
from kehu.insights.api import router as insights_router
from kehu.insights.firm_api import router as insights_firm_router
from kehu.insights.flows_api import router as insights_flows_router
from kehu.parties.api import router as parties_router
from kehu.pool.api import router as pool_router
from kehu.reports.api import router as reports_router
from kehu.reports.pipeline_api import router as pipeline_reports_router
from kehu.sales.api import router as sales_router
from kehu.sales.pipeline_api import router as pipeline_router
from kehu.tenancy.api import router as tenancy_router
from kehu.tenancy.api_auth import SessionAuth, TokenAuth, tenant_scoped


class OfflineSwagger(DocsBase):
    """Swagger UI from kehu/static/vendor: no CDN, no validator badge calling out."""

    settings: dict[str, Any] = {
        "layout": "BaseLayout",
        "deepLinking": True,
        "validatorUrl": None,
        "persistAuthorization": True,
    }

    def render_page(self, request: HttpRequest, api: "NinjaAPI", **kwargs: Any) -> HttpResponse:
        swagger_settings = {**self.settings, "url": self.get_openapi_url(api, kwargs)}
        context = {"api": api, "swagger_settings": swagger_settings, "csrf_header": True}
        return render(request, "api_docs.html", context)


class KehuAPI(NinjaAPI):
    """Ninja's API, with the problem-detail answers written into its OpenAPI schema."""

    def get_openapi_schema(
        self, *, path_prefix: str | None = None, path_params: dict[str, Any] | None = None
    ) -> OpenAPISchema:
        schema = super().get_openapi_schema(path_prefix=path_prefix, path_params=path_params)
        problems.document(schema)
        return schema

    def _get_urls(self) -> list[URLResolver | URLPattern]:
        urls = super()._get_urls()
        for pattern in urls:
            if isinstance(pattern, URLPattern):
                pattern.callback = problems.method_not_allowed_as_problem(pattern.callback)
        return urls


class UnicodeJSONRenderer(JSONRenderer):
    """Chinese text as UTF-8, not \\uXXXX escapes: smaller and readable with curl."""

    json_dumps_params = {"ensure_ascii": False}


api = KehuAPI(
    title="kehu API",
    version="1",
    description=(
        "kehu 客户管理的 REST API / the REST API of kehu CRM. "
        "认证 Auth: `Authorization: Bearer kehu_…` or the browser session (with CSRF). "
        "错误 Errors: RFC 9457 `application/problem+json`. Guide: docs/api.md."
    ),
    urls_namespace="api",
    auth=[TokenAuth(), SessionAuth()],
    docs=OfflineSwagger(),
    renderer=UnicodeJSONRenderer(),
)
api.add_decorator(tenant_scoped, mode="view")
problems.install(api)
api.add_router("", parties_router)
api.add_router("", activities_router)
api.add_router("", sales_router)
api.add_router("", pool_router)
api.add_router("", pipeline_router)
api.add_router("", tenancy_router)
api.add_router("", dataio_router)
api.add_router("", dedup_router)
api.add_router("", reports_router)
api.add_router("", pipeline_reports_router)
api.add_router("", insights_router)
api.add_router("", export_router)
api.add_router("", quality_router)
api.add_router("/insights/firm", insights_firm_router)
api.add_router("/insights/firm", insights_flows_router)

# Last: any other path under /api/v1/ is a 404 problem too, not Django's HTML page.
fallback = Router()


@fallback.api_operation(
    ["GET", "POST", "PUT", "PATCH", "DELETE"], "/{path:rest}", include_in_schema=False
)
def unknown_path(request: HttpRequest, rest: str) -> NoReturn:
    raise Http404


api.add_router("", fallback)

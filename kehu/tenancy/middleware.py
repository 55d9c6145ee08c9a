"""Request scoping: every query in a request sees only the signed-in user's tenant."""

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from kehu.core.context import tenant_scope


class TenantMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = request.user
        tenant_id = getattr(user, "tenant_id", None) if user.is_authenticated else None
        if tenant_id is None:
            return self.get_response(request)
        with tenant_scope(tenant_id):
            return self.get_response(request)

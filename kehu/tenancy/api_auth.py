"""Who is calling the API, and in which tenant the call runs.

Two ways in: a personal token (`Authorization: Bearer kehu_…`) for scripts and
integrations, or the browser's session (with CSRF on unsafe methods). Either way the
whole operation — authentication, the endpoint, and the serialising of its answer,
which may still read related rows — runs inside the caller's `tenant_scope`.

Ninja calls the auth callbacks inside `Operation.run`, so a scope opened there would
outlive the request. Instead `tenant_scoped` wraps `run` in an ExitStack, the auth
callback enters the scope on that stack, and the stack closes when `run` returns or
raises: the tenant is always reset, whichever way the request ends.
"""

from collections.abc import Callable
from contextlib import ExitStack
from functools import wraps
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from django.http.response import HttpResponseBase
from django.utils.translation import gettext as _
from ninja.errors import AuthenticationError, HttpError
from ninja.security import APIKeyCookie, HttpBearer
from ninja.utils import check_csrf

from kehu.core.context import tenant_scope
from kehu.tenancy.models import ApiToken, User
from kehu.tenancy.services import api_token_user

_STACK_ATTR = "_kehu_tenant_stack"

Run = Callable[..., HttpResponseBase]


def tenant_scoped(run: Run) -> Run:
    """Decorate an operation's `run` so that the tenant entered by auth is reset after it."""

    @wraps(run)
    def scoped_run(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        with ExitStack() as stack:
            setattr(request, _STACK_ATTR, stack)
            try:
                return run(request, *args, **kwargs)
            finally:
                delattr(request, _STACK_ATTR)

    return scoped_run


def enter_tenant(request: HttpRequest, user: User) -> User:
    """Run the rest of this operation in the user's tenant; staff without one are refused."""
    if user.tenant_id is None:
        raise PermissionDenied(_("这个账号不属于任何公司，不能使用 API。"))
    stack = getattr(request, _STACK_ATTR, None)
    if not isinstance(stack, ExitStack):
        raise RuntimeError("API operations must be wrapped by tenant_scoped.")
    stack.enter_context(tenant_scope(user.tenant_id))
    return user


class TokenAuth(HttpBearer):
    """`Authorization: Bearer kehu_…`. A header that is present but wrong is a 401 at
    once (it never falls back to the session)."""

    def __call__(self, request: HttpRequest) -> User | None:
        header = request.headers.get(self.header)
        if not header:
            return None
        scheme, _sep, raw = header.partition(" ")
        if scheme.lower() != self.openapi_scheme:
            raise AuthenticationError
        return self.authenticate(request, raw.strip())

    def authenticate(self, request: HttpRequest, token: str) -> User | None:
        user = api_token_user(token) if token.startswith(ApiToken.PREFIX) else None
        if user is None:
            raise AuthenticationError
        return enter_tenant(request, user)


class SessionAuth(APIKeyCookie):
    """The signed-in browser user. Unlike Ninja's SessionAuth it looks at the session
    before CSRF, so an anonymous call is a 401, not a CSRF failure."""

    param_name = settings.SESSION_COOKIE_NAME

    def __call__(self, request: HttpRequest) -> User | None:
        return self.authenticate(request, request.COOKIES.get(self.param_name))

    def authenticate(self, request: HttpRequest, key: str | None) -> User | None:
        user = request.user
        if not isinstance(user, User) or not user.is_authenticated:
            return None
        if self.csrf and check_csrf(request) is not None:
            raise HttpError(403, _("CSRF 校验失败：请刷新页面后重试，或改用 API 令牌。"))
        return enter_tenant(request, user)


def api_user(request: HttpRequest) -> User:
    """The authenticated caller of an API operation."""
    user = getattr(request, "auth", None)
    if not isinstance(user, User):
        raise AuthenticationError
    return user


def require_write(user: User) -> None:
    if not user.can_write:
        raise PermissionDenied(_("您的角色只能查看，不能修改。"))


def require_manage(user: User) -> None:
    if not user.can_manage:
        raise PermissionDenied(_("只有管理员或经理可以执行此操作。"))


def require_tenant_admin(user: User) -> None:
    if not user.is_tenant_admin:
        raise PermissionDenied(_("只有管理员可以执行此操作。"))

"""Every API error as an RFC 9457 problem detail (`application/problem+json`).

One shape for all of them: `type`, `title`, `status`, `detail`, `instance`, and for
validation and conflicts `errors: [{"field": "contacts[0].value", "message": …}]`.
Field paths name the request's own fields, so a client can put each message beside
the input it came from. Titles and messages are translated (Chinese msgids).
"""

import functools
import json
import logging
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TypedDict

from django.core import signals
from django.core.exceptions import NON_FIELD_ERRORS, PermissionDenied, ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.db import IntegrityError
from django.http import Http404, HttpRequest, HttpResponse
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError
from ninja.errors import ValidationError as RequestValidationError

logger = logging.getLogger(__name__)

CONTENT_TYPE = "application/problem+json"
# Problem types beyond the bare HTTP status; relative URI references (RFC 9457 §3.1.1),
# documented in docs/api.md. Plain statuses use "about:blank".
VALIDATION_TYPE = "/api/v1/problems/validation-error"
CONFLICT_TYPE = "/api/v1/problems/conflict"

TITLES: dict[int, Promise] = {
    400: gettext_lazy("请求无效"),
    401: gettext_lazy("未认证"),
    403: gettext_lazy("没有权限"),
    404: gettext_lazy("未找到"),
    405: gettext_lazy("不支持的请求方法"),
    409: gettext_lazy("与现有数据冲突"),
    422: gettext_lazy("数据未通过校验"),
    429: gettext_lazy("请求过于频繁"),
    500: gettext_lazy("服务器内部错误"),
}

# Pydantic's messages are English; these are ours, filled from the error's `ctx`.
PYDANTIC_MESSAGES: dict[str, Promise] = {
    "missing": gettext_lazy("此项为必填。"),
    "string_type": gettext_lazy("应为文本。"),
    "string_too_short": gettext_lazy("至少 %(min_length)s 个字符。"),
    "string_too_long": gettext_lazy("最多 %(max_length)s 个字符。"),
    "too_short": gettext_lazy("至少 %(min_length)s 项。"),
    "too_long": gettext_lazy("最多 %(max_length)s 项。"),
    "enum": gettext_lazy("应为以下之一：%(expected)s。"),
    "literal_error": gettext_lazy("应为以下之一：%(expected)s。"),
    "int_type": gettext_lazy("应为整数。"),
    "int_parsing": gettext_lazy("应为整数。"),
    "int_from_float": gettext_lazy("应为整数。"),
    "bool_type": gettext_lazy("应为 true 或 false。"),
    "bool_parsing": gettext_lazy("应为 true 或 false。"),
    "greater_than": gettext_lazy("应大于 %(gt)s。"),
    "greater_than_equal": gettext_lazy("不能小于 %(ge)s。"),
    "less_than": gettext_lazy("应小于 %(lt)s。"),
    "less_than_equal": gettext_lazy("不能大于 %(le)s。"),
    "date_type": gettext_lazy("应为日期，格式 YYYY-MM-DD。"),
    "date_parsing": gettext_lazy("应为日期，格式 YYYY-MM-DD。"),
    "date_from_datetime_parsing": gettext_lazy("应为日期，格式 YYYY-MM-DD。"),
    "date_from_datetime_inexact": gettext_lazy("应为日期，格式 YYYY-MM-DD。"),
    "datetime_type": gettext_lazy("应为时间，格式如 2025-01-31T09:30:00+08:00。"),
    "datetime_parsing": gettext_lazy("应为时间，格式如 2025-01-31T09:30:00+08:00。"),
    "datetime_from_date_parsing": gettext_lazy("应为时间，格式如 2025-01-31T09:30:00+08:00。"),
    "list_type": gettext_lazy("应为列表。"),
    "dict_type": gettext_lazy("应为对象。"),
    "model_type": gettext_lazy("应为对象。"),
    "model_attributes_type": gettext_lazy("应为对象。"),
    "extra_forbidden": gettext_lazy("不支持这个字段。"),
    "json_invalid": gettext_lazy("不是有效的 JSON。"),
}


class FieldError(TypedDict):
    field: str | None
    message: str


class Conflict(Exception):
    """The request is valid but clashes with the record's current state (HTTP 409)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def problem(
    request: HttpRequest,
    status: int,
    *,
    detail: str = "",
    errors: Sequence[FieldError] | None = None,
    type_uri: str = "about:blank",
) -> HttpResponse:
    body: dict[str, Any] = {
        "type": type_uri,
        "title": TITLES.get(status, _("请求失败")),
        "status": status,
        "detail": detail,
        "instance": request.path,
    }
    if errors is not None:
        body["errors"] = list(errors)
    content = json.dumps(body, cls=DjangoJSONEncoder, ensure_ascii=False)
    return HttpResponse(content, status=status, content_type=CONTENT_TYPE)


def field_path(loc: Sequence[str | int]) -> str | None:
    """("contacts", 0, "value") → "contacts[0].value"; an empty location → None."""
    path = ""
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else part)
    return path or None


@contextmanager
def errors_under(prefix: str, *, item_field: str = "") -> Iterator[None]:
    """Re-raise a service's ValidationError with its fields under `prefix`
    ("value" → "contacts[0].value"), so nested input reports where it failed. Errors on
    `item_field` (a tag's "name" when the input is a bare string) are the item's own."""

    def under(field: str) -> str:
        return prefix if field in {NON_FIELD_ERRORS, item_field} else f"{prefix}.{field}"

    try:
        yield
    except ValidationError as exc:
        nested: dict[str, list[str]] = {}
        if hasattr(exc, "error_dict"):
            for field, messages in exc.message_dict.items():
                nested.setdefault(under(field), []).extend(messages)
        else:
            nested[prefix] = exc.messages
        raise ValidationError(nested) from exc


def errors_from_django(exc: ValidationError) -> list[FieldError]:
    if not hasattr(exc, "error_dict"):
        return [{"field": None, "message": m} for m in exc.messages]
    return [
        {"field": None if name == NON_FIELD_ERRORS else name, "message": message}
        for name, messages in exc.message_dict.items()
        for message in messages
    ]


def _pydantic_message(error: dict[str, Any]) -> str:
    ctx = error.get("ctx") or {}
    if error["type"] == "value_error" and "error" in ctx:
        return str(ctx["error"])
    template = PYDANTIC_MESSAGES.get(error["type"])
    if template is None:
        return str(error.get("msg", ""))
    try:
        return str(template) % ctx
    except (KeyError, TypeError, ValueError):
        return str(error.get("msg", ""))


def errors_from_request(exc: RequestValidationError) -> list[FieldError]:
    """Ninja's locations are (source, …): ("query", "limit"), ("path", "party_id"), and
    for a body ("body", <parameter>, …). Every endpoint takes its body as one schema
    parameter, so the parameter's name is dropped and the path starts at the JSON root."""
    out: list[FieldError] = []
    for error in exc.errors:
        loc = list(error.get("loc", ()))
        source = loc.pop(0) if loc else ""
        if source == "body" and loc:
            loc.pop(0)
        out.append({"field": field_path(loc), "message": _pydantic_message(error)})
    return out


def _caused_by_integrity_error(exc: BaseException) -> bool:
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, IntegrityError):
            return True
        cause = cause.__cause__
    return False


def _joined(errors: Sequence[FieldError]) -> str:
    return "；".join(dict.fromkeys(e["message"] for e in errors))


def _on_request_invalid(request: HttpRequest, exc: RequestValidationError) -> HttpResponse:
    errors = errors_from_request(exc)
    return problem(request, 422, detail=_joined(errors), errors=errors, type_uri=VALIDATION_TYPE)


def _on_service_invalid(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    errors = errors_from_django(exc)
    if _caused_by_integrity_error(exc):
        return problem(request, 409, detail=_joined(errors), errors=errors, type_uri=CONFLICT_TYPE)
    return problem(request, 422, detail=_joined(errors), errors=errors, type_uri=VALIDATION_TYPE)


def _on_conflict(request: HttpRequest, exc: Conflict) -> HttpResponse:
    return problem(request, 409, detail=exc.message, errors=[], type_uri=CONFLICT_TYPE)


def _on_integrity_error(request: HttpRequest, exc: IntegrityError) -> HttpResponse:
    # A unique constraint caught a race the service's own check could not see.
    return problem(request, 409, detail=_("这条记录已经存在。"), errors=[], type_uri=CONFLICT_TYPE)


def _on_unauthenticated(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    response = problem(
        request,
        401,
        detail=_("请在 Authorization 头中提供有效的 API 令牌（Bearer kehu_…），或先登录。"),
    )
    response["WWW-Authenticate"] = 'Bearer realm="kehu"'
    return response


def _on_forbidden(request: HttpRequest, exc: PermissionDenied) -> HttpResponse:
    detail = str(exc) or _("您没有执行此操作的权限。")
    return problem(request, 403, detail=detail)


def _on_not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
    # The same answer whether the record does not exist or is not the caller's to see.
    return problem(request, 404, detail=_("没有找到这条记录，或您无权查看。"))


def _on_http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    if exc.status_code == 400:
        return problem(request, 400, detail=_("请求体无法解析，请发送有效的 JSON。"))
    return problem(request, exc.status_code, detail=str(exc))


def _on_server_error(request: HttpRequest, exc: Exception) -> HttpResponse:
    logger.error("API error at %s", request.path, exc_info=exc)
    # What Django's own handler does: error reporters (and the test client) listen.
    signals.got_request_exception.send(sender=None, request=request)
    return problem(request, 500, detail=_("服务器出错了，请稍后重试。"))


# The problem shape in OpenAPI 3.1 terms, and the errors every operation may answer.
PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "RFC 9457 problem details (application/problem+json)",
    "required": ["type", "title", "status", "detail", "instance"],
    "properties": {
        "type": {"type": "string", "examples": ["about:blank", VALIDATION_TYPE]},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "instance": {"type": "string"},
        "errors": {
            "type": "array",
            "description": "校验或冲突时：每个出错字段一条",
            "items": {
                "type": "object",
                "required": ["field", "message"],
                "properties": {
                    "field": {"type": ["string", "null"], "examples": ["contacts[0].value"]},
                    "message": {"type": "string"},
                },
            },
        },
    },
}
DOCUMENTED_PROBLEMS = {
    "401": "未认证：缺少、错误或已撤销的令牌",
    "403": "没有权限（角色不允许，或 CSRF 校验失败）",
    "404": "没有找到，或无权查看",
    "409": "与现有数据冲突",
    "422": "数据未通过校验",
}


def document(schema: dict[str, Any]) -> None:
    """Add the Problem schema and the error answers to every operation of an OpenAPI schema."""
    schema.setdefault("components", {}).setdefault("schemas", {})["Problem"] = PROBLEM_SCHEMA
    content = {CONTENT_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}}
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            responses = operation.setdefault("responses", {})
            for status, description in DOCUMENTED_PROBLEMS.items():
                responses.setdefault(status, {"description": description, "content": content})


def method_not_allowed_as_problem(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Wrap one of Ninja's path views: its plain-text 405 becomes a problem detail that
    names the methods the path does take (and keeps the Allow header)."""

    @functools.wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        response = view(request, *args, **kwargs)
        if response.status_code != 405 or response.get("Content-Type") == CONTENT_TYPE:
            return response
        allowed = response.get("Allow", "")
        detail = _("这个地址不支持 %(method)s，支持：%(allowed)s。") % {
            "method": request.method,
            "allowed": allowed,
        }
        answer = problem(request, 405, detail=detail)
        answer["Allow"] = allowed
        return answer

    return wrapped


def install(api: NinjaAPI) -> None:
    """Answer every error `api` can meet with a problem detail (the most specific
    handler along the exception's MRO wins)."""
    handlers: list[tuple[type[Exception], Callable[..., HttpResponse]]] = [
        (Exception, _on_server_error),
        (RequestValidationError, _on_request_invalid),
        (ValidationError, _on_service_invalid),
        (Conflict, _on_conflict),
        (IntegrityError, _on_integrity_error),
        (HttpError, _on_http_error),
        (AuthenticationError, _on_unauthenticated),
        (PermissionDenied, _on_forbidden),
        (Http404, _on_not_found),
    ]
    for exc_class, handler in handlers:
        api.exception_handler(exc_class)(handler)

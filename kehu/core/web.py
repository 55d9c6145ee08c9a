"""Helpers shared by page views: one view serves the full page or its htmx fragment."""

from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render


def is_htmx(request: HttpRequest) -> bool:
    return request.headers.get("HX-Request") == "true"


def render_page(
    request: HttpRequest,
    template: str,
    context: dict[str, Any],
    *,
    fragment: str | None = None,
    status: int = 200,
) -> HttpResponse:
    """Render `fragment` for htmx requests (when given), else the full `template`."""
    name = fragment if fragment and is_htmx(request) else template
    return render(request, name, context, status=status)


def add_service_errors(form: forms.BaseForm, exc: ValidationError) -> None:
    """Attach a service's ValidationError to the form: per field where the form has
    that field, otherwise as a form-wide error (so no message is ever dropped)."""
    if not hasattr(exc, "error_dict"):
        form.add_error(None, exc.messages)
        return
    for field, errors in exc.message_dict.items():
        form.add_error(field if field in form.fields else None, errors)


def run_reporting(request: HttpRequest, action: Callable[[], Any], done: str) -> bool:
    """Run a button's `action`: its ValidationError, or `done`, becomes the page's message
    (for POST-redirect-GET buttons that have no form to show errors on)."""
    try:
        action()
    except ValidationError as exc:
        messages.error(request, "；".join(exc.messages))
        return False
    messages.success(request, done)
    return True

"""The form renderer: Django's templates, except for the common widgets, built in Python.

Django renders a select through one template include per option (and another per
option's attributes), and every input through two includes; a customer page with its
thirty inline inputs spent a sixth of its time there. The markup here is the same as
Django's select.html, input.html and textarea.html.
"""

from typing import Any

from django.forms.renderers import DjangoTemplates
from django.forms.utils import flatatt
from django.http import HttpRequest
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe

WIDGETS = "django/forms/widgets/"
SELECT_TEMPLATE = WIDGETS + "select.html"
OPTION_TEMPLATE = WIDGETS + "select_option.html"
TEXTAREA_TEMPLATE = WIDGETS + "textarea.html"
# The widgets whose template is nothing but {% include "django/forms/widgets/input.html" %}.
INPUT_TEMPLATES = frozenset(
    f"{WIDGETS}{name}.html"
    for name in (
        *("text", "email", "url", "number", "password", "hidden", "search", "tel", "color"),
        *("date", "datetime", "time", "checkbox"),
    )
)


def _option(option: dict[str, Any]) -> str:
    return format_html(
        '<option value="{}"{}>{}</option>',
        option["value"],
        flatatt(option["attrs"]),
        option["label"],
    )


def _plain_options(widget: dict[str, Any]) -> bool:
    return all(
        option["template_name"] == OPTION_TEMPLATE
        for _name, options, _index in widget["optgroups"]
        for option in options
    )


def render_select(widget: dict[str, Any]) -> SafeString:
    """The <select> of a widget context (`Select.get_context(...)["widget"]`)."""
    parts: list[str] = [
        format_html('<select name="{}"{}>', widget["name"], flatatt(widget["attrs"]))
    ]
    for group_name, options, _index in widget["optgroups"]:
        if group_name:
            parts.append(format_html('<optgroup label="{}">', group_name))
        parts.extend(_option(option) for option in options)
        if group_name:
            parts.append("</optgroup>")
    parts.append("</select>")
    return mark_safe("".join(parts))  # noqa: S308 - every part is escaped by format_html


def render_input(widget: dict[str, Any]) -> SafeString:
    value = "" if widget["value"] is None else format_html(' value="{}"', widget["value"])
    return format_html(
        '<input type="{}" name="{}"{}{}>',
        widget["type"],
        widget["name"],
        value,
        flatatt(widget["attrs"]),
    )


def render_textarea(widget: dict[str, Any]) -> SafeString:
    return format_html(
        '<textarea name="{}"{}>\n{}</textarea>',
        widget["name"],
        flatatt(widget["attrs"]),
        widget["value"] or "",
    )


class FormRenderer(DjangoTemplates):
    """settings.FORM_RENDERER: Django's template renderer with fast paths for inputs,
    textareas and selects."""

    def render(
        self, template_name: str, context: dict[str, Any], request: HttpRequest | None = None
    ) -> str:
        widget: dict[str, Any] = context.get("widget", {})
        if template_name in INPUT_TEMPLATES:
            return render_input(widget)
        if template_name == TEXTAREA_TEMPLATE:
            return render_textarea(widget)
        if template_name == SELECT_TEMPLATE and _plain_options(widget):
            return render_select(widget)
        return super().render(template_name, context, request=request)

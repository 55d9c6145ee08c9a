"""The form renderer: Django's templates, except for <select>, which is built in Python.

Django renders a select through one template include per option (and another per
option's attributes); a filter bar with a few hundred options then costs more than the
50 rows of the list below it. The markup here is the same as Django's select.html.
"""

from typing import Any

from django.forms.renderers import DjangoTemplates
from django.forms.utils import flatatt
from django.http import HttpRequest
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe

SELECT_TEMPLATE = "django/forms/widgets/select.html"
OPTION_TEMPLATE = "django/forms/widgets/select_option.html"


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


class FormRenderer(DjangoTemplates):
    """settings.FORM_RENDERER: Django's template renderer with a fast path for selects."""

    def render(
        self, template_name: str, context: dict[str, Any], request: HttpRequest | None = None
    ) -> str:
        if template_name == SELECT_TEMPLATE and _plain_options(context["widget"]):
            return render_select(context["widget"])
        return super().render(template_name, context, request=request)

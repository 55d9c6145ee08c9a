"""`{% export_buttons "parties" %}`: a list page's 导出 CSV / 导出 Excel links, carrying
the filters of the request (so the file holds what the page lists)."""

from typing import Any

from django import template
from django.urls import reverse

from kehu.dataio.export_services import may_export

register = template.Library()


@register.inclusion_tag("dataio/_export_buttons.html", takes_context=True)
def export_buttons(context: dict[str, Any], slug: str) -> dict[str, Any]:
    request = context["request"]
    query = request.GET.copy()
    query.pop("page", None)
    suffix = f"?{query.urlencode()}" if query else ""
    return {
        "allowed": may_export(request.user),
        "csv": reverse("exports:download", args=[slug, "csv"]) + suffix,
        "xlsx": reverse("exports:download", args=[slug, "xlsx"]) + suffix,
    }

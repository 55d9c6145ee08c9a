"""`{% report_row line %}`: a report table's row, its first cell the row's header.

The cells are written here rather than by including a cell template per cell: a
twelve-month table of thirteen columns included it 157 times, ~15 ms a page. Values
are shown as a template shows them (localised, escaped); numbers by kind with
`floatformat`: money to two places, counts whole, the rest (shares, days, hours) to one;
a missing number as a dash."""

from collections.abc import Iterable
from typing import Any

from django import template
from django.template.defaultfilters import floatformat
from django.utils.formats import localize
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe

register = template.Library()

PLACES = {"money": "2g", "count": "0g"}
MISSING = mark_safe('<td class="num">–</td>')


def report_cell(value: Any, kind: str, *, header: bool = False) -> SafeString:
    if header:
        return format_html('<th scope="row">{}</th>', localize(value))
    if kind == "text":
        return format_html("<td>{}</td>", "" if value is None else localize(value))
    if value is None:
        return MISSING
    return format_html('<td class="num">{}</td>', floatformat(value, PLACES.get(kind, "1g")))


@register.simple_tag
def report_row(line: Iterable[tuple[Any, str]]) -> SafeString:
    cells = ((report_cell(value, kind, header=i == 0),) for i, (value, kind) in enumerate(line))
    return format_html_join("", "{}", cells)

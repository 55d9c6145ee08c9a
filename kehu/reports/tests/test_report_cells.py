"""A report table's cells as `{% report_row %}` writes them."""

import datetime
from decimal import Decimal

from django.template import Context, Template
from django.utils import translation

from kehu.reports.templatetags.report_cells import report_cell


def test_each_kind_of_cell() -> None:
    with translation.override("zh-hans"):
        assert report_cell("2025-01", "text", header=True) == '<th scope="row">2025-01</th>'
        assert report_cell("<甲公司>", "text") == "<td>&lt;甲公司&gt;</td>"
        assert report_cell(None, "text") == "<td></td>"
        assert report_cell(None, "money") == '<td class="num">–</td>'
        # zh-Hans groups no digits; English by thousands
        assert report_cell(Decimal("1234567.5"), "money") == '<td class="num">1234567.50</td>'
        assert report_cell(12345, "count") == '<td class="num">12345</td>'
        assert report_cell(Decimal("36.25"), "share") == '<td class="num">36.3</td>'
        assert report_cell(Decimal("-1.25"), "days") == '<td class="num">-1.3</td>'
        day = datetime.date(2025, 3, 5)
        assert report_cell(day, "text") == "<td>2025年3月5日</td>"


def test_a_row_heads_with_its_first_cell() -> None:
    template = Template("{% load report_cells %}<tr>{% report_row line %}</tr>")
    line = [("华东", "text"), (3, "count"), (Decimal("9400"), "money"), (None, "share")]
    with translation.override("en"):
        html = template.render(Context({"line": line}))
    assert html == (
        '<tr><th scope="row">华东</th><td class="num">3</td>'
        '<td class="num">9,400.00</td><td class="num">–</td></tr>'
    )

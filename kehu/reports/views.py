"""The report pages: an index, and one page per report with its filter bar, chart,
table and CSV download (`?format=csv`). Every member may open them; what they show is
scoped by `selectors.sees_firm` (see the package docstring)."""

from django.http import Http404, HttpResponse
from django.shortcuts import render

from kehu.core.web import render_page
from kehu.dataio.export_writers import csv_chunks
from kehu.reports.definitions import REPORT_LIST, REPORTS, ReportDefinition, ReportTable
from kehu.reports.forms import ReportFilterForm
from kehu.reports.selectors import REPORT_CURRENCY, sees_firm
from kehu.tenancy.views import MemberRequest, member_required

INVALID = 422


@member_required
def index(request: MemberRequest) -> HttpResponse:
    context = {"nav": "reports", "reports": REPORT_LIST, "firm_wide": sees_firm(request.user)}
    return render(request, "reports/index.html", context)


@member_required
def report(request: MemberRequest, slug: str) -> HttpResponse:
    definition = REPORTS.get(slug)
    if definition is None:
        raise Http404
    form = ReportFilterForm(
        request.GET, firm_wide=sees_firm(request.user), pipelines=definition.pipelines
    )
    if not form.is_valid():
        context = {"nav": "reports", "definition": definition, "form": form, "table": None}
        return render(request, "reports/report.html", context, status=INVALID)
    filters = form.report_filters
    table = definition.build(request.user, filters)
    if request.GET.get("format") == "csv":
        return csv_response(definition, table, f"{filters.since}_{filters.until}")
    context = {
        "nav": "reports",
        "definition": definition,
        "form": form,
        "filters": filters,
        "table": table,
        "chart": table.chart(),
        "currency": REPORT_CURRENCY,
        "csv_query": _csv_query(request),
    }
    return render_page(request, "reports/report.html", context)


def _csv_query(request: MemberRequest) -> str:
    query = request.GET.copy()
    query["format"] = "csv"
    return query.urlencode()


def csv_response(definition: ReportDefinition, table: ReportTable, span: str) -> HttpResponse:
    """The table as CSV, totals last, written as every export is (kehu.dataio's writers:
    UTF-8 with a BOM, text neutralised against formula injection, numbers as numbers)."""
    rows = [*table.rows, *([table.total] if table.total else [])]
    lines = ([value for value, _kind in table.line(row)] for row in rows)
    content = b"".join(csv_chunks([str(c.label) for c in table.columns], lines))
    response = HttpResponse(content, content_type="text/csv; charset=utf-8")
    name = f"{definition.slug}_{span}.csv"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response

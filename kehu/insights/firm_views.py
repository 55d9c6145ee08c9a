"""The firm-level value pages. Every member may open them; what they show is scoped
like the reports (see firm_selectors)."""

from typing import Any

from django.http import HttpResponse
from django.utils.translation import gettext as _

from kehu.core.web import render_page
from kehu.insights import firm_selectors as selectors
from kehu.tenancy.views import MemberRequest, member_required


def _choice(value: str | None, choices: tuple[str, ...]) -> str:
    return value if value in choices else choices[0]


def pareto_chart(profit: selectors.Pareto, clp: selectors.Pareto) -> dict[str, Any]:
    """The curve of both measures: share of the total (%) against top x % of customers."""
    return {
        "labels": [f"{p}%" for p in range(101)],
        "series": [
            {"name": _("既成价值（累计利润）"), "style": "line", "data": profit.curve()},
            {"name": _("客户全生命周期利润"), "style": "line", "data": clp.curve()},
        ],
    }


@member_required
def pareto(request: MemberRequest) -> HttpResponse:
    measure = _choice(request.GET.get("measure"), selectors.MEASURES)
    show = _choice(request.GET.get("show"), selectors.SHOWS)
    figures = {m: selectors.pareto(request.user, m) for m in selectors.MEASURES}
    chosen = figures[measure]
    context = {
        "nav": "reports",
        "measure": measure,
        "show": show,
        "pareto": chosen,
        "top20": chosen.share_of(chosen.top(20)),
        "top5": chosen.share_of(chosen.top(5)),
        "listed": chosen.listed(show),
        "chart": pareto_chart(figures["profit_total"], figures["clp"]),
    }
    return render_page(request, "insights/firm/pareto.html", context)

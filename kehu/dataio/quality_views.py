"""The data-quality page (数据质量): the figures of what the member's customer list
shows, each linking to that list filtered to the records behind it; by owner for who
may see others; `?owner=` for one owner; `?days=` for the stale window."""

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from django.http import Http404, HttpResponse
from django.urls import reverse
from django.utils.translation import gettext as _

from kehu.core.web import render_page
from kehu.dataio import quality
from kehu.dataio.forms import QualityForm
from kehu.tenancy.models import User
from kehu.tenancy.views import MemberRequest, member_required


@dataclass(frozen=True)
class Links:
    """Links to the customer list, filtered to the records behind a figure."""

    owner_id: int | None
    days: int

    def to(self, **filters: Any) -> str:
        params = {"owner": self.owner_id} if self.owner_id else {}
        params |= {k: v for k, v in filters.items() if v is not None}
        return reverse("parties:list") + ("?" + urlencode(params) if params else "")

    def stale(self) -> str:
        return self.to(stale=self.days)


def field_rows(figures: quality.Figures, links: Links) -> list[dict[str, Any]]:
    return [
        {
            "label": check.label,
            "applicable": figures.applicable(check.key),
            "filled": figures.filled.get(check.key, 0),
            "missing": figures.missing(check.key),
            "percent": figures.percent(check.key),
            "filled_url": links.to(filled=check.key),
            "missing_url": links.to(missing=check.key),
        }
        for check in quality.CHECKS
    ]


def invalid_rows(figures: quality.Figures, links: Links) -> list[dict[str, Any]]:
    return [
        {"label": label, "count": figures.invalid.get(kind, 0), "url": links.to(invalid=kind)}
        for kind, label in quality.VALIDATED.items()
    ]


def trend_chart(points: list[quality.TrendPoint]) -> dict[str, Any]:
    """Completeness (%, left axis) and the counts (right axis) by day."""
    return {
        "labels": [p.taken_on.isoformat() for p in points],
        "series": [
            {"name": _("完整度（%）"), "style": "line", "data": [p.completeness for p in points]},
            {
                "name": _("有无效值的客户"),
                "style": "line",
                "right": True,
                "data": [p.invalid_parties for p in points],
            },
            {
                "name": _("疑似重复的客户"),
                "style": "line",
                "right": True,
                "data": [p.duplicate_parties for p in points],
            },
            {
                "name": _("久未互动的客户"),
                "style": "line",
                "right": True,
                "data": [p.stale for p in points],
            },
        ],
    }


def _owner_rows(report: quality.Report, days: int) -> list[dict[str, Any]]:
    names = {
        u.pk: u
        for u in User.objects.filter(pk__in=[f.owner_id for f in report.owners]).only(
            "pk", "display_name", "username", "is_active"
        )
    }
    rows = []
    for figures in sorted(report.owners, key=lambda f: -f.parties):
        assert figures.owner_id is not None
        links = Links(figures.owner_id, days)
        rows.append(
            {
                "owner": names[figures.owner_id],
                "figures": figures,
                "page_url": "?" + urlencode({"owner": figures.owner_id, "days": days}),
                "list_url": links.to(),
                "invalid_url": links.to(invalid=quality.ANY_INVALID),
                "duplicate_url": links.to(duplicate=1),
                "stale_url": links.stale(),
            }
        )
    return rows


@member_required
def page(request: MemberRequest) -> HttpResponse:
    form = QualityForm(request.GET)
    form.is_valid()
    if "owner" in form.errors:
        raise Http404
    days = form.cleaned_data.get("days") or quality.STALE_DAYS_DEFAULT
    try:
        owner = quality.owner_for(request.user, form.cleaned_data.get("owner"))
    except LookupError as exc:
        raise Http404 from exc
    report = quality.report(quality.user_scope(request.user, owner), days=days)
    links = Links(owner.pk if owner else None, days)
    figures = report.total
    context = {
        "nav": "quality",
        "form": form,
        "days": days,
        "owner": owner,
        "figures": figures,
        "links": links,
        "fields": field_rows(figures, links),
        "invalid": invalid_rows(figures, links),
        "list_url": links.to(),
        "invalid_url": links.to(invalid=quality.ANY_INVALID),
        "duplicate_url": links.to(duplicate=1),
        "stale_url": links.stale(),
        "stale_share": round(figures.stale * 100 / figures.customers, 1)
        if figures.customers
        else None,
        "owners": _owner_rows(report, days)
        if owner is None and quality.sees_others(request.user)
        else None,
        "chart": trend_chart(quality.trend(request.user, owner)),
    }
    return render_page(request, "dataio/quality.html", context, status=422 if form.errors else 200)

"""The reports' figures through the API: the same selectors as the pages.

Every member may call them; admins, managers and analysts get the firm's figures,
everyone else those of the customers and orders they may see (the package docstring).
An until before since is a 422 problem naming `until`.
"""

from typing import Any

from django.http import HttpRequest
from django.utils import timezone
from ninja import Query, Router

from kehu.reports import selectors
from kehu.reports.definitions import figure_cells, split_cells
from kehu.reports.schemas import (
    CustomerEffortReportOut,
    EffortQuery,
    NewVsExistingReportOut,
    ReportQuery,
    RevenueQuery,
    RevenueReportOut,
)
from kehu.tenancy.api_auth import api_user

router = Router(tags=["reports"])


def query_filters(query: ReportQuery, **options: Any) -> selectors.ReportFilters:
    return selectors.report_filters(
        today=timezone.localdate(),
        preset=query.preset or "",
        since=query.since,
        until=query.until,
        period=query.period,
        team_id=query.team,
        owner_id=query.rep,
        **options,
    )


def range_fields(filters: selectors.ReportFilters) -> dict[str, Any]:
    return {"since": filters.since, "until": filters.until, "currency": selectors.REPORT_CURRENCY}


@router.get("/reports/revenue", response=RevenueReportOut)
def revenue(request: HttpRequest, query: Query[RevenueQuery]) -> dict[str, Any]:
    """Revenue, cost, gross profit, margin and order count of booked orders, grouped
    `by` period (month/quarter/year), rep, team, product, category, region or channel."""
    user = api_user(request)
    filters = query_filters(query, province=query.province.strip() or None)
    report = selectors.revenue_report(user, filters, query.by)
    return {
        **range_fields(filters),
        "by": query.by,
        "rows": [
            {
                "key": None if r.key is None else str(r.key),
                "label": r.label,
                **figure_cells(r.figures),
            }
            for r in report.rows
        ],
        "total": figure_cells(report.total),
        "other_currencies": [
            {"currency": c.currency, **figure_cells(c.figures)} for c in report.other_currencies
        ],
    }


@router.get("/reports/customer-effort", response=CustomerEffortReportOut)
def customer_effort(request: HttpRequest, query: Query[EffortQuery]) -> dict[str, Any]:
    """The `top` customers by staff hours in the range, with revenue, profit and profit
    per staff hour (人效)."""
    user = api_user(request)
    filters = query_filters(query, top=query.top)
    rows = [
        {
            "party_id": c.party_id,
            "name": c.name,
            "hours": c.hours,
            "revenue": c.figures.revenue,
            "profit": c.figures.profit,
            "profit_per_hour": c.profit_per_hour,
        }
        for c in selectors.customer_effort(user, filters)
    ]
    return {**range_fields(filters), "rows": rows}


@router.get("/reports/new-vs-existing", response=NewVsExistingReportOut)
def new_vs_existing(request: HttpRequest, query: Query[ReportQuery]) -> dict[str, Any]:
    """Per period: revenue, profit and staff hours of new customers (first booked order
    in the period), existing ones, and (hours) prospects, with the shares in %."""
    user = api_user(request)
    filters = query_filters(query)
    rows = [
        {"start": s.start, "label": s.label, **split_cells(s)}
        for s in selectors.new_vs_existing(user, filters)
    ]
    return {**range_fields(filters), "period": filters.period, "rows": rows}

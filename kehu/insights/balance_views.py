"""The customer asset balance sheet page and the planned spend it counts as liabilities.

Every member opens the sheet, over the customers they may report on (firm_selectors);
planned spend is the firm's: read by those who see the whole firm, written by managers
and admins (balance_selectors.sees_budget)."""

import datetime
from typing import Any

from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import redirect
from django.utils import timezone
from django.utils.dateparse import parse_date
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from kehu.core.web import render_page
from kehu.insights import balance_selectors as selectors
from kehu.insights import balance_services as services
from kehu.insights.balance_forms import PlannedSpendForm
from kehu.insights.models import PlannedSpend, ScoringRun
from kehu.parties.selectors import capped_count
from kehu.parties.views import page_number, paginate
from kehu.tenancy.views import MemberRequest, form_status, member_required, require, submit


def run_from(value: str | None) -> ScoringRun | None:
    """The run named by ?run= (404 when there is no such finished run), else the latest."""
    if not value:
        return selectors.chosen_run(None)
    run = selectors.chosen_run(int(value)) if value.isdigit() else None
    if run is None:
        raise Http404
    return run


def sheet_chart(sheet: selectors.BalanceSheet) -> dict[str, Any]:
    """Assets up, liabilities down, and the net equity, as bars."""
    counted = [line for line in sheet.liabilities if line.amount is not None]
    labels = [line.label for line in sheet.assets + counted] + [_("净客户资产")]
    data = [float(line.amount or 0) for line in sheet.assets]
    data += [-float(line.amount or 0) for line in counted] + [float(sheet.equity)]
    series = [{"name": _("金额（元）"), "style": "bar", "right": False, "stack": "", "data": data}]
    return {"labels": labels, "series": series}


def movement_chart(sheet: selectors.BalanceSheet) -> dict[str, Any]:
    """The change of CLP by movement since the run before."""
    data = [float(m.change) for m in sheet.movements]
    name = _("客户全生命周期利润的变化")
    series = [{"name": name, "style": "bar", "right": False, "stack": "", "data": data}]
    return {"labels": [m.label for m in sheet.movements], "series": series}


@member_required
def balance_sheet(request: MemberRequest) -> HttpResponse:
    run = run_from(request.GET.get("run"))
    show = request.GET.get("show", "")
    show = show if show in selectors.SHOWS else ""
    sheet = selectors.balance_sheet(request.user, run)
    context = {
        "nav": "insights",
        "sheet": sheet,
        "runs": selectors.run_choices(),
        "show": show,
        "listed": selectors.behind(request.user, run, show) if run and show else [],
        "moved": show in selectors.MOVEMENTS,
        "show_label": dict(selectors.ASSET_LINES | selectors.MOVEMENTS).get(show, ""),
        "chart": sheet_chart(sheet),
        "movement_chart": movement_chart(sheet),
        "can_see_spend": selectors.sees_budget(request.user),
    }
    return render_page(request, "insights/firm/balance_sheet.html", context)


# --- planned spend --------------------------------------------------------------------


def _entry(request: MemberRequest, pk: int) -> PlannedSpend:
    entry = PlannedSpend.objects.filter(pk=pk).first()
    if entry is None or not selectors.sees_budget(request.user):
        raise Http404
    return entry


def _new_form() -> PlannedSpendForm:
    today = timezone.localdate()
    start = today.replace(day=1)
    end = (start.replace(day=28) + datetime.timedelta(days=4)).replace(day=1)
    initial = {"period_start": start, "period_end": end - datetime.timedelta(days=1)}
    return PlannedSpendForm(initial=initial)


def _day(value: str) -> datetime.date | None:
    try:
        return parse_date(value)
    except ValueError:
        return None


@member_required
def planned_spend(request: MemberRequest) -> HttpResponse:
    """The entries (those whose period holds ?on= when given) and, for managers, a form."""
    seen = selectors.sees_budget(request.user)
    form = _new_form()
    if request.method == "POST":
        require(request.user.can_manage)
        form = PlannedSpendForm(request.POST)
        done = submit(form, lambda d: services.planned_spend_create(actor=request.user, **d))
        if done is not None:
            messages.success(request, _("已添加计划投入。"))
            return redirect("insights_firm:planned_spend")
    on = _day(request.GET.get("on", ""))
    entries = PlannedSpend.objects.select_related("created_by").order_by(
        "-period_start", "kind", "id"
    )
    if on is not None:
        entries = selectors.spend_on(on).select_related("created_by").order_by("kind", "id")
    if not seen:
        entries = entries.none()
    context = {
        "nav": "insights",
        "seen": seen,
        "on": on,
        "page": paginate(entries, page_number(request), capped_count(entries)),
        "form": form,
        "can_manage": request.user.can_manage,
    }
    return render_page(
        request, "insights/firm/planned_spend.html", context, status=form_status(form)
    )


@member_required
def planned_spend_edit(request: MemberRequest, pk: int) -> HttpResponse:
    entry = _entry(request, pk)
    require(request.user.can_manage)
    if request.method == "POST":
        form = PlannedSpendForm(request.POST)
        done = submit(
            form, lambda d: services.planned_spend_update(actor=request.user, entry=entry, **d)
        )
        if done is not None:
            messages.success(request, _("已保存计划投入。"))
            return redirect("insights_firm:planned_spend")
        entry.refresh_from_db()
    else:
        form = PlannedSpendForm.for_entry(entry)
    context = {"nav": "insights", "entry": entry, "form": form}
    return render_page(
        request, "insights/firm/planned_spend_edit.html", context, status=form_status(form)
    )


@member_required
@require_POST
def planned_spend_delete(request: MemberRequest, pk: int) -> HttpResponse:
    entry = _entry(request, pk)
    require(request.user.can_manage)
    services.planned_spend_delete(actor=request.user, entry=entry)
    messages.success(request, _("已删除计划投入。"))
    return redirect("insights_firm:planned_spend")

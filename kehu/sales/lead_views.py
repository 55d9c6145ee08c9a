"""Lead pages: the list, capture by hand, a lead's page with its status buttons,
assignment and conversion (with the duplicate check's candidates).

Leads are fetched with `get_lead_for_user` (404 when not the user's to see, 403 when the
user may not write); a party picked at conversion with `get_party_for_user`.
"""

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from kehu.core.web import run_reporting
from kehu.parties.selectors import (
    COUNT_CAP,
    capped_count,
    get_party_for_user,
    parties_visible_to,
)
from kehu.parties.views import page_number, paginate
from kehu.sales import lead_services as leads
from kehu.sales import pipeline_selectors as selectors
from kehu.sales.models import Lead, LeadStatus
from kehu.sales.pipeline_forms import (
    AssignForm,
    ConvertForm,
    DisqualifyForm,
    LeadFilterForm,
    LeadForm,
)
from kehu.sales.views import list_response
from kehu.tenancy.views import MemberRequest, form_status, member_required, require, submit

STATUS_ACTIONS: dict[str, Callable[..., Lead]] = {
    LeadStatus.WORKING: leads.lead_work,
    LeadStatus.QUALIFIED: leads.lead_qualify,
}


@member_required
def lead_list(request: MemberRequest) -> HttpResponse:
    form = LeadFilterForm(request.GET)
    found = selectors.lead_list(request.user, form.filters())
    page = paginate(found, page_number(request), capped_count(found, COUNT_CAP))
    context = {"nav": "leads", "form": form, "page": page}
    return list_response(request, "sales/lead_list.html", "sales/_lead_results.html", context)


@member_required
def lead_new(request: MemberRequest) -> HttpResponse:
    require(request.user.can_write)
    form = LeadForm(request.POST if request.method == "POST" else None)
    if request.method == "POST":
        lead = submit(form, lambda data: leads.lead_create(actor=request.user, **data))
        if lead is not None:
            messages.success(request, _("已添加线索「%(name)s」。") % {"name": lead.name})
            return redirect("sales:lead_detail", pk=lead.pk)
    context = {"nav": "leads", "form": form, "lead": None}
    return render(request, "sales/lead_form.html", context, status=form_status(form))


@member_required
def lead_edit(request: MemberRequest, pk: int) -> HttpResponse:
    lead = selectors.get_lead_for_user(request.user, pk, write=True)
    names = LeadForm.base_fields
    initial = {n: getattr(lead, n) for n in names if n != "product_interest"}
    initial["product_interest"] = lead.product_interest_id
    form = LeadForm(request.POST if request.method == "POST" else None, initial=initial)
    if request.method == "POST":
        saved = submit(form, lambda data: leads.lead_update(actor=request.user, lead=lead, **data))
        if saved is not None:
            messages.success(request, _("已保存线索「%(name)s」。") % {"name": saved.name})
            return redirect("sales:lead_detail", pk=lead.pk)
        lead.refresh_from_db()
    context = {"nav": "leads", "form": form, "lead": lead}
    return render(request, "sales/lead_form.html", context, status=form_status(form))


def _candidates(request: MemberRequest, lead: Lead) -> list[Any]:
    """The duplicate check's parties that the user may see (the others stay unnamed)."""
    found = leads.lead_duplicates(lead)
    seen = set(
        parties_visible_to(request.user)
        .filter(pk__in=[p.pk for p in found])
        .values_list("pk", flat=True)
    )
    return [p for p in found if p.pk in seen]


@member_required
def lead_detail(request: MemberRequest, pk: int) -> HttpResponse:
    lead = selectors.get_lead_for_user(request.user, pk)
    open_lead = lead.status not in (LeadStatus.CONVERTED, LeadStatus.DISQUALIFIED)
    context = {
        "nav": "leads",
        "lead": lead,
        "moves": sorted(leads.STATUS_MOVES[lead.status]),
        "can_write": request.user.can_write,
        "assign_form": AssignForm(initial={"owner": lead.owner_id, "team": lead.team_id}),
        "disqualify_form": DisqualifyForm(),
        "convert_form": ConvertForm(),
        "candidates": _candidates(request, lead) if open_lead else [],
        "open": open_lead,
    }
    return render(request, "sales/lead_detail.html", context)


def _done(request: MemberRequest, lead: Lead, action: Callable[[], Any], ok: str) -> HttpResponse:
    run_reporting(request, action, ok)
    return redirect("sales:lead_detail", pk=lead.pk)


@member_required
@require_POST
def lead_status(request: MemberRequest, pk: int) -> HttpResponse:
    lead = selectors.get_lead_for_user(request.user, pk, write=True)
    status = request.POST.get("status", "")
    if status == LeadStatus.DISQUALIFIED:
        form = DisqualifyForm(request.POST)
        reason = form.cleaned_data["reason"] if form.is_valid() else ""
        return _done(
            request,
            lead,
            lambda: leads.lead_disqualify(actor=request.user, lead=lead, reason=reason),
            _("线索已废弃。"),
        )
    action = STATUS_ACTIONS.get(status)
    if action is None:
        raise Http404
    return _done(
        request,
        lead,
        lambda: action(actor=request.user, lead=lead),
        _("线索已改为「%(s)s」。") % {"s": LeadStatus(status).label},
    )


@member_required
@require_POST
def lead_assign(request: MemberRequest, pk: int) -> HttpResponse:
    lead = selectors.get_lead_for_user(request.user, pk, write=True)
    form = AssignForm(request.POST)
    data = form.cleaned_data if form.is_valid() else {}
    return _done(
        request,
        lead,
        lambda: leads.lead_assign(
            actor=request.user, lead=lead, owner=data.get("owner"), team=data.get("team")
        ),
        _("已分配线索。"),
    )


@member_required
@require_POST
def lead_convert(request: MemberRequest, pk: int) -> HttpResponse:
    """Convert into new records or, given `existing`, onto a party the user may see."""
    user = request.user
    lead = selectors.get_lead_for_user(user, pk, write=True)
    form = ConvertForm(request.POST)
    if not form.is_valid():
        raise Http404
    data = form.cleaned_data
    existing = get_party_for_user(user, data["existing"], write=True) if data["existing"] else None
    try:
        deal = leads.lead_convert(
            actor=user,
            lead=lead,
            existing=existing,
            create_anyway=request.POST.get("create_anyway") == "1",
            opportunity_name=data["opportunity_name"],
        )
    except ValidationError as exc:
        messages.error(request, "；".join(exc.messages))
        return redirect("sales:lead_detail", pk=lead.pk)
    messages.success(request, _("线索已转化：已创建商机「%(name)s」。") % {"name": deal.name})
    return redirect("sales:opportunity_detail", pk=deal.pk)

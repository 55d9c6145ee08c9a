"""Opportunity pages: the board (drag a card to change its stage), the list, a deal's
page with win and lose, create and edit with products; the forecast and the revenue
report; the pipeline settings (admins and managers).

Deals are fetched with `get_opportunity_for_user` (404 when not the user's to see, 403
when the user may not write). Refused changes answer 422 with the reason.
"""

from collections.abc import Callable, Iterable
from dataclasses import replace
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html_join
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from kehu.core.web import add_service_errors, is_htmx, run_reporting
from kehu.parties.selectors import COUNT_CAP, capped_count
from kehu.parties.views import page_number, paginate
from kehu.sales import pipeline_selectors as selectors
from kehu.sales import pipeline_services as deals
from kehu.sales.forms import line_initial, put_line_errors
from kehu.sales.models import (
    Opportunity,
    OpportunityLine,
    Pipeline,
    Stage,
    StageKind,
    StageMove,
)
from kehu.sales.pipeline_forms import (
    LoseForm,
    MoveForm,
    OpportunityFilterForm,
    OpportunityForm,
    OpportunityLineFormSet,
    WinForm,
)
from kehu.sales.views import INVALID, list_response, party_choice, party_picker
from kehu.tenancy.views import MemberRequest, member_required, require

ID_MARK = 987654321  # stands for a deal's id in a URL reversed once
SELECTED = mark_safe(" selected")
FORECAST_BY = {
    "month": gettext_lazy("按月"),
    "owner": gettext_lazy("按负责人"),
    "team": gettext_lazy("按团队"),
}


def _stale_flags(rows: list[Opportunity], cutoff: Any = None) -> list[Opportunity]:
    cutoff = cutoff or selectors.stale_cutoff()
    for deal in rows:
        deal.is_stale = selectors.is_stale(deal, cutoff)  # type: ignore[attr-defined]
    return rows


def _url_maker(name: str) -> Callable[[int], str]:
    """`pk → reverse(name, args=[pk])`, reversed once: a board of 200 cards reversed
    600 URLs."""
    head, tail = reverse(name, args=[ID_MARK]).split(str(ID_MARK))
    return lambda pk: f"{head}{pk}{tail}"


def _ready_cards(cards: Iterable[Opportunity], stages: list[Stage]) -> None:
    """What each card repeats, made once per page rather than once per card: its links
    and its stage select's options (rendered once per stage)."""
    detail = _url_maker("sales:opportunity_detail")
    move = _url_maker("sales:opportunity_move")
    options: dict[int, str] = {}
    for deal in cards:
        if deal.stage_id not in options:
            options[deal.stage_id] = format_html_join(
                "",
                '<option value="{}"{}>{}</option>',
                ((s.pk, SELECTED if s.pk == deal.stage_id else "", s.name) for s in stages),
            )
        deal.card_options = options[deal.stage_id]  # type: ignore[attr-defined]
        deal.detail_url = detail(deal.pk)  # type: ignore[attr-defined]
        deal.move_url = move(deal.pk)  # type: ignore[attr-defined]


@member_required
def opportunity_list(request: MemberRequest) -> HttpResponse:
    form = OpportunityFilterForm(request.GET)
    found = selectors.opportunity_list(request.user, form.filters())
    page = paginate(found, page_number(request), capped_count(found, COUNT_CAP))
    page = replace(page, rows=_stale_flags(page.rows))
    context = {"nav": "opportunities", "form": form, "page": page}
    return list_response(
        request, "sales/opportunity_list.html", "sales/_opportunity_results.html", context
    )


def _board_pipeline(request: MemberRequest, pipelines: list[Pipeline]) -> Pipeline:
    """The pipeline asked for (?pipeline=), else the default (listed first)."""
    raw = request.GET.get("pipeline", "")
    if not raw.isdigit():
        return pipelines[0]
    for pipeline in pipelines:
        if pipeline.pk == int(raw):
            return pipeline
    raise Http404


def _board_filters(request: MemberRequest) -> tuple[OpportunityFilterForm, Any]:
    form = OpportunityFilterForm(request.GET)
    return form, replace(form.filters(), status=StageKind.OPEN)


@member_required
def board(request: MemberRequest) -> HttpResponse:
    """One column per open stage; a card per deal (the latest of each stage, "load more"
    for the rest); dragging a card moves the deal."""
    pipelines = list(selectors.pipelines())
    if not pipelines:
        return render(request, "sales/board_empty.html", {"nav": "opportunities"})
    pipeline = _board_pipeline(request, pipelines)
    form, filters = _board_filters(request)
    columns = selectors.board(request.user, pipeline, filters)
    cutoff = selectors.stale_cutoff()
    stages = _card_stages(pipeline)
    for column in columns:
        _stale_flags(column.cards, cutoff)
        _ready_cards(column.cards, stages)
    context = {
        "nav": "opportunities",
        "pipeline": pipeline,
        "pipelines": pipelines,
        "columns": columns,
        "form": form,
        "more_query": _more_query(request),
        "can_write": request.user.can_write,
    }
    return render(request, "sales/board.html", context)


def _more_query(request: MemberRequest) -> str:
    """The board's filters, for its "load more" requests."""
    query = request.GET.copy()
    for name in ("pipeline", "stage", "before"):
        query.pop(name, None)
    return query.urlencode()


@member_required
def board_more(request: MemberRequest) -> HttpResponse:
    """The next cards of a board column (htmx: appended under the ones shown), older than
    the card `before`, with the same filters as the board."""
    pipelines = list(selectors.pipelines())
    if not pipelines:
        raise Http404
    pipeline = _board_pipeline(request, pipelines)
    raw_stage, raw_before = request.GET.get("stage", ""), request.GET.get("before", "")
    if not raw_stage.isdigit() or not raw_before.isdigit():
        raise Http404
    stage = selectors.stages_of(pipeline).filter(pk=int(raw_stage), kind=StageKind.OPEN).first()
    if stage is None:
        raise Http404
    _form, filters = _board_filters(request)
    deals = selectors.board_deals(request.user, pipeline, filters)
    cards, more = selectors.column_cards(deals, stage.pk, before=int(raw_before))
    _stale_flags(cards, selectors.stale_cutoff())
    _ready_cards(cards, _card_stages(pipeline))
    context = {
        "pipeline": pipeline,
        "column": selectors.Column(stage, cards, more=more),
        "more_query": _more_query(request),
        "can_write": request.user.can_write,
    }
    return render(request, "sales/_board_more.html", context)


def _history(deal: Opportunity) -> list[StageMove]:
    moves = StageMove.objects.filter(opportunity=deal).select_related(
        "from_stage", "to_stage", "moved_by"
    )
    return list(moves.order_by("-moved_at", "-id"))


@member_required
def opportunity_detail(request: MemberRequest, pk: int) -> HttpResponse:
    deal = selectors.get_opportunity_for_user(request.user, pk)
    lines = OpportunityLine.objects.filter(opportunity=deal).select_related("product")
    context = {
        "nav": "opportunities",
        "deal": deal,
        "lines": lines.order_by("position"),
        "moves": _history(deal),
        "competitors": list(deal.competitors.order_by("name")),
        "move_form": MoveForm(pipeline=deal.pipeline, initial={"stage": deal.stage_id}),
        "win_form": WinForm(initial={"closed_on": timezone.localdate()}),
        "lose_form": LoseForm(),
        "weighted": deals.weighted(deal.amount, deal.stage.probability),
        "can_write": request.user.can_write,
    }
    return render(request, "sales/opportunity_detail.html", context)


def _deal_page(
    request: MemberRequest, form: OpportunityForm, lines: Any, *, party: Any, deal: Any
) -> HttpResponse:
    status = INVALID if form.is_bound and (form.errors or not lines.is_valid()) else 200
    context = {"nav": "opportunities", "form": form, "lines": lines, "party": party, "deal": deal}
    return render(request, "sales/opportunity_form.html", context, status=status)


def _save_deal(form: OpportunityForm, lines: Any, action: Any) -> Opportunity | None:
    if not (form.is_valid() & lines.is_valid()):
        return None
    try:
        saved: Opportunity = action(dict(form.cleaned_data), [r.line() for r in lines.filled()])
    except ValidationError as exc:
        rest = put_line_errors(lines, exc)
        if rest is not None:
            add_service_errors(form, rest)
        return None
    return saved


@member_required
def opportunity_new(request: MemberRequest) -> HttpResponse:
    user = request.user
    require(user.can_write)
    party = party_choice(request)
    if party is None:
        return party_picker(
            request,
            "opportunities",
            "sales:opportunity_new",
            _("新建商机"),
            _("先选择商机的客户。"),
        )
    posted = request.POST if request.method == "POST" else None
    default = selectors.pipelines().first()
    initial = {"owner": party.owner_id, "pipeline": default.pk if default else None}
    form = OpportunityForm(posted, party=party, initial=initial)
    lines = OpportunityLineFormSet(posted, prefix="lines")
    lines.extra = 1
    saved = None
    if posted is not None:
        saved = _save_deal(
            form,
            lines,
            lambda data, rows: deals.opportunity_create(
                actor=user, party=party, lines=rows, **data
            ),
        )
    if saved is None:
        return _deal_page(request, form, lines, party=party, deal=None)
    messages.success(request, _("已创建商机「%(name)s」。") % {"name": saved.name})
    return redirect("sales:opportunity_detail", pk=saved.pk)


def _deal_initial(deal: Opportunity) -> dict[str, Any]:
    names = set(OpportunityForm.base_fields) - {"pipeline", "contact", "owner"}
    initial = {name: getattr(deal, name) for name in names}
    return initial | {"contact": deal.contact_id, "owner": deal.owner_id}


@member_required
def opportunity_edit(request: MemberRequest, pk: int) -> HttpResponse:
    user = request.user
    deal = selectors.get_opportunity_for_user(user, pk, write=True)
    posted = request.POST if request.method == "POST" else None
    form = OpportunityForm(posted, party=deal.party, initial=_deal_initial(deal), editing=True)
    lines = OpportunityLineFormSet(
        posted,
        prefix="lines",
        initial=line_initial(OpportunityLine.objects.filter(opportunity=deal).order_by("position")),
    )
    saved = None
    if posted is not None:
        saved = _save_deal(
            form,
            lines,
            lambda data, rows: deals.opportunity_update(
                actor=user, opportunity=deal, lines=rows, **data
            ),
        )
    if saved is None:
        if posted is not None:
            deal.refresh_from_db()
        return _deal_page(request, form, lines, party=deal.party, deal=deal)
    messages.success(request, _("已保存商机「%(name)s」。") % {"name": saved.name})
    return redirect("sales:opportunity_detail", pk=deal.pk)


def _card_stages(pipeline: Pipeline) -> list[Any]:
    """What a card's select offers: the open stages and won (lost needs a reason)."""
    return [s for s in selectors.stages_of(pipeline) if s.kind != StageKind.LOST]


def _card(request: MemberRequest, deal: Opportunity, error: str = "") -> HttpResponse:
    """The deal's card as the board shows it, in the stage it is now in."""
    fresh = selectors.with_last_activity(Opportunity.objects.filter(pk=deal.pk))
    shown = fresh.select_related("party", "owner", "stage").get()
    shown.is_stale = selectors.is_stale(shown, selectors.stale_cutoff())  # type: ignore[attr-defined]
    _ready_cards([shown], _card_stages(deal.pipeline))
    context = {
        "deal": shown,
        "error": error,
        "can_write": True,
    }
    return render(request, "sales/_deal_card.html", context, status=INVALID if error else 200)


@member_required
@require_POST
def opportunity_move(request: MemberRequest, pk: int) -> HttpResponse:
    """The board's drag (htmx: the card comes back, in its new column or, refused, in
    its old one with the reason) and the card's stage select without JavaScript."""
    deal = selectors.get_opportunity_for_user(request.user, pk, write=True)
    form = MoveForm(request.POST, pipeline=deal.pipeline)
    error = ""
    if not form.is_valid():
        error = _("请选择这个流程中的阶段。")
    else:
        try:
            deals.opportunity_move(
                actor=request.user, opportunity=deal, stage=form.cleaned_data["stage"]
            )
        except ValidationError as exc:
            error = "；".join(exc.messages)
    if is_htmx(request):
        return _card(request, deal, error)
    if error:
        messages.error(request, error)
    back = request.POST.get("back", "")
    if back == "detail":
        return redirect("sales:opportunity_detail", pk=deal.pk)
    return redirect(f"{reverse('sales:board')}?pipeline={deal.pipeline_id}")


def _closing(request: MemberRequest, deal: Opportunity, action: Any, done: str) -> HttpResponse:
    run_reporting(request, action, done)
    return redirect("sales:opportunity_detail", pk=deal.pk)


@member_required
@require_POST
def opportunity_win(request: MemberRequest, pk: int) -> HttpResponse:
    deal = selectors.get_opportunity_for_user(request.user, pk, write=True)
    form = WinForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("请填写正确的成交日期。"))
        return redirect("sales:opportunity_detail", pk=deal.pk)
    data = form.cleaned_data
    return _closing(
        request,
        deal,
        lambda: deals.opportunity_win(
            actor=request.user, opportunity=deal, closed_on=data["closed_on"], note=data["note"]
        ),
        _("商机已赢单。"),
    )


@member_required
@require_POST
def opportunity_lose(request: MemberRequest, pk: int) -> HttpResponse:
    deal = selectors.get_opportunity_for_user(request.user, pk, write=True)
    form = LoseForm(request.POST)
    form.is_valid()
    data = getattr(form, "cleaned_data", {})
    return _closing(
        request,
        deal,
        lambda: deals.opportunity_lose(
            actor=request.user,
            opportunity=deal,
            reason=data.get("reason"),
            note=data.get("note", ""),
        ),
        _("商机已输单。"),
    )


# --- the forecast --------------------------------------------------------------------


@member_required
def forecast(request: MemberRequest) -> HttpResponse:
    by = request.GET.get("by", "month")
    if by not in FORECAST_BY:
        by = "month"
    rows = selectors.forecast(request.user, by)
    chart = {
        "months": sorted({r.month.strftime("%Y-%m") for r in rows}),
        "series": _series(rows),
    }
    context = {"nav": "forecast", "rows": rows, "by": by, "choices": FORECAST_BY, "chart": chart}
    return render(request, "sales/forecast.html", context)


def _series(rows: list[selectors.ForecastRow]) -> list[dict[str, Any]]:
    """One bar series per owner or team (one for the month totals), values by month."""
    months = sorted({r.month for r in rows})
    by_key: dict[str, dict[Any, str]] = {}
    for r in rows:
        by_key.setdefault(r.key, {})[r.month] = str(r.weighted)
    return [
        {"name": key or _("合计"), "data": [values.get(m, "0") for m in months]}
        for key, values in sorted(by_key.items())
    ]

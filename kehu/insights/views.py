"""Customer value pages: overview and scoring runs, the value pyramid and its customers,
the win-back list, the settings, and the panel on a customer's page."""

from dataclasses import dataclass
from typing import Any

from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.decorators.http import require_POST

from kehu.core.web import is_htmx, render_page
from kehu.insights import selectors, services
from kehu.insights.forms import SORTS, InsightSettingsForm, ScoreFilterForm, StageOverrideForm
from kehu.insights.models import CustomerScore, LifecycleStage, ScoringRun, ValueTier
from kehu.parties.selectors import capped_count, get_party_for_user, parties_visible_to
from kehu.parties.views import page_number, paginate
from kehu.tenancy.views import MemberRequest, form_status, member_required, require, submit


def _run_context(run: ScoringRun | None) -> dict[str, Any]:
    return {"run": run, "polling": run is not None and run.is_active}


@member_required
def overview(request: MemberRequest) -> HttpResponse:
    context = {
        "nav": "insights",
        "pyramid": selectors.pyramid(request.user),
        "done": selectors.last_done_run(),
        "rule": selectors.insight_settings(),
        "can_manage": request.user.can_manage,
        **_run_context(selectors.latest_run()),
    }
    return render(request, "insights/overview.html", context)


@member_required
@require_POST
def run_start(request: MemberRequest) -> HttpResponse:
    require(request.user.can_manage)
    try:
        run: ScoringRun | None = services.scoring_run_start(actor=request.user)
    except services.RunInProgress as exc:
        messages.error(request, " ".join(exc.messages))
        run = selectors.latest_run()
    if not is_htmx(request):
        return redirect("insights:overview")
    return render(request, "insights/_run.html", {**_run_context(run), "can_manage": True})


@member_required
def run_progress(request: MemberRequest, pk: int) -> HttpResponse:
    run = selectors.get_run(pk)
    if run is None:
        raise Http404
    context = {**_run_context(run), "can_manage": request.user.can_manage}
    response = render(request, "insights/_run.html", context)
    if is_htmx(request) and not run.is_active:
        # The poll saw the run end: reload the page so its summary shows the new scores.
        response["HX-Refresh"] = "true"
    return response


@member_required
def pyramid(request: MemberRequest) -> HttpResponse:
    tiers = selectors.pyramid(request.user)
    chart = {
        "labels": [t.label for t in tiers],
        "series": [
            {
                "name": _("客户全生命周期利润"),
                "style": "bar",
                "right": False,
                "stack": "",
                "data": [float(t.clp) for t in tiers],
            },
            {
                "name": _("客户数"),
                "style": "line",
                "right": True,
                "stack": "",
                "data": [t.customers for t in tiers],
            },
        ],
    }
    context = {"nav": "insights", "tiers": tiers, "chart": chart, "done": selectors.last_done_run()}
    return render(request, "insights/pyramid.html", context)


@member_required
def customers(request: MemberRequest) -> HttpResponse:
    form = ScoreFilterForm(request.GET)
    tier, stage = form.value("tier"), form.value("stage")
    scores = selectors.scores_by_clp(request.user, tier=tier, stage=stage)
    scores = scores.order_by(*SORTS.get(form.value("sort"), SORTS["clp"]))
    page = paginate(scores, page_number(request), capped_count(scores))
    context = {
        "nav": "insights",
        "form": form,
        "page": page,
        "tier": ValueTier(tier).label if tier else "",
    }
    return render_page(
        request, "insights/customers.html", context, fragment="insights/_scores.html"
    )


@member_required
def win_back(request: MemberRequest) -> HttpResponse:
    scores = selectors.win_back_list(request.user)
    page = paginate(scores, page_number(request), capped_count(scores))
    ids = [s.party_id for s in page.rows]
    context = {
        "nav": "insights",
        "page": page,
        "rule": selectors.insight_settings(),
        "open_ids": selectors.open_win_back_party_ids(ids),
        "can_write": request.user.can_write,
    }
    return render(request, "insights/win_back.html", context)


@member_required
@require_POST
def win_back_tasks(request: MemberRequest) -> HttpResponse:
    require(request.user.can_write)
    ids = [int(v) for v in request.POST.getlist("party") if v.isdigit()]
    parties = list(parties_visible_to(request.user).filter(pk__in=ids).select_related("owner"))
    if not parties:
        raise Http404
    outcome = services.win_back_tasks_create(actor=request.user, parties=parties)
    if outcome.created:
        n = len(outcome.created)
        messages.success(
            request,
            ngettext("已创建 %(n)s 个挽回任务。", "已创建 %(n)s 个挽回任务。", n) % {"n": n},
        )
    for party, why in outcome.skipped:
        messages.warning(request, _("「%(name)s」：%(why)s") % {"name": party.name, "why": why})
    return redirect("insights:win_back")


@member_required
def insight_settings(request: MemberRequest) -> HttpResponse:
    require(request.user.can_manage)
    rule = selectors.insight_settings()
    if request.method == "POST":
        form = InsightSettingsForm(request.POST)
        saved = submit(form, lambda d: services.insight_settings_update(actor=request.user, **d))
        if saved is not None:
            messages.success(request, _("已保存客户价值设置，下次评分时生效。"))
            return redirect("insights:settings")
    else:
        form = InsightSettingsForm.for_rule(rule)
    context = {"nav": "settings", "tab": "insights", "form": form, "rule": rule}
    return render(request, "insights/settings.html", context, status=form_status(form))


# --- the panel on a customer's page ------------------------------------------------------


@dataclass(frozen=True)
class Reason:
    label: str
    value: str
    rule: str


def _percent(value: float) -> str:
    return f"{round(value * 100)}%"


def stage_reasons(score: CustomerScore) -> list[Reason]:
    """The signals behind the inferred stage, each with the threshold it is read against."""
    data = score.stage_reasons or {}
    s, t = data.get("signals", {}), data.get("thresholds", {})
    if not s:
        return []
    before = s.get("had_before", False)
    no_before = _("前半年没有购买，无从比较")
    return [
        Reason(
            _("合作时长"),
            _("%(n)s 天") % {"n": s["tenure_days"]},
            _("少于 %(a)s 天为考察期；满 %(b)s 天才可能进入稳定期")
            % {"a": t.get("exploration_days"), "b": t.get("stability_days")},
        ),
        Reason(
            _("购买天数"),
            str(s["purchase_days"]),
            _("只有 1 天为考察期；至少 %(n)s 天才可能进入稳定期")
            % {"n": t.get("stability_purchase_days")},
        ),
        Reason(
            _("距上次购买"),
            _("%(n)s 天") % {"n": s["recency_days"]},
            _("只买过一次且超过 %(n)s 天未再购买为退化期") % {"n": t.get("one_time_stale_days")},
        ),
        Reason(
            _("购买频率趋势（近半年比前半年）"),
            _percent(s["frequency_trend"]) if before else no_before,
            _("下降超过 %(p)s 为退化期") % {"p": _percent(t.get("trend", 0))},
        ),
        Reason(
            _("价值趋势（近半年比前半年）"),
            _percent(s["value_trend"]) if before else no_before,
            _("下降超过 %(p)s 为退化期；上升超过 %(r)s 仍为形成期")
            % {"p": _percent(t.get("trend", 0)), "r": _percent(t.get("rising", 0))},
        ),
        Reason(
            _("存活概率"),
            _percent(s["p_alive"]),
            _("低于 %(p)s 为退化期") % {"p": _percent(t.get("alive", 0))},
        ),
    ]


RULE_TEXT = {
    "new": gettext_lazy("合作不满考察期天数"),
    "single_purchase": gettext_lazy("只有一个购买日"),
    "mature": gettext_lazy("合作久、购买多、价值平稳"),
    "growing": gettext_lazy("合作与购买仍在增长"),
    "one_time_stale": gettext_lazy("只买过一次，且很久没有再买"),
    "trend_down": gettext_lazy("购买频率或价值明显下降"),
    "p_alive_low": gettext_lazy("存活概率低于阈值"),
}


def rule_text(code: str) -> str:
    return str(RULE_TEXT.get(code, code))


def _panel_context(request: MemberRequest, pk: int, form: StageOverrideForm | None) -> Any:
    party = get_party_for_user(request.user, pk)
    history = selectors.party_scores(party)
    latest = next((s for s in history if s.is_latest), None)
    chart = {
        "labels": [s.as_of.isoformat() for s in reversed(history)],
        "series": [
            {
                "name": _("客户全生命周期利润"),
                "style": "line",
                "right": False,
                "stack": "",
                "data": [float(s.clp) for s in reversed(history)],
            },
            {
                "name": _("存活概率"),
                "style": "line",
                "right": True,
                "stack": "",
                "data": [round(s.p_alive, 4) for s in reversed(history)],
            },
        ],
    }
    return {
        "party": party,
        "score": latest,
        "history": history,
        "chart": chart,
        "reasons": stage_reasons(latest) if latest else [],
        "rule": rule_text(latest.stage_reasons.get("rule", "")) if latest else "",
        "override": selectors.current_override(party),
        "overrides": list(selectors.stage_overrides(party)[:5]),
        "can_manage": request.user.can_manage,
        "form": form or StageOverrideForm(auto_id="id_stage_%s"),
        "stages": LifecycleStage,
    }


@member_required
def party_panel(request: MemberRequest, pk: int) -> HttpResponse:
    return render(request, "insights/_party_panel.html", _panel_context(request, pk, None))


@member_required
@require_POST
def stage_override(request: MemberRequest, pk: int) -> HttpResponse:
    party = get_party_for_user(request.user, pk)
    require(request.user.can_manage)
    form = StageOverrideForm(request.POST, auto_id="id_stage_%s")
    done = submit(
        form,
        lambda d: services.stage_override_set(
            actor=request.user, party=party, stage=d["stage"], reason=d["reason"]
        ),
    )
    if not is_htmx(request):
        if done is None:
            messages.error(request, " ".join(str(m) for e in form.errors.values() for m in e))
        return redirect("parties:detail", pk=party.pk)
    context = _panel_context(request, pk, form if done is None else None)
    return render(request, "insights/_party_panel.html", context, status=form_status(form))

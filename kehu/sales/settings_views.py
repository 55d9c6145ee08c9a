"""The selling settings page (admins and managers): pipelines and their stages, lost
reasons, the stale period and default team, lead assignment rules and web forms.

One page shows everything; each form posts to its own small view, which calls a service
and comes back to the page with what happened (or what was wrong) as a message.
"""

from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from kehu.sales import lead_services as leads
from kehu.sales import pipeline_selectors as selectors
from kehu.sales import pipeline_services as deals
from kehu.sales.models import AssignmentRule, WebForm
from kehu.sales.pipeline_forms import (
    LostReasonForm,
    PipelineCreateForm,
    RuleForm,
    SettingsForm,
    StageForm,
    WebFormForm,
)
from kehu.tenancy.views import MemberRequest, member_required, require

PAGE = "sales:pipeline_settings"


def _errors(form: forms.BaseForm) -> str:
    return "；".join(f"{m}" for errors in form.errors.values() for m in errors)


def _apply(
    request: MemberRequest, form: forms.Form, action: Callable[[dict[str, Any]], Any], done: str
) -> HttpResponse:
    """Run `action` on the form's data and come back to the settings page."""
    if form.is_valid():
        try:
            action(form.cleaned_data)
        except ValidationError as exc:
            messages.error(request, "；".join(exc.messages))
        else:
            messages.success(request, done)
    else:
        messages.error(request, _errors(form))
    return redirect(PAGE)


def manager_post(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """A settings form's POST: signed-in staff whose role may manage (else 403)."""

    def wrapped(request: MemberRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        require(request.user.can_manage)
        return view(request, *args, **kwargs)

    wrapped.__name__ = view.__name__
    wrapped.__doc__ = view.__doc__
    return member_required(require_POST(wrapped))


@member_required
def pipeline_settings(request: MemberRequest) -> HttpResponse:
    require(request.user.can_manage)
    pipelines = list(selectors.pipelines())
    stages = {p.pk: list(selectors.stages_of(p)) for p in pipelines}
    settings = selectors.pipeline_settings()
    context = {
        "nav": "settings",
        "pipelines": [
            (
                p,
                [
                    (s, StageForm(initial=_stage_initial(s), prefix=f"s{s.pk}"))
                    for s in stages[p.pk]
                ],
            )
            for p in pipelines
        ],
        "pipeline_form": PipelineCreateForm(),
        "stage_form": StageForm(prefix="new"),
        "lost_reasons": list(selectors.lost_reasons()),
        "lost_reason_form": LostReasonForm(),
        "settings_form": SettingsForm(
            initial={"stale_days": settings.stale_days, "default_team": settings.default_team_id}
        ),
        "rules": list(
            AssignmentRule.objects.select_related("product", "team", "user").order_by("position")
        ),
        "rule_form": RuleForm(),
        "web_forms": [(f, _embed(request, f)) for f in selectors.web_forms()],
        "web_form_form": WebFormForm(prefix="wf"),
    }
    return render(request, "sales/pipeline_settings.html", context)


def _embed(request: MemberRequest, form: WebForm) -> str:
    """The snippet a firm pastes into its website."""
    tenant = request.user.tenant
    assert tenant is not None  # member_required
    address = request.build_absolute_uri(
        reverse("web_form", kwargs={"tenant_slug": tenant.slug, "token": form.token})
    )
    return f'<iframe src="{address}" width="100%" height="640" style="border:0"></iframe>'


def _stage_initial(stage: Any) -> dict[str, Any]:
    return {
        "name": stage.name,
        "probability": stage.probability,
        "required_fields": stage.required_fields,
    }


@manager_post
def pipeline_new(request: MemberRequest) -> HttpResponse:
    return _apply(
        request,
        PipelineCreateForm(request.POST),
        lambda data: deals.pipeline_create(actor=request.user, **data),
        _("已添加销售流程。"),
    )


@manager_post
def pipeline_default(request: MemberRequest, pk: int) -> HttpResponse:
    pipeline = selectors.get_pipeline(pk)
    deals.pipeline_update(actor=request.user, pipeline=pipeline, is_default=True)
    messages.success(request, _("「%(name)s」已设为默认流程。") % {"name": pipeline.name})
    return redirect(PAGE)


@manager_post
def stage_new(request: MemberRequest, pk: int) -> HttpResponse:
    pipeline = selectors.get_pipeline(pk)
    return _apply(
        request,
        StageForm(request.POST, prefix="new"),
        lambda data: deals.stage_add(
            actor=request.user, pipeline=pipeline, stage=deals.StageIn(**data)
        ),
        _("已添加阶段。"),
    )


@manager_post
def stage_edit(request: MemberRequest, pk: int) -> HttpResponse:
    stage = selectors.get_stage(pk)
    return _apply(
        request,
        StageForm(request.POST, prefix=f"s{stage.pk}"),
        lambda data: deals.stage_update(actor=request.user, stage=stage, **data),
        _("已保存阶段「%(name)s」。") % {"name": stage.name},
    )


@manager_post
def lost_reason_new(request: MemberRequest) -> HttpResponse:
    return _apply(
        request,
        LostReasonForm(request.POST),
        lambda data: deals.lost_reason_create(actor=request.user, **data),
        _("已添加输单原因。"),
    )


@manager_post
def settings_edit(request: MemberRequest) -> HttpResponse:
    return _apply(
        request,
        SettingsForm(request.POST),
        lambda data: deals.settings_update(actor=request.user, **data),
        _("已保存设置。"),
    )


@manager_post
def rule_new(request: MemberRequest) -> HttpResponse:
    return _apply(
        request,
        RuleForm(request.POST),
        lambda data: leads.assignment_rule_add(actor=request.user, **data),
        _("已添加分配规则。"),
    )


@manager_post
def rule_remove(request: MemberRequest, pk: int) -> HttpResponse:
    rule = AssignmentRule.objects.filter(pk=pk).first()
    if rule is None:
        raise Http404
    leads.assignment_rule_remove(actor=request.user, rule=rule)
    messages.success(request, _("已删除分配规则。"))
    return redirect(PAGE)


@manager_post
def web_form_new(request: MemberRequest) -> HttpResponse:
    form = WebFormForm(request.POST, prefix="wf")
    return _apply(
        request,
        form,
        lambda _data: leads.web_form_create(actor=request.user, **form.service_kwargs()),
        _("已添加线索表单。"),
    )


@manager_post
def web_form_toggle(request: MemberRequest, pk: int) -> HttpResponse:
    """Switch a form off (its page answers 404) or on again."""
    form = selectors.web_forms().filter(pk=pk).first()
    if form is None:
        raise Http404
    leads.web_form_update(actor=request.user, form=form, is_active=not form.is_active)
    messages.success(request, _("已保存线索表单「%(title)s」。") % {"title": form.title})
    return redirect(PAGE)

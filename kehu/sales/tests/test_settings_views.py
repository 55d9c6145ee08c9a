"""The selling settings page: only admins and managers; each form's effect; an outsider
finds nothing of the firm's."""

from typing import Any

import pytest
from django.urls import reverse

from conftest import login
from kehu.core.context import tenant_scope
from kehu.sales.models import (
    AssignmentRule,
    LostReason,
    Pipeline,
    PipelineSettings,
    Stage,
    WebForm,
)
from kehu.sales.tests.pipeline_helpers import new_sales
from kehu.tenancy import services as tenancy
from kehu.tenancy.models import Tenant, User


def url(name: str, *args: object) -> str:
    return reverse(f"sales:{name}", args=args)


def config(tenant: Tenant) -> list[Any]:
    with tenant_scope(tenant.pk):
        return [
            list(Pipeline.objects.values_list("pk", "name", "is_default")),
            list(Stage.objects.order_by("pk").values_list("pk", "name", "probability")),
            LostReason.objects.count(),
            AssignmentRule.objects.count(),
            list(PipelineSettings.objects.values_list("stale_days")),
            list(WebForm.objects.values_list("pk", "is_active")),
        ]


@pytest.fixture
def firm(acme: Tenant, alice: User) -> dict[str, Any]:
    with tenant_scope(acme.pk):
        pipeline = new_sales(alice)
        second = new_sales(alice, "续约")
        team = tenancy.team_create(actor=alice, name="电销")
        stage = Stage.objects.filter(pipeline=pipeline).order_by("position").first()
    return {"pipeline": pipeline, "second": second, "team": team, "stage": stage}


def _posts(firm: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    stage = firm["stage"]
    return [
        (url("pipeline_new"), {"name": "大客户", "stages": "接洽 10\n方案 50"}),
        (url("pipeline_default", firm["second"].pk), {}),
        (url("stage_new", firm["pipeline"].pk), {"new-name": "试用", "new-probability": "40"}),
        (
            url("stage_edit", stage.pk),
            {f"s{stage.pk}-name": "初访", f"s{stage.pk}-probability": "5"},
        ),
        (url("lost_reason_new"), {"name": "价格"}),
        (url("settings_edit"), {"stale_days": "7", "default_team": firm["team"].pk}),
        (url("rule_new"), {"region": "广东", "team": firm["team"].pk}),
        (
            url("web_form_new"),
            {
                "wf-title": "预约",
                "wf-shown": ["mobile", "company"],
                "wf-source_channel": "web_form",
            },
        ),
    ]


def test_an_admin_changes_each_setting(firm: dict[str, Any], alice: User, acme: Tenant) -> None:
    client = login(alice)
    assert client.get(url("pipeline_settings")).status_code == 200
    for target, data in _posts(firm):
        before = config(acme)
        response = client.post(target, data, follow=True)
        assert response.status_code == 200
        assert config(acme) != before, target
    with tenant_scope(acme.pk):
        assert Pipeline.objects.get(name="大客户").stages.count() == 4  # + won and lost
        assert Pipeline.objects.get(is_default=True) == firm["second"]
        assert Stage.objects.get(pk=firm["stage"].pk).name == "初访"
        rule = AssignmentRule.objects.get()
        web_form = WebForm.objects.get()
    assert web_form.fields == ["company", "mobile"]
    page = client.get(url("pipeline_settings")).content.decode()
    assert f"/f/acme/{web_form.token}/" in page and "&lt;iframe" in page  # the embed snippet
    client.post(url("rule_remove", rule.pk))
    client.post(url("web_form_toggle", web_form.pk))
    with tenant_scope(acme.pk):
        assert not AssignmentRule.objects.exists()
        assert not WebForm.objects.get().is_active


def test_a_bad_stage_list_is_named(firm: dict[str, Any], alice: User, acme: Tenant) -> None:
    before = config(acme)
    page = login(alice).post(url("pipeline_new"), {"name": "坏", "stages": "没有概率"}, follow=True)
    assert "第 1 行" in page.content.decode()
    assert config(acme) == before


@pytest.mark.parametrize("persona", ["bob", "dora"])
def test_colleagues_who_may_not_manage_get_403(
    persona: str, firm: dict[str, Any], acme: Tenant, request: pytest.FixtureRequest
) -> None:
    client = login(request.getfixturevalue(persona))
    assert client.get(url("pipeline_settings")).status_code == 403
    before = config(acme)
    for target, data in _posts(firm):
        assert client.post(target, data).status_code == 403, target
    assert config(acme) == before


def test_an_outsider_finds_nothing_of_the_firms(
    firm: dict[str, Any], charlie: User, acme: Tenant
) -> None:
    client = login(charlie)
    assert "新客户销售" not in client.get(url("pipeline_settings")).content.decode()
    before = config(acme)
    stage = firm["stage"]
    for target in (
        url("pipeline_default", firm["second"].pk),
        url("stage_new", firm["pipeline"].pk),
        url("stage_edit", stage.pk),
    ):
        assert client.post(target, {}).status_code == 404, target
    assert config(acme) == before

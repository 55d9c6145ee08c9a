"""The insights pages: who may open and use each (Alice admin, Bob sales seeing his own,
Dora read-only, Charlie another firm's admin), and what they show."""

from typing import Any

import pytest

from conftest import login
from kehu.activities.models import Task
from kehu.core.context import tenant_scope
from kehu.insights.models import CustomerScore, InsightSettings, ScoringRun, StageOverride
from kehu.parties.models import Party
from kehu.tenancy.models import Tenant, User


def counts(tenant: Tenant) -> dict[str, int]:
    with tenant_scope(tenant.pk):
        models: list[Any] = [ScoringRun, CustomerScore, StageOverride, InsightSettings, Task]
        return {m.__name__: m.objects.count() for m in models}


PAGES = [
    "/insights/",
    "/insights/pyramid/",
    "/insights/customers/?tier=S",
    "/insights/win-back/",
]


@pytest.mark.parametrize("url", PAGES)
def test_every_member_opens_the_firm_pages_over_what_they_see(
    url: str, scored: ScoringRun, alice: User, bob: User, dora: User, charlie: User
) -> None:
    for user in (alice, bob, dora):
        assert login(user).get(url).status_code == 200
    page = login(charlie).get(url)
    assert page.status_code == 200
    assert "甲公司" not in page.content.decode()


def test_the_pyramid_lists_each_tier_and_links_to_its_customers(
    scored: ScoringRun, alice: User, bob: User, firm: dict[str, Party]
) -> None:
    page = login(alice).get("/insights/pyramid/").content.decode()
    assert "/insights/customers/?tier=S" in page and "/insights/customers/?tier=C" in page
    with tenant_scope(scored.tenant_id):
        top = CustomerScore.objects.get(tier="S").party.name
    assert top in login(alice).get("/insights/customers/?tier=S").content.decode()
    # Bob owns none of Alice's customers: his lists are empty.
    assert top not in login(bob).get("/insights/customers/?tier=S").content.decode()


def test_overview_shows_the_rfm_fallback_message(scored: ScoringRun, alice: User) -> None:
    page = login(alice).get("/insights/").content.decode()
    assert "数据太少，无法拟合模型" in page


def test_only_managers_start_a_run(
    firm: dict[str, Party], alice: User, bob: User, dora: User, charlie: User, acme: Tenant
) -> None:
    before = counts(acme)
    for user in (bob, dora):
        assert login(user).post("/insights/runs/").status_code == 403
    login(charlie).post("/insights/runs/")
    assert counts(acme) == before
    response = login(alice).post("/insights/runs/", headers={"HX-Request": "true"})
    assert response.status_code == 200
    assert counts(acme)["ScoringRun"] == 1


def test_run_progress_is_the_firms_own(scored: ScoringRun, alice: User, charlie: User) -> None:
    polled = login(alice).get(f"/insights/runs/{scored.pk}/", headers={"HX-Request": "true"})
    assert polled.status_code == 200
    assert polled["HX-Refresh"] == "true"  # it has finished: the page reloads once
    assert login(charlie).get(f"/insights/runs/{scored.pk}/").status_code == 404


def test_settings_are_for_managers(
    alice: User, bob: User, dora: User, charlie: User, acme: Tenant
) -> None:
    data = {
        "horizon_months": 24,
        "annual_discount_rate": "8",
        "default_margin": "25",
        "weight_longevity": 30,
        "weight_scale": 50,
        "weight_efficiency": 20,
        "share_s": 5,
        "share_a": 15,
        "share_b": 30,
        "churn_alive_threshold": 40,
        "churn_trend_threshold": 50,
        "winback_due_days": 5,
        "nightly": "on",
        "task_hours": "2",
        "staff_hour_cost": "200",
    }
    before = counts(acme)
    for user in (bob, dora):
        assert login(user).get("/settings/insights/").status_code == 403
        assert login(user).post("/settings/insights/", data).status_code == 403
    login(charlie).post("/settings/insights/", data)
    assert counts(acme) == before
    assert "36" in login(alice).get("/settings/insights/").content.decode()
    assert login(alice).post("/settings/insights/", data).status_code == 302
    with tenant_scope(acme.pk):
        assert InsightSettings.objects.get().horizon_months == 24
    bad = login(alice).post("/settings/insights/", {**data, "share_s": 60})
    assert bad.status_code == 422
    assert "其余为 C 类" in bad.content.decode()


def test_party_panel_shows_value_stage_and_reasons(
    scored: ScoringRun, alice: User, bob: User, dora: User, charlie: User, firm: dict[str, Party]
) -> None:
    url = f"/insights/parties/{firm['乙公司'].pk}/"
    page = login(alice).get(url).content.decode()
    labels = ("客户全生命周期利润", "价值等级", "退化期", "只买过一次", "存活概率")
    for text in (*labels, "调整生命周期阶段"):
        assert text in page, text
    assert login(dora).get(url).status_code == 200
    assert "调整生命周期阶段" not in login(dora).get(url).content.decode()
    assert login(bob).get(url).status_code == 404
    assert login(charlie).get(url).status_code == 404


def test_only_managers_override_a_stage(
    scored: ScoringRun,
    alice: User,
    bob: User,
    dora: User,
    charlie: User,
    acme: Tenant,
    firm: dict[str, Party],
) -> None:
    url = f"/insights/parties/{firm['乙公司'].pk}/stage/"
    data = {"stage": "stability", "reason": "框架合同"}
    before = counts(acme)
    assert login(bob).post(url, data).status_code == 404
    assert login(dora).post(url, data).status_code == 403
    assert login(charlie).post(url, data).status_code == 404
    assert counts(acme) == before
    response = login(alice).post(url, data, headers={"HX-Request": "true"})
    assert response.status_code == 200
    assert "稳定期" in response.content.decode()
    assert login(alice).post(url, {"stage": "decline", "reason": ""}).status_code == 302
    assert counts(acme)["StageOverride"] == 1


def test_win_back_tasks_from_the_list(
    scored: ScoringRun,
    alice: User,
    bob: User,
    dora: User,
    charlie: User,
    acme: Tenant,
    firm: dict[str, Party],
) -> None:
    data = {"party": [firm["乙公司"].pk, firm["丙公司"].pk]}
    before = counts(acme)
    assert login(bob).post("/insights/win-back/tasks/", data).status_code == 404
    assert login(dora).post("/insights/win-back/tasks/", data).status_code == 403
    assert login(charlie).post("/insights/win-back/tasks/", data).status_code == 404
    assert counts(acme) == before
    assert login(alice).post("/insights/win-back/tasks/", data).status_code == 302
    assert login(alice).post("/insights/win-back/tasks/", data).status_code == 302
    assert counts(acme)["Task"] == before["Task"] + 2
    assert "已有任务" in login(alice).get("/insights/win-back/").content.decode()

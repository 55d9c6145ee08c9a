"""A manager scores the demo firm and follows the pyramid down to one customer's value."""

from typing import TYPE_CHECKING

import pytest
from django.urls import reverse

from conftest import PASSWORD, sign_in
from kehu.core.context import tenant_scope
from kehu.demo.generator import demo_load
from kehu.tenancy.models import Role, User

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("transactional_db")]


def test_score_the_demo_firm_and_open_a_customer_from_the_pyramid(page: "Page") -> None:
    tenant, _report = demo_load(parties=300, interactions=500, orders=6000, opportunities=20)
    with tenant_scope(tenant.pk):
        admin = User.objects.filter(role=Role.ADMIN).order_by("pk").first()
        assert admin is not None
        admin.set_password(PASSWORD)
        admin.save()
    sign_in(page, admin.username)
    page.click("nav >> text=客户价值")
    page.wait_for_url(f"**{reverse('insights:overview')}")
    with page.expect_response(lambda r: r.url.endswith(reverse("insights:run_start"))):
        page.click("#run-scoring")
    page.wait_for_selector("#scoring-run >> text=已完成")
    page.click(".tabs >> text=价值金字塔")
    page.wait_for_url(f"**{reverse('insights:pyramid')}")
    page.click(".pyramid a.tier-S")
    page.wait_for_url("**tier=S")
    first = page.locator("#score-results tbody tr a").first
    name = first.inner_text()
    first.click()
    page.wait_for_selector("#party-clp")
    panel = page.locator("#insights")
    text = panel.inner_text()
    assert name in page.locator("h1").inner_text()
    assert "S 类" in page.locator("#party-tier").inner_text()
    for label in ("客户全生命周期利润", "客户当前价值", "客户增值潜力", "生命周期阶段", "推断为"):
        assert label in text, label
    assert page.locator("#stage-reasons tbody tr").count() == 6

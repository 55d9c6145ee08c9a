"""In a browser: open revenue by month, switch to last year, see the chart and the total."""

import datetime
from decimal import Decimal
from typing import TYPE_CHECKING

import pytest
from django.urls import reverse
from django.utils import timezone

from conftest import sign_in
from kehu.core.context import tenant_scope
from kehu.sales import pipeline_services as deals
from kehu.sales import services as sales
from kehu.sales.tests.helpers import party_in, product
from kehu.sales.tests.pipeline_helpers import new_sales, stage
from kehu.tenancy.models import Tenant, User

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("transactional_db")]


def test_revenue_by_month_last_year(page: "Page", acme: Tenant, alice: User) -> None:
    last_year = timezone.localdate().year - 1
    with tenant_scope(acme.pk):
        chair = product(alice, "CH-1", "100.00", "60.00")
        sales.order_create(
            actor=alice,
            party=party_in(alice, "甲公司"),
            lines=[sales.LineIn(chair, Decimal(7))],
            order_date=datetime.date(last_year, 3, 9),
            status="confirmed",
        )
    sign_in(page, "alice")
    page.goto(reverse("reports:report", args=["revenue-by-period"]))
    page.select_option("select[name=preset]", "last_year")
    page.click("form.report-filters button[type=submit]")
    page.wait_for_url("**preset=last_year**")
    page.wait_for_selector(".report-chart canvas")
    total = page.locator("tfoot tr.total")
    assert "700.00" in total.inner_text()
    assert page.locator("tbody tr").count() == 12


def test_pipeline_by_stage_of_a_chosen_pipeline(page: "Page", acme: Tenant, alice: User) -> None:
    with tenant_scope(acme.pk):
        new_sales(alice)
        renewals = new_sales(alice, name="续约销售")
        customer = party_in(alice, "甲公司")
        for amount, where in (("1000", "提案"), ("500", "谈判")):
            deals.opportunity_create(
                actor=alice,
                party=customer,
                name=f"续约{amount}",
                stage=stage(renewals, where),
                amount=Decimal(amount),
                expected_close_date=datetime.date(2030, 6, 30),
            )
    sign_in(page, "alice")
    page.goto(reverse("reports:index"))
    page.click("main a[href$='/reports/pipeline-by-stage/']")
    page.wait_for_selector(".report-chart canvas")
    assert "0.00" in page.locator("tfoot tr.total").inner_text()  # the default: empty
    page.select_option("select[name=pipeline]", str(renewals.pk))
    page.click("form.report-filters button[type=submit]")
    page.wait_for_url(f"**pipeline={renewals.pk}**")
    page.wait_for_selector(".report-chart canvas")
    total = page.locator("tfoot tr.total").inner_text()
    assert "1,500.00" in total or "1500.00" in total
    assert "1,000.00" in total or "1000.00" in total  # 1000 × 60% + 500 × 80%

"""In a browser: open revenue by month, switch to last year, see the chart and the total."""

import datetime
from decimal import Decimal
from typing import TYPE_CHECKING

import pytest
from django.urls import reverse
from django.utils import timezone

from conftest import sign_in
from kehu.core.context import tenant_scope
from kehu.sales import services as sales
from kehu.sales.tests.helpers import party_in, product
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

"""In a browser: the Pareto page and the balance sheet draw their charts, and a figure
opens its customers, each linking to the customer's archive."""

from typing import TYPE_CHECKING, Any

import pytest
from django.urls import reverse

from conftest import sign_in

# The hand-checked book of ten customers, shared with the Pareto tests (a fixture).
from kehu.insights.tests.test_balance_sheet import make_book
from kehu.insights.tests.test_firm_pareto import book as book
from kehu.parties.models import Party
from kehu.tenancy.models import Tenant, User

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("transactional_db")]


def test_pareto_chart_and_negative_customers(page: "Page", book: list[Party]) -> None:
    sign_in(page, "alice")
    page.goto(reverse("insights_firm:pareto"))
    page.wait_for_selector(".report-chart canvas")
    page.get_by_role("link", name="10.0%").click()
    page.wait_for_url("**show=negative**")
    link = page.locator("table.list tbody a")
    assert link.count() == 1
    link.click()
    page.wait_for_url(f"**{reverse('parties:detail', args=[book[9].pk])}")


@pytest.fixture
def balance_book(acme: Tenant, alice: User, bob: User) -> dict[str, Any]:
    return make_book(acme, alice, bob)


def test_balance_sheet_charts_and_churned_customers(
    page: "Page", balance_book: dict[str, Any]
) -> None:
    sign_in(page, "alice")
    page.goto(reverse("insights_firm:balance_sheet"))
    page.wait_for_selector("[data-chart=balance-chart-data] canvas")
    page.wait_for_selector("[data-chart=movement-chart-data] canvas")
    page.get_by_role("link", name="流失的客户资产").click()
    page.wait_for_url("**show=churned**")
    names = page.locator("#behind tbody th a").all_inner_texts()
    assert names == ["丁公司", "丙公司"]  # the larger CLP first: 丁 lost 250, 丙 has 120

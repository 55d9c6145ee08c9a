"""In a browser: the Pareto page draws its chart, and a key figure opens its customers,
each linking to the customer's archive."""

from typing import TYPE_CHECKING

import pytest
from django.urls import reverse

from conftest import sign_in

# The hand-checked book of ten customers, shared with the Pareto tests (a fixture).
from kehu.insights.tests.test_firm_pareto import book as book
from kehu.parties.models import Party

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

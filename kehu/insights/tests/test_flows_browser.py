"""In a browser: the migration page draws its heatmap, a cell of the matrix opens its
customers, and the lifecycle page draws its Sankey."""

from typing import TYPE_CHECKING, Any

import pytest
from django.urls import reverse

from conftest import sign_in

# The hand-checked book of seven customers, shared with the flows tests (a fixture).
from kehu.insights.tests.test_firm_flows import book as book

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("transactional_db")]


def test_open_a_migration_cell_and_see_its_customer(page: "Page", book: dict[str, Any]) -> None:
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    sign_in(page, "alice")
    page.get_by_role("link", name="客户价值", exact=True).click()
    page.get_by_role("link", name="客户等级迁移").click()
    page.wait_for_url(f"**{reverse('insights_firm:migration')}")
    page.wait_for_selector(".report-chart canvas")
    # Row A (the earlier tier), column B (the later one): 庚 moved down.
    row = page.locator("table.flow-matrix tbody tr").filter(has_text="A 类（伙伴客户）")
    row.locator("td").nth(2).get_by_role("link").click()
    page.wait_for_url("**source=A&target=B**")
    listed = page.locator("table.list tbody th a")
    assert listed.all_inner_texts() == ["庚"]
    page.get_by_role("link", name="生命周期流转").click()
    page.wait_for_selector(".report-chart canvas")
    assert errors == []

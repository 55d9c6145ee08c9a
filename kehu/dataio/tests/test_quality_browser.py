"""In a browser: the data-quality page draws its trend chart, and a figure opens the
customer list filtered to the parties behind it."""

from typing import TYPE_CHECKING

import pytest
from django.urls import reverse

from conftest import sign_in
from kehu.core.context import tenant_scope
from kehu.dataio import quality

# The hand-checked archive of five parties, shared with the page tests (a fixture).
from kehu.dataio.tests.test_quality import archive as archive
from kehu.parties.models import Party
from kehu.tenancy.models import Tenant

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("transactional_db")]


def test_trend_chart_and_a_missing_field_opens_its_parties(
    page: "Page", archive: dict[str, Party], acme: Tenant
) -> None:
    with tenant_scope(acme.pk):
        quality.snapshot_take()
    sign_in(page, "alice")
    page.goto(reverse("quality:page"))
    page.wait_for_selector(".report-chart canvas")
    # Email: 3 filled, 2 missing (乙公司 and 李四).
    page.locator("#completeness tr", has_text="邮箱").get_by_role("link", name="2").click()
    page.wait_for_url("**missing=email**")
    rows = page.locator("#results table.list tbody tr").all_inner_texts()
    assert len(rows) == 2
    assert sorted(row.split()[0] for row in rows) == sorted(["乙公司", "李四"])

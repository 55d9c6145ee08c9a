"""The export buttons in a real browser: filter the customer list, export, and the file
holds the filtered rows."""

import csv
import io
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from django.urls import reverse

from conftest import sign_in
from kehu.core.context import tenant_scope
from kehu.parties import services
from kehu.tenancy.models import User

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("transactional_db")]


def test_export_after_filtering_downloads_the_filtered_rows(page: "Page", alice: User) -> None:
    with tenant_scope(alice.tenant_id):  # type: ignore[arg-type]
        for name, province in [
            ("广州甲公司", "广东省"),
            ("深圳乙公司", "广东省"),
            ("北京丙公司", "北京市"),
        ]:
            services.party_create(actor=alice, kind="organisation", name=name, province=province)
    sign_in(page, "alice")
    page.goto(reverse("parties:list"))
    page.wait_for_load_state("load")
    page.fill("input[name=province]", "广东省")
    with page.expect_response(lambda r: "province=" in r.url):
        page.press("input[name=province]", "Tab")  # the filter form sends on change
    page.locator("#results >> text=共 2 个客户").wait_for()
    with page.expect_download() as info:
        page.click("text=导出 CSV")
    download = info.value
    assert download.suggested_filename.startswith("parties-")
    text = Path(download.path()).read_text(encoding="utf-8-sig")
    names = sorted(row[2] for row in list(csv.reader(io.StringIO(text)))[1:])
    assert names == ["广州甲公司", "深圳乙公司"]

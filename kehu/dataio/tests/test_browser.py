"""Importing in a real browser: upload a GBK CSV, map its columns, dry-run, fix the
mapping the dry run shows to be wrong, import, and find the customers in the list."""

from typing import TYPE_CHECKING

import pytest
from django.urls import reverse

from conftest import sign_in
from kehu.core.context import tenant_scope
from kehu.dataio.tests.conftest import csv_bytes
from kehu.parties import services
from kehu.parties.models import Party
from kehu.tenancy.models import User

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("transactional_db")]

ROWS = [
    ["公司", "手机", "等级"],
    ["深圳腾飞科技有限公司", "0755-12345678", "VIP"],
    ["杭州云帆贸易有限公司", "0571-87654321", "普通"],
]


def test_upload_map_dry_run_fix_and_import(page: "Page", alice: User) -> None:
    sign_in(page, "alice")
    page.goto(reverse("dataio:list"))
    page.set_input_files(
        "input[name=file]",
        {"name": "客户.csv", "mimeType": "text/csv", "buffer": csv_bytes(ROWS, "gbk")},
    )
    page.click("button:has-text('上传')")
    page.wait_for_selector("#mapping")
    assert page.input_value("select[name=col_0]") == "name"
    assert page.input_value("select[name=col_1]") == "mobile"
    page.select_option("select[name=col_2]", "tags")
    page.click("button:has-text('保存并试运行')")
    refused = page.locator("[data-outcome=refused] strong")
    assert refused.inner_text() == "2"
    page.click("a[data-outcome=refused]")
    page.wait_for_selector("tr[data-outcome=refused]")
    assert "不是有效的手机号码：0755-12345678" in page.inner_text("#report")
    # The numbers are landlines: map the column as 电话 and check again.
    page.select_option("select[name=col_1]", "phone")
    page.click("button:has-text('保存并试运行')")
    assert page.locator("[data-outcome=created] strong").inner_text() == "2"
    assert page.locator("[data-outcome=refused] strong").inner_text() == "0"
    page.click("button:has-text('开始导入')")
    page.wait_for_selector("[data-status=done]")
    page.goto(reverse("parties:list"))
    assert "深圳腾飞科技有限公司" in page.inner_text("main")
    assert "杭州云帆贸易有限公司" in page.inner_text("main")
    with tenant_scope(alice.tenant_id):  # type: ignore[arg-type]
        org = Party.objects.get(name="深圳腾飞科技有限公司")
        assert list(org.party_tags.values_list("tag__name", flat=True)) == ["VIP"]
        assert org.contact_points.get().value == "+8675512345678"


def test_import_a_likely_duplicate_then_merge_it_from_the_queue_and_undo(
    page: "Page", alice: User
) -> None:
    with tenant_scope(alice.tenant_id):  # type: ignore[arg-type]
        kept = services.party_create(
            actor=alice,
            kind="organisation",
            name="深圳腾飞科技有限公司",
            contacts=[("mobile", "13812345678")],
        )
    sign_in(page, "alice")
    page.goto(reverse("dataio:list"))
    rows = [["公司", "手机", "行业"], ["深圳腾飞科技股份有限公司", "138 1234 5678", "制造"]]
    page.set_input_files(
        "input[name=file]",
        {"name": "新客户.csv", "mimeType": "text/csv", "buffer": csv_bytes(rows, "gbk")},
    )
    page.click("button:has-text('上传')")
    page.wait_for_selector("#mapping")
    page.select_option("select[name=duplicates]", "create")
    page.click("button:has-text('保存并试运行')")
    assert page.locator("[data-outcome=created] strong").inner_text() == "1"
    assert "疑似与已有客户「深圳腾飞科技有限公司」" in page.inner_text("#report")
    page.click("button:has-text('开始导入')")
    page.wait_for_selector("[data-status=done]")

    # The pair waits in the review queue, explained.
    page.goto(reverse("duplicates:queue"))
    queue = page.inner_text("main")
    assert "深圳腾飞科技股份有限公司" in queue and "同一手机号" in queue
    page.click("a:has-text('比较合并')")
    page.check("input[name=survivor][value=a]")
    page.check("input[name=industry][value=b]")  # the imported row's 行业
    page.click("button:has-text('合并')")
    page.wait_for_selector("text=已合并为「深圳腾飞科技有限公司」")
    with tenant_scope(alice.tenant_id):  # type: ignore[arg-type]
        kept.refresh_from_db()
        assert kept.industry == "制造"
        assert not Party.objects.filter(name="深圳腾飞科技股份有限公司").exists()
        assert kept.interactions.count() == 0 and kept.contact_points.count() == 1

    page.click("button:has-text('撤销合并')")
    page.wait_for_selector("text=已撤销合并。")
    with tenant_scope(alice.tenant_id):  # type: ignore[arg-type]
        kept.refresh_from_db()
        assert kept.industry == ""
        again = Party.objects.get(name="深圳腾飞科技股份有限公司")
        assert again.industry == "制造" and again.contact_points.get().value == "+8613812345678"
    page.goto(reverse("duplicates:queue"))
    assert "深圳腾飞科技股份有限公司" in page.inner_text("main")  # open for review again


ORDERS = [
    ["订单号", "客户名称", "下单日期", "产品编码", "数量"],
    ["SO-1", "深圳腾飞科技有限公司", "2024/3/5", "P-100", "2"],
    ["SO-1", "", "", "P-100", "1"],
]


def test_choose_orders_map_dry_run_and_import(page: "Page", alice: User) -> None:
    from decimal import Decimal

    from kehu.parties import services as parties
    from kehu.sales import services as sales
    from kehu.sales.models import Order

    with tenant_scope(alice.tenant_id):  # type: ignore[arg-type]
        parties.party_create(actor=alice, kind="organisation", name="深圳腾飞科技有限公司")
        sales.product_create(actor=alice, code="P-100", name="办公椅", unit_price=Decimal(100))
    sign_in(page, "alice")
    page.goto(reverse("dataio:list"))
    page.check("input[name=target][value=orders]")
    page.set_input_files(
        "input[name=file]",
        {"name": "订单.csv", "mimeType": "text/csv", "buffer": csv_bytes(ORDERS, "gbk")},
    )
    page.click("button:has-text('上传')")
    page.wait_for_selector("#mapping")
    assert page.input_value("select[name=col_0]") == "number"
    assert page.input_value("select[name=col_3]") == "product"
    assert page.locator("select[name=duplicates]").count() == 0
    page.click("button:has-text('保存并试运行')")
    assert page.locator("[data-outcome=created] strong").inner_text() == "2"
    page.click("button:has-text('开始导入')")
    page.wait_for_selector("[data-status=done]")
    page.click("a:has-text('去订单列表查看')")
    assert "SO-1" in page.inner_text("main")
    with tenant_scope(alice.tenant_id):  # type: ignore[arg-type]
        assert Order.objects.get().revenue == Decimal("300.00")

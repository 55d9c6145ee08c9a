"""An order taken through the pages, as a salesperson would: it shows on the customer's
page and timeline, and the customer becomes 现实 (current)."""

from decimal import Decimal
from typing import TYPE_CHECKING

import pytest
from django.urls import reverse

from conftest import sign_in
from kehu.core.context import tenant_scope
from kehu.parties.models import RelationshipState
from kehu.sales.models import Order
from kehu.sales.tests.helpers import party_in, product
from kehu.tenancy.models import User

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("transactional_db")]


def test_an_order_makes_the_party_a_customer(page: "Page", alice: User) -> None:
    with tenant_scope(alice.tenant_id):  # type: ignore[arg-type]
        party = party_in(alice, "北京字节跳动科技有限公司")
        chair = product(alice, "CH-1", "100.00", "60.00")
        desk = product(alice, "DK-1", "500.00", "300.00")
    sign_in(page, "alice")
    page.goto(reverse("parties:detail", args=[party.pk]))
    page.click("#orders >> text=新建订单")
    page.select_option("select[name=lines-0-product]", str(chair.pk))
    page.fill("input[name=lines-0-quantity]", "3")
    # One more line through htmx: a fourth row appears and the form counts it.
    page.click("#add-line")
    page.wait_for_selector("select[name=lines-3-product]")
    assert page.input_value("#id_lines-TOTAL_FORMS") == "4"
    page.select_option("select[name=lines-3-product]", str(desk.pk))
    page.fill("input[name=lines-3-quantity]", "1")
    page.click("#order-form button[type=submit]")
    page.wait_for_selector(".messages >> text=已创建订单")
    with tenant_scope(alice.tenant_id):  # type: ignore[arg-type]
        order = Order.objects.get()
        assert (order.revenue, order.lines.count()) == (Decimal("800.00"), 2)
    page.click(f"a >> text={party.name}")
    page.wait_for_selector("#orders")
    assert order.number in page.inner_text("#orders")
    assert order.number in page.inner_text("#timeline")
    assert page.inner_text(".party-title .badge.state-current") == "现实"
    party.refresh_from_db()
    assert party.relationship_state == RelationshipState.CURRENT

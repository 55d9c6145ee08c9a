"""The catalogue and order pages: who may see and do what, forms with lines, returns,
the customer's page, and pinned query counts."""

from decimal import Decimal
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from conftest import login
from kehu.core.context import tenant_scope
from kehu.core.models import AuditEntry
from kehu.parties.models import Party, RelationshipState
from kehu.sales import services
from kehu.sales.models import Order, OrderLine, OrderStatus, Product
from kehu.sales.tests.helpers import party_in, product, sale
from kehu.tenancy.models import Tenant, User

D = Decimal
HTMX = {"HX-Request": "true"}


def url(name: str, *args: object) -> str:
    return reverse(f"sales:{name}", args=args)


def text(response: Any) -> str:
    return str(response.content.decode())


def rows(tenant: Tenant) -> dict[str, Any]:
    with tenant_scope(tenant.pk):
        return {
            "orders": list(Order.objects.order_by("pk").values_list("pk", "status", "revenue")),
            "lines": OrderLine.objects.count(),
            "products": list(Product.objects.order_by("pk").values_list("pk", "name", "is_active")),
            "audit": AuditEntry.objects.count(),
            "states": list(Party.objects.order_by("pk").values_list("pk", "relationship_state")),
        }


@pytest.fixture
def shop(acme: Tenant, alice: User) -> dict[str, Any]:
    with tenant_scope(acme.pk):
        chair = product(alice, "CH-1", "100.00", "60.00")
        desk = product(alice, "DK-1", "500.00", "300.00")
        party = party_in(alice, "甲公司")
        order = sale(alice, party, [(chair, "2")])
        draft = sale(alice, party, [(desk, "1")], status=OrderStatus.DRAFT)
    return {"chair": chair, "desk": desk, "party": party, "order": order, "draft": draft}


def order_post(shop: dict[str, Any], lines: list[dict[str, Any]], **fields: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "party": shop["party"].pk,
        "order_date": "2025-05-01",
        "status": "confirmed",
        "currency": "CNY",
        "owner": shop["party"].owner_id,
        "lines-TOTAL_FORMS": str(len(lines)),
        "lines-INITIAL_FORMS": "0",
        **fields,
    }
    for i, line in enumerate(lines):
        for key, value in line.items():
            data[f"lines-{i}-{key}"] = value
    return data


# --- reading ---------------------------------------------------------------------------


def test_the_order_list_filters_and_pages(shop: dict[str, Any], alice: User) -> None:
    client = login(alice)
    page = text(client.get(url("order_list")))
    assert shop["order"].number in page and shop["draft"].number in page
    drafts = text(client.get(url("order_list"), {"status": "draft"}, headers=HTMX))
    assert shop["draft"].number in drafts and shop["order"].number not in drafts
    assert "<html" not in drafts  # the htmx fragment only
    assert shop["order"].number in text(client.get(url("order_list"), {"q": "甲公司"}))
    none = text(client.get(url("order_list"), {"date_from": "2026-01-01"}))
    assert "没有找到符合条件的订单" in none
    mine = text(client.get(url("order_list"), {"party": shop["party"].pk}))
    assert "甲公司 的订单" in mine


def test_order_list_query_count_is_pinned(
    shop: dict[str, Any], alice: User, django_assert_num_queries: Any
) -> None:
    with tenant_scope(alice.tenant_id):  # type: ignore[arg-type]
        for i in range(60):
            sale(alice, party_in(alice, f"客户{i}"), [(shop["chair"], "1")])
    client = login(alice)
    # session, user, the header's tenant, count, page (with parties and owners), the owner
    # filter's staff
    with django_assert_num_queries(6):
        response = client.get(url("order_list"))
    assert text(response).count('class="badge order-') == 50
    assert "page=2" in text(response)


def test_product_list_query_count_is_pinned(
    shop: dict[str, Any], dora: User, django_assert_num_queries: Any
) -> None:
    with tenant_scope(dora.tenant_id):  # type: ignore[arg-type]
        office = services.category_create(actor=shop["party"].owner, name="办公")
        for i in range(20):
            product(shop["party"].owner, f"P-{i:02d}", category=office)
    client = login(dora)
    # session, user, count, page with categories, the category filter's and form's choices
    with django_assert_num_queries(6):
        response = client.get(reverse("sales:product_list"))
    assert text(response).count('<td class="mono">') == 22
    assert "添加产品" not in text(response)  # read-only staff read the catalogue only


def test_the_order_page_shows_lines_totals_and_history(shop: dict[str, Any], alice: User) -> None:
    page = text(login(alice).get(url("order_detail", shop["order"].pk)))
    assert "CH-1" in page and "200.00" in page and "80.00" in page
    assert "40%" in page  # margin
    assert "登记退货" in page and "取消订单" in page
    assert "创建" in page  # its history


def test_orders_follow_their_partys_visibility(
    shop: dict[str, Any], bob: User, charlie: User, dora: User
) -> None:
    pk = shop["order"].pk
    for user in (bob, charlie):
        client = login(user)
        assert client.get(url("order_detail", pk)).status_code == 404
        assert client.get(url("order_edit", pk)).status_code == 404
        assert client.get(url("return_new", pk)).status_code == 404
        assert shop["order"].number not in text(client.get(url("order_list")))
        assert client.get(url("order_list"), {"party": shop["party"].pk}).status_code == 404
    page = text(login(dora).get(url("order_detail", pk)))
    assert shop["order"].number in page and "取消订单" not in page


# --- writing ---------------------------------------------------------------------------


def test_create_an_order_with_lines(shop: dict[str, Any], alice: User, acme: Tenant) -> None:
    client = login(alice)
    form = client.get(url("order_new"), {"party": shop["party"].pk})
    assert form.status_code == 200 and 'name="lines-2-product"' in text(form)
    data = order_post(
        shop,
        [
            {"product": shop["chair"].pk, "quantity": "3", "discount": "10"},
            {"product": shop["desk"].pk, "quantity": "1", "unit_price": "450"},
            {"product": "", "quantity": ""},  # a blank row is skipped
        ],
        discount="40",
    )
    response = client.post(url("order_new"), data)
    assert response.status_code == 302
    with tenant_scope(acme.pk):
        order = Order.objects.get(order_date="2025-05-01")
        assert (order.revenue, order.cost, order.lines.count()) == (D("700"), D("480"), 2)
    assert response["Location"] == url("order_detail", order.pk)


def test_line_errors_are_shown_on_their_row(
    shop: dict[str, Any], alice: User, acme: Tenant
) -> None:
    before = rows(acme)
    client = login(alice)
    data = order_post(
        shop,
        [
            {"product": shop["chair"].pk, "quantity": "1"},
            {"product": shop["desk"].pk, "quantity": "-1"},
            {"product": shop["chair"].pk, "quantity": "1", "discount": "500"},
        ],
    )
    response = client.post(url("order_new"), data)
    assert response.status_code == 422
    page = text(response)
    assert page.count('class="field invalid"') == 1  # the bad quantity, caught by the form
    assert rows(acme) == before
    data["lines-1-quantity"] = "1"
    response = client.post(url("order_new"), data)
    assert response.status_code == 422
    assert "行折扣不能超过行金额" in text(response)  # the service's error, on row 3
    assert rows(acme) == before
    assert client.post(url("order_new"), order_post(shop, [])).status_code == 422


def test_a_new_line_row_raises_the_form_count(
    shop: dict[str, Any], alice: User, dora: User
) -> None:
    row = text(login(alice).get(url("order_line_row"), {"lines-TOTAL_FORMS": "3"}, headers=HTMX))
    assert 'name="lines-3-product"' in row
    assert 'name="lines-TOTAL_FORMS" value="4"' in row and 'hx-swap-oob="true"' in row
    assert login(dora).get(url("order_line_row"), {"lines-TOTAL_FORMS": "3"}).status_code == 403


def test_edit_an_order_replaces_its_lines(shop: dict[str, Any], alice: User) -> None:
    client = login(alice)
    draft = shop["draft"]
    page = text(client.get(url("order_edit", draft.pk)))
    assert 'name="lines-0-product"' in page and 'name="status"' not in page
    data = order_post(
        shop,
        [
            {"product": shop["desk"].pk, "quantity": "1", "DELETE": "on"},
            {"product": shop["chair"].pk, "quantity": "4"},
        ],
        note="换成椅子",
        **{"lines-INITIAL_FORMS": "1"},
    )
    assert client.post(url("order_edit", draft.pk), data).status_code == 302
    with tenant_scope(alice.tenant_id):  # type: ignore[arg-type]
        draft.refresh_from_db()
        quantity = draft.lines.get().quantity
    assert (draft.revenue, draft.note, quantity) == (D("400"), "换成椅子", D(4))


def test_confirm_makes_the_party_a_customer(shop: dict[str, Any], alice: User) -> None:
    client = login(alice)
    with tenant_scope(alice.tenant_id):  # type: ignore[arg-type]
        newcomer = party_in(alice, "丙公司")
        draft = sale(alice, newcomer, [(shop["chair"], "1")], status=OrderStatus.DRAFT)
    response = client.post(url("order_status", draft.pk), {"status": "confirmed"})
    assert response.status_code == 302
    newcomer.refresh_from_db()
    assert newcomer.relationship_state == RelationshipState.CURRENT
    page = text(client.get(url("order_detail", draft.pk), follow=True))
    assert "已确认" in page
    assert client.post(url("order_status", draft.pk), {"status": "nope"}).status_code == 404


def test_writes_are_refused_to_read_only_staff_and_outsiders(
    shop: dict[str, Any], dora: User, charlie: User, bob: User, acme: Tenant
) -> None:
    before = rows(acme)
    data = order_post(shop, [{"product": shop["chair"].pk, "quantity": "1"}])
    for user, status in ((dora, 403), (bob, 404), (charlie, 404)):
        client = login(user)
        assert client.post(url("order_new"), data).status_code == status
        assert client.post(url("order_edit", shop["draft"].pk), data).status_code in (403, 404)
        status_post = client.post(url("order_status", shop["draft"].pk), {"status": "confirmed"})
        assert status_post.status_code in (403, 404)
        returned = client.post(url("return_new", shop["order"].pk), {"order_date": "2025-06-01"})
        assert returned.status_code in (403, 404)
    assert login(dora).get(url("order_new")).status_code == 403
    assert rows(acme) == before


def test_register_a_return(shop: dict[str, Any], alice: User, acme: Tenant) -> None:
    client = login(alice)
    original = shop["order"]
    page = text(client.get(url("return_new", original.pk)))
    assert "可退 2" in page
    field = f"qty_{shop['chair'].pk}"
    too_many = client.post(url("return_new", original.pk), {"order_date": "2025-06-01", field: "3"})
    assert too_many.status_code == 422 and "退货数量超过可退数量" in text(too_many)
    nothing = client.post(url("return_new", original.pk), {"order_date": "2025-06-01"})
    assert nothing.status_code == 422 and "请至少填写" in text(nothing)
    done = client.post(url("return_new", original.pk), {"order_date": "2025-06-01", field: "1"})
    assert done.status_code == 302
    with tenant_scope(acme.pk):
        returned = Order.objects.get(kind="return")
    assert returned.revenue == D("-100") and done["Location"] == url("order_detail", returned.pk)
    assert client.get(url("return_new", shop["draft"].pk)).status_code == 404


# --- the catalogue ---------------------------------------------------------------------


def product_data(**fields: Any) -> dict[str, Any]:
    return {
        "code": "LP-1",
        "name": "台灯",
        "unit": "台",
        "unit_price": "199",
        "unit_cost": "80",
        "currency": "CNY",
        "is_active": "on",
        **fields,
    }


def test_managers_add_and_edit_products(shop: dict[str, Any], alice: User, acme: Tenant) -> None:
    client = login(alice)
    assert client.post(url("product_new"), product_data()).status_code == 302
    duplicate = client.post(url("product_new"), product_data())
    assert duplicate.status_code == 422 and "已有产品使用这个编码" in text(duplicate)
    chair = shop["chair"]
    edited = client.post(
        url("product_edit", chair.pk), product_data(code="CH-1", name="人体工学椅")
    )
    assert edited.status_code == 302
    chair.refresh_from_db()
    assert (chair.name, chair.unit_price) == ("人体工学椅", D("199"))
    assert client.post(url("category_new"), {"name": "灯具"}).status_code == 302
    assert "灯具" in text(client.get(url("product_list")))


def test_staff_who_are_not_managers_may_not_change_the_catalogue(
    shop: dict[str, Any], bob: User, dora: User, charlie: User, acme: Tenant
) -> None:
    before = rows(acme)
    for user in (bob, dora):
        client = login(user)
        assert client.get(url("product_list")).status_code == 200
        assert client.post(url("product_new"), product_data()).status_code == 403
        assert client.post(url("product_edit", shop["chair"].pk), product_data()).status_code == 403
        assert client.post(url("category_new"), {"name": "x"}).status_code == 403
    assert (
        login(charlie).post(url("product_edit", shop["chair"].pk), product_data()).status_code
        == 404
    )
    assert "CH-1" not in text(login(charlie).get(url("product_list")))
    assert rows(acme) == before


# --- the customer's page ---------------------------------------------------------------


def test_the_customer_page_lists_its_orders_and_the_timeline_shows_them(
    shop: dict[str, Any], alice: User
) -> None:
    page = text(login(alice).get(reverse("parties:detail", args=[shop["party"].pk])))
    section = page.split('id="orders"')[1].split("</section>")[0]
    assert shop["order"].number in section and shop["draft"].number in section
    assert "已确认订单 1 个" in section and "¥200.00" in section
    timeline = page.split('id="timeline"')[1]
    assert shop["order"].number in timeline


def test_html_in_a_note_is_escaped(shop: dict[str, Any], alice: User) -> None:
    with tenant_scope(alice.tenant_id):  # type: ignore[arg-type]
        services.order_update(actor=alice, order=shop["order"], note="<script>x</script>")
    page = text(login(alice).get(url("order_detail", shop["order"].pk)))
    assert "<script>x</script>" not in page and "&lt;script&gt;" in page


def test_pages_need_a_signed_in_member(shop: dict[str, Any]) -> None:
    response = Client().get(url("order_list"))
    assert response.status_code == 302 and "/login/" in response["Location"]

"""Opportunity pages: who may see and do what, the board's moves (htmx and without
JavaScript), win and lose, the forecast page, and pinned query counts."""

import datetime
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from conftest import login
from kehu.core.context import tenant_scope
from kehu.sales import pipeline_selectors as selectors
from kehu.sales import services
from kehu.sales.models import Opportunity, Order, StageMove
from kehu.sales.tests.helpers import party_in, product
from kehu.sales.tests.pipeline_helpers import deal, new_sales, stage
from kehu.tenancy.models import Tenant, User

HTMX = {"HX-Request": "true"}
D = Decimal


def url(name: str, *args: object) -> str:
    return reverse(f"sales:{name}", args=args)


def text(response: Any) -> str:
    return str(response.content.decode())


def rows(tenant: Tenant) -> list[Any]:
    with tenant_scope(tenant.pk):
        return [
            list(Opportunity.objects.order_by("pk").values_list("pk", "stage_id", "name")),
            StageMove.objects.count(),
            Order.objects.count(),
        ]


@pytest.fixture
def shop(acme: Tenant, alice: User) -> dict[str, Any]:
    with tenant_scope(acme.pk):
        pipeline = new_sales(alice)
        party = party_in(alice, "甲公司")
        chair = product(alice, "CH-1", "100.00", "60.00")
        opportunity = deal(alice, party, lines=[services.LineIn(chair, D(2))], name="椅子两把")
    return {"pipeline": pipeline, "party": party, "chair": chair, "deal": opportunity}


PAGES = ["opportunity_detail", "opportunity_edit"]
POSTS = ["opportunity_move", "opportunity_win", "opportunity_lose"]


@pytest.mark.parametrize("name", PAGES + POSTS)
@pytest.mark.parametrize("persona", ["charlie", "bob"])
def test_outsiders_and_colleagues_who_may_not_see_the_party_get_404(
    name: str, persona: str, shop: dict[str, Any], acme: Tenant, request: pytest.FixtureRequest
) -> None:
    client = login(request.getfixturevalue(persona))
    before = rows(acme)
    target = url(name, shop["deal"].pk)
    stage = {"stage": shop["deal"].stage_id}
    response = client.post(target, stage) if name in POSTS else client.get(target)
    assert response.status_code == 404
    assert rows(acme) == before


@pytest.mark.parametrize("name", ["opportunity_edit", *POSTS])
def test_a_read_only_colleague_may_look_but_not_change(
    name: str, shop: dict[str, Any], dora: User, acme: Tenant
) -> None:
    client = login(dora)
    assert client.get(url("opportunity_detail", shop["deal"].pk)).status_code == 200
    before = rows(acme)
    target = url(name, shop["deal"].pk)
    response = client.post(target, {"stage": shop["deal"].stage_id})
    assert response.status_code == 403
    assert rows(acme) == before


@pytest.mark.parametrize("name", ["opportunity_list", "board", "forecast"])
def test_lists_show_nothing_of_another_firm(name: str, shop: dict[str, Any], charlie: User) -> None:
    response = login(charlie).get(url(name))
    assert response.status_code == 200
    assert "椅子两把" not in text(response)


def test_a_read_only_colleague_may_not_open_the_new_deal_form(dora: User, shop: Any) -> None:
    assert login(dora).get(url("opportunity_new")).status_code == 403


def test_the_board_shows_cards_in_their_columns_with_fixed_queries(
    shop: dict[str, Any], alice: User, acme: Tenant, django_assert_num_queries: Any
) -> None:
    with tenant_scope(acme.pk):
        for i in range(6):
            deal(alice, party_in(alice, f"客户{i}"), stage=stage(shop["pipeline"], "需求确认"))
    client = login(alice)
    client.get(url("board"))
    # session, user, pipelines, stages (columns), column totals (kept) and the deals of
    # deleted parties taken off them, the cards of each of the two columns with deals,
    # the stale period, stages (the cards' select), the tenant (header), staff (owner
    # filter)
    with django_assert_num_queries(12):
        response = client.get(url("board"))
    page = text(response)
    assert page.count('class="deal-card') == 7
    assert "需求确认" in page and "椅子两把" in page


def _many_deals(shop: dict[str, Any], alice: User, n: int) -> list[Opportunity]:
    with tenant_scope(shop["party"].tenant_id):
        return [deal(alice, party_in(alice, f"客户{i}"), name=f"商机{i:02d}") for i in range(n)]


def test_a_full_column_shows_its_latest_cards_its_total_and_loads_the_rest(
    shop: dict[str, Any], alice: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(selectors, "COLUMN_CAP", 3)
    made = _many_deals(shop, alice, 5)  # six deals in the first stage, with shop's
    client = login(alice)
    page = text(client.get(url("board")))
    assert page.count('class="deal-card') == 3
    assert "6 个商机" in page
    assert all(f"商机{i:02d}" in page for i in (2, 3, 4)) and "商机01" not in page
    first = made[0].stage_id
    more = f"{url('board_more')}?pipeline={shop['pipeline'].pk}&stage={first}"
    assert f"stage={first}&amp;before={made[2].pk}" in page
    response = client.get(f"{more}&before={made[2].pk}", headers=HTMX)
    assert response.status_code == 200
    rest = text(response)
    assert rest.count('class="deal-card') == 3  # 商机01, 商机00 and 椅子两把
    assert "商机01" in rest and "椅子两把" in rest and "board-more" not in rest
    # Filters apply to the rest too: only the deals of this party.
    response = client.get(f"{more}&before={made[4].pk}&q=客户1", headers=HTMX)
    assert text(response).count('class="deal-card') == 1


@pytest.mark.parametrize("persona", ["charlie", "bob"])
def test_loading_more_shows_nothing_the_user_may_not_see(
    persona: str, shop: dict[str, Any], alice: User, request: pytest.FixtureRequest
) -> None:
    made = _many_deals(shop, alice, 2)
    client = login(request.getfixturevalue(persona))
    query = f"pipeline={shop['pipeline'].pk}&stage={made[0].stage_id}&before={made[1].pk + 1}"
    response = client.get(f"{url('board_more')}?{query}", headers=HTMX)
    if persona == "charlie":  # another firm's pipeline
        assert response.status_code == 404
    else:  # bob sees none of alice's parties
        assert response.status_code == 200
        assert 'class="deal-card' not in text(response)


@pytest.mark.parametrize("query", ["stage=x&before=1", "before=1", "stage={won}&before=1"])
def test_loading_more_of_a_closed_or_unknown_stage_is_404(
    query: str, shop: dict[str, Any], alice: User
) -> None:
    won = _stage(shop, "赢单").pk
    target = f"{url('board_more')}?pipeline={shop['pipeline'].pk}&{query.format(won=won)}"
    assert login(alice).get(target).status_code == 404


def test_the_list_has_fixed_queries(
    shop: dict[str, Any], alice: User, acme: Tenant, django_assert_num_queries: Any
) -> None:
    with tenant_scope(acme.pk):
        for i in range(6):
            deal(alice, party_in(alice, f"客户{i}"))
    client = login(alice)
    client.get(url("opportunity_list"))
    # session, user, count, page (with each deal's last activity), the stale period
    with django_assert_num_queries(5):
        response = client.get(url("opportunity_list"), headers=HTMX)
    assert "共 7 个商机" in text(response)


def _stage(shop: dict[str, Any], name: str) -> Any:
    with tenant_scope(shop["party"].tenant_id):
        return stage(shop["pipeline"], name)


def test_a_refused_drag_returns_the_card_in_its_old_stage_with_the_reason(
    shop: dict[str, Any], alice: User
) -> None:
    target = _stage(shop, "谈判")
    response = login(alice).post(
        url("opportunity_move", shop["deal"].pk), {"stage": target.pk}, headers=HTMX
    )
    assert response.status_code == 422
    page = text(response)
    assert f'data-stage="{shop["deal"].stage_id}"' in page
    assert "预计成交日期" in page


def test_a_drag_moves_the_card(shop: dict[str, Any], alice: User, acme: Tenant) -> None:
    target = _stage(shop, "需求确认")
    response = login(alice).post(
        url("opportunity_move", shop["deal"].pk), {"stage": target.pk}, headers=HTMX
    )
    assert response.status_code == 200
    assert f'data-stage="{target.pk}"' in text(response)
    with tenant_scope(acme.pk):
        assert Opportunity.objects.get().stage == target


def test_without_javascript_the_select_moves_and_comes_back_to_the_board(
    shop: dict[str, Any], alice: User
) -> None:
    target = _stage(shop, "需求确认")
    response = login(alice).post(url("opportunity_move", shop["deal"].pk), {"stage": target.pk})
    assert response.status_code == 302
    assert response["Location"] == f"{url('board')}?pipeline={shop['pipeline'].pk}"


def test_win_from_the_page_books_the_order(shop: dict[str, Any], alice: User, acme: Tenant) -> None:
    client = login(alice)
    refused = client.post(url("opportunity_win", shop["deal"].pk), {}, follow=True)
    assert "预计成交日期" in text(refused)  # 提案's requirement applies to winning too
    with tenant_scope(acme.pk):
        Opportunity.objects.filter(pk=shop["deal"].pk).update(
            expected_close_date=datetime.date(2030, 1, 1)
        )
    done = client.post(url("opportunity_win", shop["deal"].pk), {"closed_on": "2030-01-02"})
    assert done.status_code == 302
    with tenant_scope(acme.pk):
        order = Order.objects.get()
    assert (order.party_id, order.revenue, str(order.order_date)) == (
        shop["party"].pk,
        D("200.00"),
        "2030-01-02",
    )


def test_lose_from_the_page_needs_a_reason(shop: dict[str, Any], alice: User, acme: Tenant) -> None:
    client = login(alice)
    page = client.post(url("opportunity_lose", shop["deal"].pk), {"reason": ""}, follow=True)
    assert "请选择输单原因" in text(page) or "输单原因" in text(page)
    with tenant_scope(acme.pk):
        assert Opportunity.objects.get().stage.is_open
    client.post(url("opportunity_lose", shop["deal"].pk), {"note": "预算取消"})
    with tenant_scope(acme.pk):
        assert Opportunity.objects.get().stage.kind == "lost"


def test_create_and_edit_a_deal_with_products(
    shop: dict[str, Any], alice: User, acme: Tenant
) -> None:
    client = login(alice)
    assert client.get(url("opportunity_new")).status_code == 200  # the party picker
    data = {
        "party": shop["party"].pk,
        "name": "桌子",
        "pipeline": shop["pipeline"].pk,
        "owner": alice.pk,
        "currency": "CNY",
        "lines-TOTAL_FORMS": "1",
        "lines-INITIAL_FORMS": "0",
        "lines-0-product": shop["chair"].pk,
        "lines-0-quantity": "3",
    }
    created = client.post(url("opportunity_new") + f"?party={shop['party'].pk}", data)
    assert created.status_code == 302, text(created)
    with tenant_scope(acme.pk):
        made = Opportunity.objects.get(name="桌子")
    assert made.amount == D("300.00")
    bad = client.post(url("opportunity_edit", made.pk), {**data, "amount": "-1"})
    assert bad.status_code == 422


def test_html_in_a_name_is_escaped(shop: dict[str, Any], alice: User, acme: Tenant) -> None:
    with tenant_scope(acme.pk):
        deal(alice, shop["party"], name="<script>x</script>")
    page = text(login(alice).get(url("board")))
    assert "<script>x</script>" not in page and "&lt;script&gt;" in page


def test_the_forecast_page_has_the_chart_and_table(shop: dict[str, Any], alice: User) -> None:
    with tenant_scope(alice.tenant_id):  # type: ignore[arg-type]
        deal(
            alice,
            shop["party"],
            amount=D("1000"),
            expected_close_date=datetime.date(2030, 6, 1),
            stage=_stage(shop, "谈判"),
        )
    client: Client = login(alice)
    page = text(client.get(url("forecast") + "?by=owner"))
    assert "800.00" in page and 'id="chart-data"' in page and "Alice" in page

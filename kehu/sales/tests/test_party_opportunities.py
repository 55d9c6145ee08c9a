"""A party's opportunities on its page and its timeline (won and lost), on the page and
through the timeline endpoint; who may see them and who may start a new one."""

import datetime
from decimal import Decimal
from typing import Any

import pytest
from django.urls import reverse

from conftest import login
from kehu.core.context import tenant_scope
from kehu.core.tests.test_api_problems import api_client
from kehu.parties import services as parties
from kehu.parties.models import Party
from kehu.sales import pipeline_services as deals
from kehu.sales import services as sales
from kehu.sales.models import Opportunity, Order
from kehu.sales.tests.helpers import product
from kehu.sales.tests.pipeline_helpers import new_sales
from kehu.tenancy.models import Tenant, User

CLOSE = datetime.date(2030, 6, 30)


@pytest.fixture
def jia(acme: Tenant, alice: User) -> Party:
    """甲公司 (Alice's): 续签 open (400), 首单 won with a chair, 扩容 lost for 价格."""
    with tenant_scope(acme.pk):
        new_sales(alice)
        chair = product(alice, "CH-1", "100.00", "60.00")
        reason = deals.lost_reason_create(actor=alice, name="价格")
        party = parties.party_create(actor=alice, kind="organisation", name="甲公司")

        def deal(name: str, **fields: Any) -> Opportunity:
            return deals.opportunity_create(
                actor=alice, party=party, name=name, expected_close_date=CLOSE, **fields
            )

        deal("续签", amount=Decimal("400"))
        won = deal("首单", lines=[sales.LineIn(chair, Decimal(3))])
        deals.opportunity_win(actor=alice, opportunity=won, note="客户很满意")
        lost = deal("扩容", amount=Decimal("900"))
        deals.opportunity_lose(actor=alice, opportunity=lost, reason=reason)
        return party


def detail(party: Party) -> str:
    return reverse("parties:detail", args=[party.pk])


def test_the_party_page_lists_open_and_closed_deals(jia: Party, alice: User) -> None:
    page = login(alice).get(detail(jia)).content.decode()
    section = page[page.index('id="opportunities"') :]
    section = section[: section.index("</section>")]
    for name in ("续签", "首单", "扩容"):
        deal = Opportunity.all_tenants.get(name=name)
        assert reverse("sales:opportunity_detail", args=[deal.pk]) in section
    assert "CNY 400.00" in section and "2030-06-30" in section and "Alice" in section
    assert "初步接洽" in section and "赢单" in section and "输单" in section
    assert Order.all_tenants.get().number in section  # the won deal's order
    assert f"{reverse('sales:opportunity_new')}?party={jia.pk}" in section


def test_won_and_lost_deals_are_on_the_timeline(jia: Party, alice: User) -> None:
    page = login(alice).get(detail(jia)).content.decode()
    timeline = page[page.index('id="timeline"') :]
    assert "首单" in timeline and "客户很满意" in timeline
    assert "扩容" in timeline and "价格" in timeline
    assert "续签" not in timeline  # still open: not an event yet


def test_the_timeline_endpoint_has_the_deals(jia: Party, alice: User) -> None:
    body = api_client(alice).get(f"/api/v1/parties/{jia.pk}/timeline").json()
    closed = {e["deal"]["name"]: e["deal"] for e in body if e["kind"] == "deal"}
    assert set(closed) == {"首单", "扩容"}
    assert closed["扩容"]["lost_reason"] == "价格" and closed["扩容"]["stage"]["kind"] == "lost"
    assert closed["首单"]["order_id"] == Order.all_tenants.get().pk
    assert closed["首单"]["lost_reason"] is None


def test_read_only_sees_the_deals_but_cannot_start_one(jia: Party, dora: User) -> None:
    page = login(dora).get(detail(jia)).content.decode()
    assert "续签" in page and reverse("sales:opportunity_new") not in page


def test_an_empty_party_says_so_and_offers_a_new_deal(
    acme: Tenant, alice: User, jia: Party
) -> None:
    with tenant_scope(acme.pk):
        empty = parties.party_create(actor=alice, kind="organisation", name="乙公司")
    page = login(alice).get(detail(empty)).content.decode()
    assert "这个客户还没有商机" in page and f"?party={empty.pk}" in page


def test_a_colleague_without_rights_and_an_outsider_see_nothing(
    jia: Party, bob: User, charlie: User
) -> None:
    assert login(bob).get(detail(jia)).status_code == 404
    assert login(charlie).get(detail(jia)).status_code == 404
    assert api_client(bob).get(f"/api/v1/parties/{jia.pk}/timeline").status_code == 404
    assert api_client(charlie).get(f"/api/v1/parties/{jia.pk}/timeline").status_code == 404
    assert login(bob).get(reverse("sales:opportunity_new"), {"party": jia.pk}).status_code == 404


def test_the_list_filters_by_party(jia: Party, acme: Tenant, alice: User) -> None:
    with tenant_scope(acme.pk):
        other = parties.party_create(actor=alice, kind="organisation", name="丙公司")
        deals.opportunity_create(actor=alice, party=other, name="别家的")
    response = login(alice).get(reverse("sales:opportunity_list"), {"party": jia.pk})
    page = response.content.decode()
    assert "续签" in page and "别家的" not in page


def test_a_deal_won_without_products_points_to_a_new_order(
    jia: Party, acme: Tenant, alice: User, dora: User
) -> None:
    with tenant_scope(acme.pk):
        bare = deals.opportunity_create(
            actor=alice, party=jia, name="只有金额", amount=Decimal("50"), expected_close_date=CLOSE
        )
        deals.opportunity_win(actor=alice, opportunity=bare)
    page = reverse("sales:opportunity_detail", args=[bare.pk])
    new_order = f"{reverse('sales:order_new')}?party={jia.pk}"
    shown = login(alice).get(page).content.decode()
    assert "赢单时没有产品，未生成订单" in shown and new_order in shown
    assert new_order not in login(dora).get(page).content.decode()

"""The pipeline, opportunity and lead API: bodies, refusals with named fields, the
forecast figures, and pinned query counts on the lists.
(Who may call what is in kehu/core/tests/test_api_access.py.)"""

import datetime
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client

from kehu.core.context import tenant_scope
from kehu.core.tests.test_api_problems import api_client, assert_problem
from kehu.parties import services as parties
from kehu.sales import lead_services as leads
from kehu.sales.models import Lead, Opportunity, Order, StageMove
from kehu.sales.tests.helpers import party_in, product
from kehu.sales.tests.pipeline_helpers import deal, new_sales, stage
from kehu.tenancy.models import Tenant, User

CLOSE = "2030-06-15"


@pytest.fixture
def firm(acme: Tenant, alice: User) -> dict[str, Any]:
    with tenant_scope(acme.pk):
        pipeline = new_sales(alice)
        party = party_in(alice)
        chair = product(alice, "CH-1", "100.00", "60.00")
    return {"pipeline": pipeline, "party": party, "chair": chair}


def _warm(client: Client) -> Client:
    client.get("/api/v1/me")  # the token's first use is recorded once; not counted
    return client


def test_create_move_and_win_through_the_api(firm: dict[str, Any], alice: User) -> None:
    client = api_client(alice)
    body = {
        "party": firm["party"].pk,
        "name": "椅子 20 把",
        "lines": [{"product": firm["chair"].pk, "quantity": 20}],
    }
    created = client.post("/api/v1/opportunities", body, content_type="application/json")
    assert created.status_code == 201, created.content
    deal_id = created.json()["id"]
    assert created.json()["amount"] == "2000.00"
    assert created.json()["stage"]["name"] == "初步接洽"
    with tenant_scope(alice.tenant_id):  # type: ignore[arg-type]
        proposal = stage(firm["pipeline"], "提案").pk
    refused = client.post(
        f"/api/v1/opportunities/{deal_id}/move", {"stage": proposal}, "application/json"
    )
    problem = assert_problem(refused, 422)
    assert problem["errors"][0]["field"] == "stage"
    assert "预计成交日期" in problem["errors"][0]["message"]
    client.patch(
        f"/api/v1/opportunities/{deal_id}", {"expected_close_date": CLOSE}, "application/json"
    )
    moved = client.post(
        f"/api/v1/opportunities/{deal_id}/move", {"stage": proposal}, "application/json"
    )
    assert moved.json()["stage"]["name"] == "提案"
    won = client.post(f"/api/v1/opportunities/{deal_id}/win", {}, "application/json").json()
    assert won["stage"]["kind"] == "won" and won["order_id"] is not None
    with tenant_scope(alice.tenant_id):  # type: ignore[arg-type]
        order = Order.objects.get(pk=won["order_id"])
        assert (order.status, order.revenue) == ("confirmed", Decimal("2000.00"))
        assert StageMove.objects.filter(opportunity_id=deal_id).count() == 3


def test_a_stage_of_another_pipeline_is_refused(firm: dict[str, Any], alice: User) -> None:
    with tenant_scope(alice.tenant_id):  # type: ignore[arg-type]
        other = new_sales(alice, "续约")
        opportunity = deal(alice, firm["party"])
        elsewhere = stage(other, "需求确认").pk
    response = api_client(alice).post(
        f"/api/v1/opportunities/{opportunity.pk}/move", {"stage": elsewhere}, "application/json"
    )
    assert assert_problem(response, 422)["errors"][0]["field"] == "stage"


def test_lose_without_a_reason_names_the_field(firm: dict[str, Any], alice: User) -> None:
    with tenant_scope(alice.tenant_id):  # type: ignore[arg-type]
        opportunity = deal(alice, firm["party"])
    client = api_client(alice)
    response = client.post(f"/api/v1/opportunities/{opportunity.pk}/lose", {}, "application/json")
    assert assert_problem(response, 422)["errors"][0]["field"] == "lost_reason"


def test_a_competitor_the_caller_may_not_see_is_that_fields_error(
    firm: dict[str, Any], alice: User, bob: User
) -> None:
    with tenant_scope(alice.tenant_id):  # type: ignore[arg-type]
        rival = parties.party_create(
            actor=alice, kind="organisation", name="对手", roles=["competitor"]
        )
        own = parties.party_create(actor=bob, kind="organisation", name="鲍的客户")
    body = {"party": own.pk, "name": "x", "competitors": [rival.pk]}
    response = api_client(bob).post("/api/v1/opportunities", body, "application/json")
    assert assert_problem(response, 422)["errors"][0]["field"] == "competitors[0]"
    with tenant_scope(alice.tenant_id):  # type: ignore[arg-type]
        assert not Opportunity.objects.exists()


def test_opportunity_list_filters_and_query_count(
    firm: dict[str, Any], alice: User, django_assert_num_queries: Any
) -> None:
    with tenant_scope(alice.tenant_id):  # type: ignore[arg-type]
        for i in range(5):
            deal(alice, party_in(alice, f"客户{i}"))
    client = _warm(api_client(alice))
    # the token with its user, the count, the page with parties, owners and stages
    with django_assert_num_queries(3):
        assert len(client.get("/api/v1/opportunities").json()["items"]) == 5
    assert client.get("/api/v1/opportunities?q=客户3").json()["count"] == 1
    assert client.get("/api/v1/opportunities?status=won").json()["count"] == 0
    assert client.get("/api/v1/opportunities?stale=true").json()["count"] == 0


def test_lead_list_query_count(acme: Tenant, alice: User, django_assert_num_queries: Any) -> None:
    with tenant_scope(acme.pk):
        for i in range(5):
            leads.lead_create(actor=alice, name=f"线索{i}", mobile=f"1390000000{i}", owner=alice)
    client = _warm(api_client(alice))
    with django_assert_num_queries(3):
        assert len(client.get("/api/v1/leads").json()["items"]) == 5
    assert client.get("/api/v1/leads?q=线索2").json()["count"] == 1


def test_lead_created_through_the_api_is_marked_so(acme: Tenant, alice: User) -> None:
    client = api_client(alice)
    response = client.post(
        "/api/v1/leads", {"name": "李雷", "email": "LI@example.cn"}, "application/json"
    )
    assert response.status_code == 201
    assert (response.json()["created_via"], response.json()["email"]) == ("api", "li@example.cn")
    bad = client.post("/api/v1/leads", {"name": "李雷", "mobile": "123"}, "application/json")
    assert assert_problem(bad, 422)["errors"][0]["field"] == "mobile"


def test_convert_shows_duplicates_then_links(firm: dict[str, Any], alice: User) -> None:
    with tenant_scope(alice.tenant_id):  # type: ignore[arg-type]
        lead = leads.lead_create(actor=alice, name="张三", company="甲公司", mobile="13900001111")
    client = api_client(alice)
    found = client.get(f"/api/v1/leads/{lead.pk}/duplicates").json()
    assert [p["name"] for p in found] == ["甲公司"]
    refused = client.post(f"/api/v1/leads/{lead.pk}/convert", {}, "application/json")
    assert assert_problem(refused, 422)["errors"][0]["field"] == "existing"
    converted = client.post(
        f"/api/v1/leads/{lead.pk}/convert",
        {"existing_party": firm["party"].pk},
        "application/json",
    )
    assert converted.status_code == 201
    assert converted.json()["party"]["id"] == firm["party"].pk
    with tenant_scope(alice.tenant_id):  # type: ignore[arg-type]
        assert Lead.objects.get().status == "converted"


def test_the_forecast_endpoint(firm: dict[str, Any], alice: User) -> None:
    with tenant_scope(alice.tenant_id):  # type: ignore[arg-type]
        deal(
            alice,
            firm["party"],
            stage=stage(firm["pipeline"], "提案"),
            amount=Decimal("1000"),
            expected_close_date=datetime.date(2030, 6, 3),
        )
    client = api_client(alice)
    rows = client.get("/api/v1/forecast?by=owner").json()
    assert rows == [
        {
            "month": "2030-06-01",
            "key": "Alice",
            "amount": "1000.00",
            "weighted": "600.00",
            "deals": 1,
        }
    ]

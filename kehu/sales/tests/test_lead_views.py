"""Lead pages: who may see and do what, capture by hand, status buttons, assignment,
conversion with the duplicate check's candidates, and the list's pinned queries."""

from typing import Any

import pytest
from django.urls import reverse

from conftest import login
from kehu.core.context import tenant_scope
from kehu.parties import services as parties
from kehu.parties.models import Party
from kehu.sales import lead_services as leads
from kehu.sales.models import Lead, LeadStatus, Opportunity
from kehu.sales.tests.pipeline_helpers import new_sales
from kehu.tenancy.models import Tenant, User

HTMX = {"HX-Request": "true"}


def url(name: str, *args: object) -> str:
    return reverse(f"sales:{name}", args=args)


def rows(tenant: Tenant) -> list[Any]:
    with tenant_scope(tenant.pk):
        return [
            list(Lead.objects.order_by("pk").values_list("pk", "status", "owner_id", "name")),
            Party.objects.count(),
            Opportunity.objects.count(),
        ]


@pytest.fixture
def lead(acme: Tenant, alice: User) -> Lead:
    with tenant_scope(acme.pk):
        new_sales(alice)
        return leads.lead_create(
            actor=alice, name="王小明", company="星河科技", mobile="13912345678", owner=alice
        )


PAGES = ["lead_detail", "lead_edit"]
POSTS = {
    "lead_status": {"status": "qualified"},
    "lead_assign": {},
    "lead_convert": {"opportunity_name": "x"},
}


@pytest.mark.parametrize("name", [*PAGES, *POSTS])
@pytest.mark.parametrize("persona", ["charlie", "bob"])
def test_outsiders_and_colleagues_who_may_not_see_get_404(
    name: str, persona: str, lead: Lead, acme: Tenant, request: pytest.FixtureRequest
) -> None:
    client = login(request.getfixturevalue(persona))
    before = rows(acme)
    target = url(name, lead.pk)
    response = client.post(target, POSTS[name]) if name in POSTS else client.get(target)
    assert response.status_code == 404
    assert rows(acme) == before


@pytest.mark.parametrize("name", ["lead_edit", *POSTS])
def test_a_read_only_colleague_may_look_but_not_change(
    name: str, lead: Lead, dora: User, acme: Tenant
) -> None:
    client = login(dora)
    assert client.get(url("lead_detail", lead.pk)).status_code == 200
    before = rows(acme)
    assert client.post(url(name, lead.pk), POSTS.get(name, {})).status_code == 403
    assert rows(acme) == before
    assert client.get(url("lead_new")).status_code == 403


def test_lists_show_only_what_the_user_may_see(lead: Lead, bob: User, charlie: User) -> None:
    for user in (bob, charlie):
        assert "王小明" not in login(user).get(url("lead_list")).content.decode()


def test_the_list_has_fixed_queries(
    lead: Lead, alice: User, acme: Tenant, django_assert_num_queries: Any
) -> None:
    with tenant_scope(acme.pk):
        for i in range(6):
            leads.lead_create(actor=alice, name=f"线索{i}", mobile=f"1380000000{i}", owner=alice)
    client = login(alice)
    client.get(url("lead_list"))
    # session, user, count, page (owners and teams joined)
    with django_assert_num_queries(4):
        response = client.get(url("lead_list"), headers=HTMX)
    assert "共 7 条线索" in response.content.decode()


def test_capture_by_hand_names_bad_fields(alice: User, acme: Tenant) -> None:
    client = login(alice)
    bad = client.post(url("lead_new"), {"name": "李雷", "mobile": "12", "source_channel": "phone"})
    assert bad.status_code == 422 and "不是有效的手机号码" in bad.content.decode()
    ok = client.post(
        url("lead_new"), {"name": "李雷", "email": "li@example.cn", "source_channel": "phone"}
    )
    assert ok.status_code == 302
    with tenant_scope(acme.pk):
        assert Lead.objects.get().source_channel == "phone"


def test_status_buttons_and_disqualify_needs_a_reason(lead: Lead, alice: User) -> None:
    client = login(alice)
    client.post(url("lead_status", lead.pk), {"status": "working"})
    refused = client.post(
        url("lead_status", lead.pk), {"status": "disqualified", "reason": ""}, follow=True
    )
    assert "请填写废弃原因" in refused.content.decode()
    client.post(url("lead_status", lead.pk), {"status": "disqualified", "reason": "空号"})
    lead.refresh_from_db()
    assert (lead.status, lead.disqualify_reason) == (LeadStatus.DISQUALIFIED, "空号")


def test_assign_to_a_colleague(lead: Lead, alice: User, bob: User) -> None:
    login(alice).post(url("lead_assign", lead.pk), {"owner": bob.pk})
    lead.refresh_from_db()
    assert lead.owner == bob


def test_convert_offers_candidates_and_links_to_one(lead: Lead, alice: User, acme: Tenant) -> None:
    with tenant_scope(acme.pk):
        known = parties.party_create(actor=alice, kind="organisation", name="星河科技")
    client = login(alice)
    page = client.get(url("lead_detail", lead.pk)).content.decode()
    assert "关联此客户并转化" in page and "星河科技" in page
    refused = client.post(url("lead_convert", lead.pk), {}, follow=True)
    assert "可能已有这个客户" in refused.content.decode()
    done = client.post(url("lead_convert", lead.pk), {"existing": known.pk})
    assert done.status_code == 302
    with tenant_scope(acme.pk):
        deal = Opportunity.objects.get()
    assert deal.party == known and done["Location"] == url("opportunity_detail", deal.pk)


def test_convert_to_a_party_the_user_may_not_see_is_404(
    acme: Tenant, alice: User, bob: User
) -> None:
    with tenant_scope(acme.pk):
        new_sales(alice)
        hidden = parties.party_create(actor=alice, kind="organisation", name="甲公司")
        own = leads.lead_create(actor=bob, name="鲍的线索", mobile="13700000000", owner=bob)
    before = rows(acme)
    assert login(bob).post(url("lead_convert", own.pk), {"existing": hidden.pk}).status_code == 404
    assert rows(acme) == before


def test_edit_a_lead(lead: Lead, alice: User) -> None:
    client = login(alice)
    form = client.get(url("lead_edit", lead.pk)).content.decode()
    assert 'value="星河科技"' in form
    data = {"name": "王小明", "company": "星河科技集团", "mobile": "13912345678"}
    saved = client.post(url("lead_edit", lead.pk), {**data, "source_channel": "exhibition"})
    assert saved.status_code == 302
    lead.refresh_from_db()
    assert (lead.company, lead.source_channel) == ("星河科技集团", "exhibition")
    bad = client.post(url("lead_edit", lead.pk), {**data, "email": "x@", "source_channel": "phone"})
    assert bad.status_code == 422
    lead.refresh_from_db()
    assert lead.source_channel == "exhibition"

"""The parts of a party through the API: contact points, addresses, tags, preferences,
important dates, links and the account team. Access per endpoint is pinned in
kehu/core/tests/test_api_access.py."""

import pytest
from django.test import Client

from kehu.core.audit import audit_for
from kehu.core.context import tenant_scope
from kehu.core.tests.test_api_problems import (
    api_client,
    assert_problem,
    field_errors,
)
from kehu.parties import services
from kehu.parties.models import (
    AccountTeamMember,
    Address,
    ContactPoint,
    ImportantDate,
    Party,
    PartyLink,
    PartyTag,
    Preference,
    Tag,
)
from kehu.tenancy.models import Tenant, User

JSON = "application/json"


@pytest.fixture
def party(acme: Tenant, alice: User) -> Party:
    with tenant_scope(acme.pk):
        return services.party_create(actor=alice, kind="person", name="张三")


@pytest.fixture
def client(alice: User) -> Client:
    return api_client(alice)


def test_contact_points_are_normalised_searchable_and_removable(
    client: Client, party: Party, acme: Tenant
) -> None:
    url = f"/api/v1/parties/{party.pk}/contact-points"
    response = client.post(url, {"kind": "email", "value": "Zhang@Example.CN"}, content_type=JSON)
    assert response.status_code == 201
    assert response.json()["value"] == "zhang@example.cn"
    assert [p["id"] for p in client.get("/api/v1/parties?q=zhang@ex").json()["items"]] == [party.pk]
    assert client.delete(f"{url}/{response.json()['id']}").status_code == 204
    with tenant_scope(acme.pk):
        assert not ContactPoint.objects.exists()
    assert client.get("/api/v1/parties?q=zhang@ex").json()["items"] == []


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"kind": "mobile", "value": "1234"}, "不是有效的手机号码：1234"),
        ({"kind": "qq", "value": "12"}, "QQ 号应为 5–11 位数字：12"),
        ({"kind": "email", "value": "not-an-email"}, None),
    ],
)
def test_a_bad_contact_value_is_a_422_on_value(
    client: Client, party: Party, acme: Tenant, body: dict[str, str], message: str | None
) -> None:
    url = f"/api/v1/parties/{party.pk}/contact-points"
    errors = field_errors(client.post(url, body, content_type=JSON))
    assert list(errors) == ["value"]
    if message:
        assert errors["value"] == message
    with tenant_scope(acme.pk):
        assert not ContactPoint.objects.exists()


def test_a_primary_address_sets_the_partys_region(
    client: Client, party: Party, acme: Tenant
) -> None:
    url = f"/api/v1/parties/{party.pk}/addresses"
    body = {
        "kind": "office",
        "province": "广东省",
        "city": "深圳市",
        "district": "南山区",
        "street": "科技园",
        "postcode": "518000",
        "is_primary": True,
    }
    response = client.post(url, body, content_type=JSON)
    assert response.status_code == 201
    assert response.json()["street"] == "科技园"
    detail = client.get(f"/api/v1/parties/{party.pk}").json()
    assert (detail["province"], detail["city"], detail["district"]) == (
        "广东省",
        "深圳市",
        "南山区",
    )
    assert client.delete(f"{url}/{response.json()['id']}").status_code == 204
    with tenant_scope(acme.pk):
        assert not Address.objects.exists()


def test_a_bad_postcode_is_refused(client: Client, party: Party) -> None:
    url = f"/api/v1/parties/{party.pk}/addresses"
    body = {"kind": "office", "province": "北京市", "postcode": "12ab"}
    assert "postcode" in field_errors(client.post(url, body, content_type=JSON))


def test_tags_are_shared_by_name_and_removed_by_tag_id(
    client: Client, party: Party, acme: Tenant, alice: User
) -> None:
    with tenant_scope(acme.pk):
        other = services.party_create(actor=alice, kind="person", name="李四")
    first = client.post(f"/api/v1/parties/{party.pk}/tags", {"name": "VIP"}, content_type=JSON)
    second = client.post(f"/api/v1/parties/{other.pk}/tags", {"name": " VIP "}, content_type=JSON)
    assert first.status_code == second.status_code == 201
    assert first.json() == second.json() == {"id": first.json()["id"], "name": "VIP"}
    tag_id = first.json()["id"]
    assert client.delete(f"/api/v1/parties/{party.pk}/tags/{tag_id}").status_code == 204
    with tenant_scope(acme.pk):
        assert list(PartyTag.objects.values_list("party_id", flat=True)) == [other.pk]
        assert Tag.objects.filter(pk=tag_id).exists()
    assert_problem(client.delete(f"/api/v1/parties/{party.pk}/tags/{tag_id}"), 404)


def test_the_same_tag_twice_is_a_conflict(client: Client, party: Party, acme: Tenant) -> None:
    url = f"/api/v1/parties/{party.pk}/tags"
    client.post(url, {"name": "VIP"}, content_type=JSON)
    assert_problem(client.post(url, {"name": "VIP"}, content_type=JSON), 409)
    with tenant_scope(acme.pk):
        assert PartyTag.objects.count() == 1


def test_preferences_and_important_dates(client: Client, party: Party, acme: Tenant) -> None:
    base = f"/api/v1/parties/{party.pk}"
    pref = client.post(
        f"{base}/preferences",
        {"category": "communication", "content": "微信联系"},
        content_type=JSON,
    )
    date = client.post(
        f"{base}/important-dates",
        {"kind": "birthday", "date": "1992-02-29", "remind_days_before": 7},
        content_type=JSON,
    )
    assert (pref.status_code, date.status_code) == (201, 201)
    assert date.json()["repeats_yearly"] is True
    detail = client.get(base).json()
    assert [p["content"] for p in detail["preferences"]] == ["微信联系"]
    assert [d["date"] for d in detail["important_dates"]] == ["1992-02-29"]
    assert client.delete(f"{base}/preferences/{pref.json()['id']}").status_code == 204
    assert client.delete(f"{base}/important-dates/{date.json()['id']}").status_code == 204
    with tenant_scope(acme.pk):
        assert not Preference.objects.exists()
        assert not ImportantDate.objects.exists()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"kind": "birthday", "date": "1990-13-01"}, "date"),
        ({"kind": "birthday", "date": "1991-02-29"}, "date"),
        (
            {"kind": "birthday", "date": "1990-01-01", "remind_days_before": -1},
            "remind_days_before",
        ),
        ({"kind": "wedding", "date": "1990-01-01"}, "kind"),
    ],
)
def test_a_bad_important_date_is_refused(
    client: Client, party: Party, body: dict[str, object], field: str
) -> None:
    url = f"/api/v1/parties/{party.pk}/important-dates"
    assert field in field_errors(client.post(url, body, content_type=JSON))


def test_links_go_both_ways_and_either_end_removes_them(
    client: Client, party: Party, acme: Tenant, alice: User
) -> None:
    with tenant_scope(acme.pk):
        org = services.party_create(actor=alice, kind="organisation", name="甲公司")
    response = client.post(
        f"/api/v1/parties/{org.pk}/links",
        {"to_party": party.pk, "kind": "employs", "title": "采购经理"},
        content_type=JSON,
    )
    assert response.status_code == 201
    link = response.json()
    assert (link["from_party"]["id"], link["to_party"]["id"]) == (org.pk, party.pk)
    assert [x["id"] for x in client.get(f"/api/v1/parties/{party.pk}").json()["links"]] == [
        link["id"]
    ]
    assert client.delete(f"/api/v1/parties/{party.pk}/links/{link['id']}").status_code == 204
    with tenant_scope(acme.pk):
        assert not PartyLink.objects.exists()
        assert audit_for(org).filter(action="delete").count() == 1


def test_an_employs_link_must_go_from_an_organisation_to_a_person(
    client: Client, party: Party, acme: Tenant, alice: User
) -> None:
    with tenant_scope(acme.pk):
        org = services.party_create(actor=alice, kind="organisation", name="甲公司")
    response = client.post(
        f"/api/v1/parties/{party.pk}/links",
        {"to_party": org.pk, "kind": "employs"},
        content_type=JSON,
    )
    assert "kind" in field_errors(response)


def test_a_link_to_oneself_is_refused(client: Client, party: Party) -> None:
    response = client.post(
        f"/api/v1/parties/{party.pk}/links",
        {"to_party": party.pk, "kind": "refers"},
        content_type=JSON,
    )
    assert "to_party" in field_errors(response)


def test_a_link_to_a_party_the_caller_cannot_see_is_404(
    party: Party, acme: Tenant, bob: User
) -> None:
    with tenant_scope(acme.pk):
        own = services.party_create(actor=bob, kind="person", name="鲍勃的客户")
    response = api_client(bob).post(
        f"/api/v1/parties/{own.pk}/links",
        {"to_party": party.pk, "kind": "refers"},
        content_type=JSON,
    )
    assert_problem(response, 404)
    with tenant_scope(acme.pk):
        assert not PartyLink.objects.exists()


def test_the_account_team_lets_a_colleague_see_the_party(
    client: Client, party: Party, acme: Tenant, bob: User
) -> None:
    bob_client = api_client(bob)
    assert_problem(bob_client.get(f"/api/v1/parties/{party.pk}"), 404)
    response = client.post(
        f"/api/v1/parties/{party.pk}/account-team",
        {"user": bob.pk, "role": "account_manager"},
        content_type=JSON,
    )
    assert response.status_code == 201
    assert response.json()["user"]["username"] == "bob"
    assert bob_client.get(f"/api/v1/parties/{party.pk}").status_code == 200
    member_id = response.json()["id"]
    assert client.delete(f"/api/v1/parties/{party.pk}/account-team/{member_id}").status_code == 204
    assert_problem(bob_client.get(f"/api/v1/parties/{party.pk}"), 404)
    with tenant_scope(acme.pk):
        assert not AccountTeamMember.objects.exists()


def test_the_account_team_takes_only_this_firms_staff(
    client: Client, party: Party, charlie: User
) -> None:
    response = client.post(
        f"/api/v1/parties/{party.pk}/account-team",
        {"user": charlie.pk, "role": "sales"},
        content_type=JSON,
    )
    assert "user" in field_errors(response)


def test_a_part_of_another_party_is_404(
    client: Client, party: Party, acme: Tenant, alice: User
) -> None:
    with tenant_scope(acme.pk):
        other = services.party_create(actor=alice, kind="person", name="李四")
        phone = services.contact_point_add(
            actor=alice, party=other, kind="mobile", value="13912345678"
        )
    assert_problem(client.delete(f"/api/v1/parties/{party.pk}/contact-points/{phone.pk}"), 404)
    with tenant_scope(acme.pk):
        assert ContactPoint.objects.filter(pk=phone.pk).exists()

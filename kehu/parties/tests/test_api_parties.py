"""The parties API: lists, search, filters, pagination, create, change, delete, state.

Who may call what (outsiders, colleagues, tokens) is pinned for every endpoint in
kehu/core/tests/test_api_access.py; this module checks what each endpoint does.
"""

from collections.abc import Callable
from typing import Any

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
from kehu.parties.models import ContactPoint, Party, PartyRole, StateChange
from kehu.tenancy import services as tenancy
from kehu.tenancy.models import Tenant, User

JSON = "application/json"


@pytest.fixture
def make(acme: Tenant, alice: User) -> Callable[..., Party]:
    """make(name, actor=alice, **fields): a party created through the service."""

    def _make(name: str = "张三", actor: User = alice, **fields: Any) -> Party:
        fields.setdefault("kind", "person")
        with tenant_scope(acme.pk):
            return services.party_create(actor=actor, name=name, **fields)

    return _make


def ids(response: Any) -> list[int]:
    assert response.status_code == 200, response.content.decode()
    return [item["id"] for item in response.json()["items"]]


def test_create_with_parts_saves_everything_and_answers_the_detail(
    alice: User, acme: Tenant
) -> None:
    response = api_client(alice).post(
        "/api/v1/parties",
        {
            "kind": "organisation",
            "name": "北京字节跳动科技有限公司",
            "uscc": "91350100M000100Y43",
            "roles": ["customer", "distributor"],
            "contacts": [{"kind": "mobile", "value": "138 1234 5678", "label": "前台"}],
            "addresses": [{"kind": "office", "province": "北京市", "city": "海淀区"}],
            "tags": ["VIP"],
        },
        content_type=JSON,
    )
    assert response.status_code == 201, response.content.decode()
    body = response.json()
    assert body["owner"]["username"] == "alice"
    assert body["relationship_state"] == "potential"
    assert body["roles"] == ["customer", "distributor"]
    assert body["contact_points"][0]["value"] == "+8613812345678"
    assert body["contact_points"][0]["display_value"] == "138 1234 5678"
    assert (body["province"], body["city"]) == ("北京市", "海淀区")
    assert [t["name"] for t in body["tags"]] == ["VIP"]
    with tenant_scope(acme.pk):
        party = Party.objects.get(pk=body["id"])
        types = {e.object_type for e in audit_for(party)}
    assert {"parties.party", "parties.contactpoint", "parties.address"} <= types


def test_a_bad_phone_in_a_part_names_its_path_and_saves_nothing(alice: User, acme: Tenant) -> None:
    response = api_client(alice).post(
        "/api/v1/parties",
        {
            "kind": "person",
            "name": "张三",
            "contacts": [
                {"kind": "mobile", "value": "13812345678"},
                {"kind": "mobile", "value": "1234"},
            ],
        },
        content_type=JSON,
    )
    assert field_errors(response) == {"contacts[1].value": "不是有效的手机号码：1234"}
    with tenant_scope(acme.pk):
        assert not Party.with_deleted.exists()
        assert not ContactPoint.objects.exists()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"kind": "person", "name": ""}, "name"),
        ({"kind": "person", "name": "长" * 101}, "name"),
        ({"kind": "robot", "name": "张三"}, "kind"),
        ({"name": "张三"}, "kind"),
        ({"kind": "person", "name": "张三", "gender": "x"}, "gender"),
        ({"kind": "person", "name": "张三", "owner": "alice"}, "owner"),
        ({"kind": "person", "name": "张三", "contacts": [{"kind": "fax", "value": "1"}]}, None),
        ({"kind": "person", "name": "张三", "addresses": [{"kind": "office"}]}, None),
        ({"kind": "person", "name": "张三", "tags": ["长" * 31]}, "tags[0]"),
        ({"kind": "person", "name": "张三", "description": "x" * 5001}, "description"),
        ({"kind": "person", "name": "张三", "roles": ["king"]}, "roles[0]"),
        ({"kind": "person", "name": "张三", "uscc": "91350100M000100Y43"}, "uscc"),
        ({"kind": "organisation", "name": "某公司", "uscc": "91350100M000100Y44"}, "uscc"),
        ({"kind": "organisation", "name": "某公司", "website": "not a url"}, "website"),
    ],
)
def test_invalid_input_is_a_422_naming_the_field(
    alice: User, acme: Tenant, body: dict[str, Any], field: str | None
) -> None:
    errors = field_errors(api_client(alice).post("/api/v1/parties", body, content_type=JSON))
    if field is None:  # a nested part: every error path starts with its list and index
        assert all(str(f).startswith(("contacts[0].", "addresses[0].")) for f in errors)
    else:
        assert field in errors
    with tenant_scope(acme.pk):
        assert not Party.with_deleted.exists()


def test_an_owner_from_another_firm_is_refused(alice: User, charlie: User, acme: Tenant) -> None:
    response = api_client(alice).post(
        "/api/v1/parties",
        {"kind": "person", "name": "张三", "owner": charlie.pk},
        content_type=JSON,
    )
    assert "owner" in field_errors(response)


def test_the_owner_may_be_a_colleague(alice: User, bob: User) -> None:
    response = api_client(alice).post(
        "/api/v1/parties", {"kind": "person", "name": "张三", "owner": bob.pk}, content_type=JSON
    )
    assert response.json()["owner"]["id"] == bob.pk
    assert ids(api_client(bob).get("/api/v1/parties")) == [response.json()["id"]]


def test_html_is_stored_as_text_and_returned_verbatim_as_json(alice: User) -> None:
    payload = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    client = api_client(alice)
    created = client.post(
        "/api/v1/parties",
        {"kind": "person", "name": payload, "description": payload},
        content_type=JSON,
    )
    response = client.get(f"/api/v1/parties/{created.json()['id']}")
    assert response["Content-Type"].startswith("application/json")
    assert response["X-Content-Type-Options"] == "nosniff"
    assert (response.json()["name"], response.json()["description"]) == (payload, payload)


def test_chinese_is_sent_as_utf8(make: Callable[..., Party], alice: User) -> None:
    make("张三")
    response = api_client(alice).get("/api/v1/parties")
    assert "张三".encode() in response.content
    assert response["Content-Type"] == "application/json; charset=utf-8"


def test_the_list_is_newest_first_and_paginated(make: Callable[..., Party], alice: User) -> None:
    made = [make(f"客户{i}").pk for i in range(5)]
    client = api_client(alice)
    page = client.get("/api/v1/parties?limit=2&offset=1").json()
    assert [p["id"] for p in page["items"]] == made[::-1][1:3]
    assert (page["count"], page["count_exact"], page["limit"], page["offset"]) == (5, True, 2, 1)
    assert client.get("/api/v1/parties").json()["limit"] == 50
    assert ids(client.get("/api/v1/parties?offset=10")) == []


@pytest.mark.parametrize(
    ("query", "field"),
    [("limit=201", "limit"), ("limit=0", "limit"), ("offset=-1", "offset"), ("limit=x", "limit")],
)
def test_page_bounds_are_enforced(alice: User, query: str, field: str) -> None:
    assert field in field_errors(api_client(alice).get(f"/api/v1/parties?{query}"))


def test_limit_200_is_allowed(alice: User) -> None:
    assert api_client(alice).get("/api/v1/parties?limit=200").json()["limit"] == 200


def test_bob_lists_only_his_own(make: Callable[..., Party], alice: User, bob: User) -> None:
    make("爱丽丝的")
    own = make("鲍勃的", actor=bob)
    assert ids(api_client(bob).get("/api/v1/parties")) == [own.pk]


@pytest.mark.parametrize("query", ["zs", "zhangsan", "张", "三", "13812345678", "138-1234-5678"])
def test_search_finds_by_pinyin_initials_name_part_and_phone(
    make: Callable[..., Party], alice: User, query: str
) -> None:
    zhang = make("张三", contacts=[("mobile", "13812345678")])
    make("李四")
    assert ids(api_client(alice).get("/api/v1/parties", {"q": query})) == [zhang.pk]


def test_each_filter_narrows_the_list(
    make: Callable[..., Party], alice: User, bob: User, acme: Tenant
) -> None:
    org = make("甲公司", kind="organisation", roles=["distributor"], is_direct=False)
    person = make("张三", actor=bob, province="广东省", city="深圳市")
    with tenant_scope(acme.pk):
        services.party_change_state(actor=alice, party=person, to_state="target", reason="重点")
        tag = services.tag_add(actor=alice, party=org, name="VIP")
        team = tenancy.team_create(actor=alice, name="华南")
        tenancy.team_member_add(actor=alice, team=team, user=bob)
    client = api_client(alice)
    expected = {
        "kind=organisation": [org.pk],
        "kind=person": [person.pk],
        "role=distributor": [org.pk],
        "state=target": [person.pk],
        "state=potential": [org.pk],
        f"owner={bob.pk}": [person.pk],
        f"team={team.pk}": [person.pk],
        f"tag={tag.tag_id}": [org.pk],
        "province=广东省": [person.pk],
        "city=深圳市": [person.pk],
        "is_direct=false": [org.pk],
        "is_direct=true": [person.pk],
    }
    for query, want in expected.items():
        assert ids(client.get(f"/api/v1/parties?{query}")) == want, query


@pytest.mark.parametrize("query", ["kind=robot", "state=happy", "role=king", "is_direct=maybe"])
def test_a_bad_filter_value_is_a_422(alice: User, query: str) -> None:
    assert query.split("=")[0] in field_errors(api_client(alice).get(f"/api/v1/parties?{query}"))


def test_the_list_costs_the_same_queries_for_3_or_30_parties(
    make: Callable[..., Party],
    alice: User,
    acme: Tenant,
    django_assert_num_queries: Any,
) -> None:
    client = api_client(alice)
    client.get("/api/v1/me")  # the token's last-used time is written on first use

    def tagged(n: int) -> None:
        for i in range(n):
            party = make(f"客户{i}", roles=["customer", "partner"])
            with tenant_scope(acme.pk):
                services.tag_add(actor=alice, party=party, name=f"标签{i % 3}")

    tagged(3)
    # token, count, page (with owner), roles, tags (with tag names)
    with django_assert_num_queries(5):
        assert len(ids(client.get("/api/v1/parties"))) == 3
    tagged(27)
    with django_assert_num_queries(5):
        assert len(ids(client.get("/api/v1/parties"))) == 30
    # A search costs one query more (its keys), never one per row: kehu is 客户 in pinyin.
    with django_assert_num_queries(6):
        assert len(ids(client.get("/api/v1/parties?q=kehu"))) == 30


def test_detail_shows_every_part(make: Callable[..., Party], alice: User, acme: Tenant) -> None:
    org = make("甲公司", kind="organisation")
    person = make("张三")
    with tenant_scope(acme.pk):
        services.party_link_add(actor=alice, from_party=org, to_party=person, kind="employs")
        services.preference_add(actor=alice, party=person, category="habit", content="喝茶")
    body = api_client(alice).get(f"/api/v1/parties/{person.pk}").json()
    assert body["links"][0]["from_party"] == {
        "id": org.pk,
        "kind": "organisation",
        "name": "甲公司",
    }
    assert body["links"][0]["kind"] == "employs"
    assert body["preferences"][0]["content"] == "喝茶"


def test_patch_changes_only_the_given_fields_and_audits(
    make: Callable[..., Party], alice: User, bob: User, acme: Tenant
) -> None:
    party = make("张三", industry="制造")
    response = api_client(alice).patch(
        f"/api/v1/parties/{party.pk}", {"name": "张三丰", "owner": bob.pk}, content_type=JSON
    )
    assert response.status_code == 200
    assert (response.json()["name"], response.json()["industry"]) == ("张三丰", "制造")
    with tenant_scope(acme.pk):
        entry = audit_for(party).filter(action="update").get()
    assert entry.changes == {"name": ["张三", "张三丰"], "owner": [alice.pk, bob.pk]}


@pytest.mark.parametrize(
    ("body", "field"),
    [({"name": None}, "name"), ({"kind": "organisation"}, "kind"), ({"owner": 999999}, "owner")],
)
def test_patch_refuses_nulls_unknown_and_unchangeable_fields(
    make: Callable[..., Party], alice: User, acme: Tenant, body: dict[str, Any], field: str
) -> None:
    party = make("张三")
    response = api_client(alice).patch(f"/api/v1/parties/{party.pk}", body, content_type=JSON)
    assert field in field_errors(response)
    with tenant_scope(acme.pk):
        assert Party.objects.get(pk=party.pk).name == "张三"


def test_delete_is_soft_and_restore_brings_it_back(
    make: Callable[..., Party], alice: User, acme: Tenant
) -> None:
    party = make("张三")
    client = api_client(alice)
    assert client.delete(f"/api/v1/parties/{party.pk}").status_code == 204
    assert ids(client.get("/api/v1/parties")) == []
    assert_problem(client.get(f"/api/v1/parties/{party.pk}"), 404)
    assert_problem(client.delete(f"/api/v1/parties/{party.pk}"), 404)
    with tenant_scope(acme.pk):
        assert Party.with_deleted.filter(pk=party.pk, deleted_at__isnull=False).exists()
    restored = client.post(f"/api/v1/parties/{party.pk}/restore")
    assert restored.status_code == 200
    assert restored.json()["deleted_at"] is None
    assert ids(client.get("/api/v1/parties")) == [party.pk]


def test_restoring_a_live_party_is_a_conflict(make: Callable[..., Party], alice: User) -> None:
    party = make("张三")
    body = assert_problem(api_client(alice).post(f"/api/v1/parties/{party.pk}/restore"), 409)
    assert body["detail"] == "这个客户没有被删除。"


def test_state_moves_are_recorded_and_listed(
    make: Callable[..., Party], alice: User, acme: Tenant
) -> None:
    party = make("张三")
    client = api_client(alice)
    for state in ("target", "current"):
        response = client.post(
            f"/api/v1/parties/{party.pk}/state",
            {"to_state": state, "reason": f"因为{state}"},
            content_type=JSON,
        )
        assert response.status_code == 201
        assert response.json()["changed_by"]["username"] == "alice"
    changes = client.get(f"/api/v1/parties/{party.pk}/state-changes").json()
    assert [(c["from_state"], c["to_state"]) for c in changes["items"]] == [
        ("target", "current"),
        ("potential", "target"),
    ]
    assert client.get(f"/api/v1/parties/{party.pk}").json()["relationship_state"] == "current"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"to_state": "lost", "reason": "跳级"}, "to_state"),
        ({"to_state": "target", "reason": ""}, "reason"),
        ({"to_state": "target", "reason": "   "}, "reason"),
        ({"to_state": "happy", "reason": "x"}, "to_state"),
    ],
)
def test_a_state_move_that_skips_or_has_no_reason_is_refused(
    make: Callable[..., Party], alice: User, acme: Tenant, body: dict[str, str], field: str
) -> None:
    party = make("张三")
    response = api_client(alice).post(f"/api/v1/parties/{party.pk}/state", body, content_type=JSON)
    assert field in field_errors(response)
    with tenant_scope(acme.pk):
        assert not StateChange.objects.exists()


def test_audit_lists_the_partys_history_newest_first(
    make: Callable[..., Party], alice: User, acme: Tenant
) -> None:
    party = make("张三", roles=["customer"])
    client = api_client(alice)
    client.patch(f"/api/v1/parties/{party.pk}", {"industry": "教育"}, content_type=JSON)
    page = client.get(f"/api/v1/parties/{party.pk}/audit").json()
    assert page["items"][0]["action"] == "update"
    assert page["items"][0]["changes"] == {"industry": ["", "教育"]}
    assert page["items"][0]["actor"]["username"] == "alice"
    assert {e["object_type"] for e in page["items"]} == {"parties.party", "parties.partyrole"}
    assert page["count"] == 3


def test_roles_are_replaced_as_a_set(make: Callable[..., Party], alice: User, acme: Tenant) -> None:
    party = make("张三", roles=["prospect"])
    response = api_client(alice).put(
        f"/api/v1/parties/{party.pk}/roles",
        {"roles": ["customer", "influencer", "customer"]},
        content_type=JSON,
    )
    assert response.json() == {"roles": ["customer", "influencer"]}
    with tenant_scope(acme.pk):
        assert set(PartyRole.objects.values_list("role", flat=True)) == {"customer", "influencer"}


def test_a_session_user_reads_the_same_list(make: Callable[..., Party], alice: User) -> None:
    party = make("张三")
    client = Client()
    client.force_login(alice)
    assert ids(client.get("/api/v1/parties")) == [party.pk]

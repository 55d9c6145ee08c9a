"""The customer archive's pages: list, create, detail, edit, delete/restore, state, history.

Personas (conftest.py): Alice is acme's admin and sees all; Bob is a salesman who sees
his own parties; Dora is read-only and sees all; Charlie is the outsider (another firm).
State is built through the services; the requests run outside any tenant scope, as the
middleware sets it. The section endpoints (phones, addresses, links …) are tested in
test_views_parts.py.
"""

import datetime
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from conftest import _user, login
from kehu.activities import services as activities
from kehu.activities.models import Task
from kehu.core.context import tenant_scope
from kehu.core.models import AuditEntry
from kehu.parties import services, views
from kehu.parties.models import (
    AccountTeamMember,
    Address,
    ContactPoint,
    ImportantDate,
    Party,
    PartyLink,
    PartyRole,
    PartyTag,
    Preference,
    StateChange,
)
from kehu.tenancy import services as tenancy
from kehu.tenancy.models import Role, Tenant, User, Visibility

HTMX = {"HX-Request": "true"}


def make(actor: User, name: str = "某公司", kind: str = "organisation", **fields: Any) -> Party:
    with tenant_scope(actor.tenant_id):  # type: ignore[arg-type]
        return services.party_create(actor=actor, kind=kind, name=name, **fields)


def person(actor: User, name: str = "张三", **fields: Any) -> Party:
    return make(actor, name, "person", **fields)


def rows(tenant: Tenant) -> dict[str, int]:
    """How many rows of each kind the tenant has: 'zero rows changed' compares two of these."""
    with tenant_scope(tenant.pk):
        models: list[Any] = [
            ContactPoint,
            Address,
            PartyRole,
            PartyTag,
            PartyLink,
            AccountTeamMember,
            Preference,
            ImportantDate,
            StateChange,
            AuditEntry,
        ]
        counts = {model.__name__: model.objects.count() for model in models}
        counts["Party"] = Party.with_deleted.count()
        counts["live"] = Party.objects.count()
        return counts


def party_state(party: Party) -> tuple[Any, ...]:
    with tenant_scope(party.tenant_id):
        fresh = Party.with_deleted.get(pk=party.pk)
    return (fresh.name, fresh.owner_id, fresh.relationship_state, fresh.industry, fresh.deleted_at)


def url(name: str, *args: object) -> str:
    return reverse(f"parties:{name}", args=args)


def text(response: Any) -> str:
    return str(response.content.decode())


# The list.


def test_list_shows_what_each_persona_may_see(acme: Tenant, alice: User, bob: User) -> None:
    mine, bobs = make(alice, "甲公司"), make(bob, "乙公司")
    alice_page, bob_page = text(login(alice).get(url("list"))), text(login(bob).get(url("list")))
    assert "甲公司" in alice_page and "乙公司" in alice_page
    assert "乙公司" in bob_page and "甲公司" not in bob_page
    assert url("detail", bobs.pk) in bob_page and url("detail", mine.pk) not in bob_page


def test_list_shows_parties_bob_serves_on_the_account_team(alice: User, bob: User) -> None:
    served = make(alice, "丙公司")
    with tenant_scope(alice.tenant_id):  # type: ignore[arg-type]
        services.account_team_add(actor=alice, party=served, user=bob, role="sales")
    assert "丙公司" in text(login(bob).get(url("list")))


def test_outsider_sees_none_of_acme(alice: User, charlie: User) -> None:
    make(alice, "甲公司")
    response = login(charlie).get(url("list"))
    assert response.status_code == 200
    assert "甲公司" not in text(response)
    assert "共 0 个客户" in text(response)


def test_list_needs_sign_in_and_a_tenant(acme: Tenant, alice: User) -> None:
    make(alice)
    response = Client().get(url("list"))
    assert response.status_code == 302 and "/login/" in response["Location"]
    operator = User.all_tenants.create(username="root", is_superuser=True, is_staff=True)
    response = login(operator).get(url("list"))
    assert response.status_code == 403
    assert "某公司" not in text(response)


@pytest.mark.parametrize(
    "query", ["zs", "zhangsan", "ZhangSan", "张", "三", "138 1234", "13812345678", "+86 138"]
)
def test_search_by_name_pinyin_initials_and_phone(alice: User, query: str) -> None:
    person(alice, "张三", contacts=[("mobile", "13812345678")])
    person(alice, "李四", contacts=[("mobile", "13900000000")])
    page = text(login(alice).get(url("list"), {"q": query}))
    assert "张三" in page and "李四" not in page


def test_search_by_email(alice: User) -> None:
    person(alice, "张三", contacts=[("email", "zhang@example.com")])
    person(alice, "李四")
    page = text(login(alice).get(url("list"), {"q": "zhang@ex"}))
    assert "张三" in page and "李四" not in page


@pytest.fixture
def two_of_everything(acme: Tenant, alice: User, bob: User) -> dict[str, Party]:
    """甲 is an organisation owned by Alice; 乙 a person owned by Bob; they differ in every
    filter, so each filter keeps one and drops the other."""
    with tenant_scope(acme.pk):
        team = tenancy.team_create(actor=alice, name="华南组")
        tenancy.team_member_add(actor=alice, team=team, user=bob)
    a = make(alice, "甲公司", roles=["customer"])
    b = person(bob, "乙先生", roles=["media"], is_direct=False)
    with tenant_scope(acme.pk):
        services.tag_add(actor=alice, party=a, name="VIP")
        services.tag_add(actor=alice, party=b, name="普通")
        services.address_add(
            actor=alice, party=a, kind="office", province="广东省", city="深圳市", is_primary=True
        )
        services.address_add(
            actor=alice, party=b, kind="home", province="浙江省", city="杭州市", is_primary=True
        )
        services.party_change_state(actor=alice, party=a, to_state="target", reason="重点")
    return {"a": a, "b": b, "team": team}  # type: ignore[dict-item]


@pytest.mark.parametrize(
    ("params", "kept"),
    [
        ({"kind": "organisation"}, "甲公司"),
        ({"kind": "person"}, "乙先生"),
        ({"role": "customer"}, "甲公司"),
        ({"role": "media"}, "乙先生"),
        ({"state": "target"}, "甲公司"),
        ({"state": "potential"}, "乙先生"),
        ({"province": "广东省"}, "甲公司"),
        ({"city": "杭州市"}, "乙先生"),
        ({"direct": "1"}, "甲公司"),
        ({"direct": "0"}, "乙先生"),
    ],
)
def test_each_filter_keeps_one_and_drops_the_other(
    alice: User, two_of_everything: dict[str, Any], params: dict[str, str], kept: str
) -> None:
    page = text(login(alice).get(url("list"), params))
    dropped = ({"甲公司", "乙先生"} - {kept}).pop()
    assert kept in page and dropped not in page


def test_filter_by_owner_team_and_tag(
    alice: User, bob: User, two_of_everything: dict[str, Any]
) -> None:
    client = login(alice)
    with tenant_scope(alice.tenant_id):  # type: ignore[arg-type]
        vip = PartyTag.objects.get(party=two_of_everything["a"]).tag_id
    cases = [
        ({"owner": alice.pk}, "甲公司", "乙先生"),
        ({"owner": bob.pk}, "乙先生", "甲公司"),
        ({"team": two_of_everything["team"].pk}, "乙先生", "甲公司"),
        ({"tag": vip}, "甲公司", "乙先生"),
    ]
    for params, kept, dropped in cases:
        page = text(client.get(url("list"), params))
        assert kept in page and dropped not in page, params


def test_a_stale_filter_value_is_ignored_not_an_error(alice: User, charlie: User) -> None:
    make(alice, "甲公司")
    response = login(alice).get(url("list"), {"owner": str(charlie.pk), "kind": "nonsense"})
    assert response.status_code == 200
    assert "甲公司" in text(response)


def test_htmx_gets_only_the_results_fragment(alice: User) -> None:
    person(alice, "张三")
    full = login(alice).get(url("list"), {"q": "zs"})
    fragment = login(alice).get(url("list"), {"q": "zs"}, headers=HTMX)
    assert "<html" in text(full) and 'method="get"' in text(full)
    assert "<html" not in text(fragment) and "<form" not in text(fragment)
    assert "张三" in text(fragment) and "共 1 个客户" in text(fragment)
    assert "HX-Request" in fragment["Vary"]


def test_htmx_history_restore_gets_the_whole_page(alice: User) -> None:
    headers = {**HTMX, "HX-History-Restore-Request": "true"}
    assert "<html" in text(login(alice).get(url("list"), headers=headers))


def test_search_box_and_filters_drive_htmx(alice: User) -> None:
    page = text(login(alice).get(url("list")))
    assert 'hx-trigger="input changed delay:300ms, search"' in page
    assert 'hx-push-url="true"' in page and 'hx-target="#results"' in page


def test_fifty_a_page_with_page_links(alice: User) -> None:
    with tenant_scope(alice.tenant_id):  # type: ignore[arg-type]
        for i in range(51):
            services.party_create(actor=alice, kind="person", name=f"客户{i:02d}")
    client = login(alice)
    first, second = client.get(url("list")), client.get(url("list"), {"page": 2})
    assert text(first).count('<td class="name">') == 50
    assert "共 51 个客户" in text(first) and "?page=2" in text(first)
    assert "客户50" in text(first) and "客户00" not in text(first)
    assert "客户00" in text(second) and "客户01" not in text(second)


def test_count_past_the_cap_says_so(alice: User, monkeypatch: pytest.MonkeyPatch) -> None:
    for i in range(4):
        person(alice, f"客户{i}")
    monkeypatch.setattr(views, "COUNT_CAP", 3)
    assert "超过 3+ 个客户" in text(login(alice).get(url("list")))


def test_capped_count_is_written_10_000_plus(alice: User, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(views, "capped_count", lambda queryset, cap: (10_000, False))
    assert "10,000+" in text(login(alice).get(url("list")))


def test_names_are_escaped(alice: User) -> None:
    party = person(alice, "<script>alert(1)</script>")
    for page in (url("list"), url("detail", party.pk), url("history", party.pk)):
        body = text(login(alice).get(page))
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body
        assert "<script>alert(1)" not in body


def _list_queries(client: Client) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url("list")).status_code == 200
    return len(queries)


@pytest.mark.parametrize("persona", ["alice", "bob"])
def test_list_query_count_does_not_grow_with_rows(
    request: pytest.FixtureRequest, alice: User, bob: User, persona: str
) -> None:
    user: User = request.getfixturevalue(persona)

    def add(n: int) -> None:
        with tenant_scope(alice.tenant_id):  # type: ignore[arg-type]
            for i in range(n):
                party = services.party_create(
                    actor=user, kind="person", name=f"张{i}", roles=["customer", "media"]
                )
                services.tag_add(actor=user, party=party, name=f"标签{i % 3}")

    client = login(user)
    add(2)
    few = _list_queries(client)
    add(30)
    assert _list_queries(client) == few


def test_list_query_count_is_pinned(alice: User, django_assert_num_queries: Any) -> None:
    with tenant_scope(alice.tenant_id):  # type: ignore[arg-type]
        for i in range(30):
            party = services.party_create(
                actor=alice, kind="person", name=f"张{i}", roles=["customer", "media"]
            )
            services.tag_add(actor=alice, party=party, name=f"标签{i % 3}")
    client = login(alice)
    # session, user, tenant (top bar), count, page, roles, tags, and the filters' choices:
    # staff, teams, tags.
    with django_assert_num_queries(10):
        response = client.get(url("list"))
    assert text(response).count("标签1") >= 10


# Create.


def test_create_an_organisation_with_roles_and_first_contacts(alice: User, bob: User) -> None:
    data = {
        "name": " 北京字节跳动科技有限公司 ",
        "owner": bob.pk,
        "is_direct": "1",
        "roles": ["customer", "distributor"],
        "uscc": "91350100M000100Y43",
        "industry": "互联网",
        "website": "example.com",
        "mobile": "138 1234 5678",
        "email": "Buyer@Example.com",
    }
    response = login(alice).post(url("new") + "?kind=organisation", data)
    with tenant_scope(alice.tenant_id):  # type: ignore[arg-type]
        party = Party.objects.get()
        assert response.status_code == 302 and response["Location"] == url("detail", party.pk)
        assert (party.kind, party.name, party.owner, party.created_by) == (
            "organisation",
            "北京字节跳动科技有限公司",
            bob,
            alice,
        )
        assert party.website == "https://example.com"
        assert set(party.roles.values_list("role", flat=True)) == {"customer", "distributor"}
        assert set(party.contact_points.values_list("kind", "value")) == {
            ("mobile", "+8613812345678"),
            ("email", "buyer@example.com"),
        }


def test_create_a_person_defaults_owner_to_me(alice: User) -> None:
    client = login(alice)
    form = text(client.get(url("new") + "?kind=person"))
    assert "性别" in form and "统一社会信用代码" not in form
    assert f'<option value="{alice.pk}" selected>' in form
    response = client.post(
        url("new") + "?kind=person",
        {"name": "张三", "owner": alice.pk, "is_direct": "0", "gender": "female"},
    )
    assert response.status_code == 302
    with tenant_scope(alice.tenant_id):  # type: ignore[arg-type]
        party = Party.objects.get()
    assert (party.kind, party.gender, party.is_direct) == ("person", "female", False)


@pytest.mark.parametrize(
    ("data", "label", "message"),
    [
        ({"mobile": "1234"}, "手机", "不是有效的手机号码"),
        ({"uscc": "91350100M000100Y44"}, "统一社会信用代码", "校验位错误"),
        ({"name": "长" * 101}, "名称", "100"),
        ({"name": "  "}, "名称", ""),
        ({"email": "not-an-email"}, "邮箱", ""),
        ({"website": "not a url"}, "网站", ""),
    ],
)
def test_bad_input_names_the_field_and_saves_nothing(
    acme: Tenant, alice: User, data: dict[str, str], label: str, message: str
) -> None:
    before = rows(acme)
    post = {"name": "某公司", "owner": alice.pk, "is_direct": "1", **data}
    response = login(alice).post(url("new") + "?kind=organisation", post)
    assert response.status_code == 422
    assert f"<li>{label}：" in text(response) and message in text(response)
    assert rows(acme) == before


def test_service_errors_land_on_the_form(acme: Tenant, alice: User) -> None:
    make(alice, "甲公司", uscc="91350100M000100Y43")
    before = rows(acme)
    response = login(alice).post(
        url("new") + "?kind=organisation",
        {"name": "乙公司", "owner": alice.pk, "is_direct": "1", "uscc": "91350100M000100Y43"},
    )
    assert response.status_code == 422
    assert "统一社会信用代码：已有客户使用这个统一社会信用代码。" in text(response)
    assert rows(acme) == before


def test_read_only_colleague_cannot_create(acme: Tenant, dora: User) -> None:
    client = login(dora)
    assert client.get(url("new")).status_code == 403
    response = client.post(url("new"), {"name": "某公司", "owner": dora.pk, "is_direct": "1"})
    assert response.status_code == 403
    assert rows(acme)["Party"] == 0


def test_outsider_cannot_give_acme_staff_a_party(
    acme: Tenant, other: Tenant, alice: User, charlie: User
) -> None:
    response = login(charlie).post(
        url("new"), {"name": "某公司", "owner": alice.pk, "is_direct": "1"}
    )
    assert response.status_code == 422
    assert rows(acme)["Party"] == 0 and rows(other)["Party"] == 0


# Detail.


@pytest.fixture
def archive(acme: Tenant, alice: User, bob: User) -> dict[str, Party]:
    """某公司 employs 张三 (采购经理), with every part of an archive and a timeline."""
    org = make(alice, "某公司", roles=["customer"], contacts=[("phone", "010-88880000")])
    zhang = person(alice, "张三")
    with tenant_scope(acme.pk):
        services.party_link_add(
            actor=alice, from_party=org, to_party=zhang, kind="employs", title="采购经理"
        )
        services.tag_add(actor=alice, party=org, name="VIP")
        services.address_add(
            actor=alice, party=org, kind="office", province="广东省", city="深圳市", street="科技园"
        )
        services.account_team_add(actor=alice, party=org, user=bob, role="service")
        services.preference_add(actor=alice, party=org, category="habit", content="上午联系")
        services.important_date_add(
            actor=alice, party=org, kind="founding", date=datetime.date(2012, 3, 9)
        )
        services.party_change_state(actor=alice, party=org, to_state="target", reason="行业标杆")
        activities.interaction_log(
            actor=alice, parties=[org], kind="visit", subject="拜访采购部", body="<b>报价</b>"
        )
        activities.task_create(
            actor=alice, title="发送报价单", due_date=datetime.date(2030, 1, 1), party=org
        )
    return {"org": org, "zhang": zhang}


def test_detail_shows_the_whole_archive(alice: User, archive: dict[str, Party]) -> None:
    org, zhang = archive["org"], archive["zhang"]
    with tenant_scope(alice.tenant_id):  # type: ignore[arg-type]
        task = Task.objects.get()
    page = text(login(alice).get(url("detail", org.pk)))
    for expected in [
        "某公司",
        "目标",  # the state badge
        "客户",  # a role
        "VIP",
        "010 8888 0000",
        "广东省深圳市科技园",
        f'<strong>某公司</strong> 雇用 <a href="{url("detail", zhang.pk)}">张三</a>',
        "采购经理",
        "Bob",
        "服务",
        "上午联系",
        "2012-03-09",
        "拜访采购部",
        "&lt;b&gt;报价&lt;/b&gt;",
        "行业标杆",
        "发送报价单",
        "创建了客户档案",
        reverse("activities:interaction_new") + f"?party={org.pk}",
        reverse("activities:task_new") + f"?party={org.pk}",
        reverse("activities:task_status", args=[task.pk]),
    ]:
        assert expected in page, expected


def test_a_person_shows_who_employs_them(alice: User, archive: dict[str, Party]) -> None:
    zhang, org = archive["zhang"], archive["org"]
    page = text(login(alice).get(url("detail", zhang.pk)))
    assert f'<a href="{url("detail", org.pk)}">某公司</a> 雇用 <strong>张三</strong>' in page
    assert "采购经理" in page


def test_detail_access(
    alice: User, bob: User, dora: User, charlie: User, archive: dict[str, Party]
) -> None:
    org, zhang = archive["org"], archive["zhang"]
    assert login(charlie).get(url("detail", org.pk)).status_code == 404
    assert login(bob).get(url("detail", zhang.pk)).status_code == 404
    # Bob serves 某公司 on its account team, so he sees it.
    assert login(bob).get(url("detail", org.pk)).status_code == 200
    assert login(dora).get(url("detail", org.pk)).status_code == 200


def test_read_only_colleague_sees_no_write_controls(dora: User, archive: dict[str, Party]) -> None:
    page = text(login(dora).get(url("detail", archive["org"].pk)))
    assert "拜访采购部" in page
    for control in ["记录互动", url("edit", archive["org"].pk), "/add/", "/remove/", "变更状态"]:
        assert control not in page, control


def test_only_managers_see_delete(alice: User, bob: User, archive: dict[str, Party]) -> None:
    delete = url("delete", archive["org"].pk)
    assert delete in text(login(alice).get(url("detail", archive["org"].pk)))
    assert delete not in text(login(bob).get(url("detail", archive["org"].pk)))


def test_detail_query_count_is_pinned(
    alice: User, archive: dict[str, Party], django_assert_num_queries: Any
) -> None:
    org = archive["org"]
    with tenant_scope(alice.tenant_id):  # type: ignore[arg-type]
        for i in range(5):
            services.contact_point_add(actor=alice, party=org, kind="qq", value=f"1234567{i}")
            services.preference_add(actor=alice, party=org, category="other", content=f"偏好{i}")
            activities.interaction_log(actor=alice, parties=[org], kind="call", subject=f"电话{i}")
            services.party_link_add(
                actor=alice, from_party=org, to_party=person(alice, f"员工{i}"), kind="employs"
            )
    client = login(alice)
    # session, user, party, tenant; eight sections (roles, tags, contacts, addresses, links,
    # team, preferences, dates); the role form's free roles, tag suggestions, team staff;
    # the hours of the last year (interactions, tasks, service time: one GROUP BY each);
    # the timeline's interactions, state changes, tasks, orders, ownership changes,
    # won and lost deals, service time and creation; the orders section's totals and
    # latest orders; the opportunities section's deals (and, with open ones, the stale
    # period).
    with django_assert_num_queries(29):
        response = client.get(url("detail", org.pk))
    assert text(response).count("偏好") >= 5


# Edit.


def edit_data(party: Party, **changes: Any) -> dict[str, Any]:
    data = {
        "name": party.name,
        "owner": party.owner_id,
        "is_direct": "1" if party.is_direct else "0",
        "industry": party.industry,
        "uscc": party.uscc,
        "website": party.website,
        "source": party.source,
        "description": party.description,
    }
    return {**data, **changes}


def test_edit_saves_and_audits(alice: User, bob: User) -> None:
    party = make(alice, "某公司")
    client = login(alice)
    form = text(client.get(url("edit", party.pk)))
    assert 'value="某公司"' in form
    response = client.post(
        url("edit", party.pk), edit_data(party, name="某某公司", industry="制造", owner=bob.pk)
    )
    assert response.status_code == 302 and response["Location"] == url("detail", party.pk)
    assert party_state(party)[:2] == ("某某公司", bob.pk)
    with tenant_scope(alice.tenant_id):  # type: ignore[arg-type]
        entry = AuditEntry.objects.filter(action="update").get()
    assert entry.changes["name"] == ["某公司", "某某公司"]
    assert entry.changes["owner"] == [alice.pk, bob.pk]


def test_a_salesman_edits_his_party_but_cannot_hand_it_over(alice: User, bob: User) -> None:
    party = make(bob, "乙公司")
    client = login(bob)
    assert 'name="owner"' not in text(client.get(url("edit", party.pk)))
    response = client.post(url("edit", party.pk), edit_data(party, industry="零售", owner=alice.pk))
    assert response.status_code == 302
    fresh = party_state(party)
    assert (fresh[1], fresh[3]) == (bob.pk, "零售")


def test_edit_refuses_bad_input_and_saves_nothing(acme: Tenant, alice: User) -> None:
    party = make(alice, "某公司")
    before, state = rows(acme), party_state(party)
    response = login(alice).post(
        url("edit", party.pk), edit_data(party, name="新名字", uscc="91350100M000100Y44")
    )
    assert response.status_code == 422
    assert "<li>统一社会信用代码：" in text(response)
    assert rows(acme) == before and party_state(party) == state


def test_edit_access(acme: Tenant, alice: User, bob: User, dora: User, charlie: User) -> None:
    party = make(alice, "某公司")
    before, state = rows(acme), party_state(party)
    post = edit_data(party, name="被改了")
    for user, status in [(charlie, 404), (bob, 404), (dora, 403)]:
        client = login(user)
        assert client.get(url("edit", party.pk)).status_code == status
        assert client.post(url("edit", party.pk), post).status_code == status
    assert rows(acme) == before and party_state(party) == state


# Delete and restore.


def test_manager_deletes_and_restores(acme: Tenant, alice: User) -> None:
    party = make(alice, "某公司")
    client = login(alice)
    response = client.post(url("delete", party.pk))
    assert response.status_code == 302 and response["Location"] == url("list")
    assert rows(acme)["live"] == 0
    assert client.get(url("detail", party.pk)).status_code == 404
    assert "某公司" in text(client.get(url("deleted")))
    response = client.post(url("restore", party.pk))
    assert response.status_code == 302 and response["Location"] == url("detail", party.pk)
    assert rows(acme)["live"] == 1
    assert client.post(url("restore", party.pk)).status_code == 302  # a second click
    with tenant_scope(acme.pk):
        actions = list(AuditEntry.objects.values_list("action", flat=True))
    assert actions.count("delete") == 1 and actions.count("restore") == 1


def test_delete_from_htmx_redirects_the_page(acme: Tenant, alice: User) -> None:
    party = make(alice, "某公司")
    response = login(alice).post(url("delete", party.pk), headers=HTMX)
    assert response["HX-Redirect"] == url("list")
    assert rows(acme)["live"] == 0


def test_delete_and_restore_access(
    acme: Tenant, alice: User, bob: User, dora: User, charlie: User
) -> None:
    bobs, alices = make(bob, "乙公司"), make(alice, "甲公司")
    before = rows(acme)
    cases = [(charlie, alices, 404), (bob, alices, 404), (bob, bobs, 403), (dora, alices, 403)]
    for user, party, status in cases:
        assert login(user).post(url("delete", party.pk)).status_code == status
    assert rows(acme) == before
    with tenant_scope(acme.pk):
        services.party_delete(actor=alice, party=alices)
        services.party_delete(actor=alice, party=bobs)
    before = rows(acme)
    cases = [(charlie, alices, 404), (bob, alices, 404), (bob, bobs, 403), (dora, alices, 403)]
    for user, party, status in cases:
        assert login(user).post(url("restore", party.pk)).status_code == status
    assert rows(acme) == before and before["live"] == 0


def test_recycle_bin_is_for_managers_of_the_tenant(alice: User, bob: User, charlie: User) -> None:
    party = make(alice, "某公司")
    with tenant_scope(alice.tenant_id):  # type: ignore[arg-type]
        services.party_delete(actor=alice, party=party)
    assert login(bob).get(url("deleted")).status_code == 403
    response = login(charlie).get(url("deleted"))
    assert response.status_code == 200 and "某公司" not in text(response)


def test_deleted_parties_leave_the_list(alice: User) -> None:
    party = make(alice, "某公司")
    with tenant_scope(alice.tenant_id):  # type: ignore[arg-type]
        services.party_delete(actor=alice, party=party)
    assert "某公司" not in text(login(alice).get(url("list")))


# Relationship state.


def test_state_change_with_reason_lands_on_the_timeline(acme: Tenant, alice: User) -> None:
    party = make(alice, "某公司")
    client = login(alice)
    page = text(client.get(url("detail", party.pk)))
    assert '<option value="target">目标</option>' in page
    assert '<option value="lost">' not in page  # not an allowed move from potential
    response = client.post(url("state", party.pk), {"to_state": "target", "reason": "重点开发"})
    assert response.status_code == 302
    assert party_state(party)[2] == "target"
    with tenant_scope(acme.pk):
        change = StateChange.objects.get()
    assert (change.from_state, change.to_state, change.changed_by) == ("potential", "target", alice)
    page = text(client.get(url("detail", party.pk)))
    assert "重点开发" in page and "Alice" in page


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"to_state": "lost", "reason": "跳过"}, "新状态"),
        ({"to_state": "target", "reason": ""}, "原因"),
        ({"to_state": "target", "reason": "长" * 501}, "原因"),
    ],
)
def test_state_change_refuses_bad_moves(
    acme: Tenant, alice: User, data: dict[str, str], message: str
) -> None:
    party = make(alice, "某公司")
    before = rows(acme)
    response = login(alice).post(url("state", party.pk), data)
    assert response.status_code == 422
    assert f"<li>{message}：" in text(response)
    assert rows(acme) == before and party_state(party)[2] == "potential"


def test_state_change_access(
    acme: Tenant, alice: User, bob: User, dora: User, charlie: User
) -> None:
    party = make(alice, "某公司")
    before = rows(acme)
    for user, status in [(charlie, 404), (bob, 404), (dora, 403)]:
        response = login(user).post(url("state", party.pk), {"to_state": "target", "reason": "x"})
        assert response.status_code == status
    assert rows(acme) == before and party_state(party)[2] == "potential"


# History.


def test_history_says_who_when_what_before_and_after(alice: User, bob: User) -> None:
    party = person(alice, "张三")
    with tenant_scope(alice.tenant_id):  # type: ignore[arg-type]
        services.party_update(actor=alice, party=party, name="张三丰", owner=bob)
        services.party_change_state(actor=bob, party=party, to_state="target", reason="有预算")
        services.contact_point_add(actor=alice, party=party, kind="mobile", value="13812345678")
    page = text(login(alice).get(url("history", party.pk)))
    for expected in [
        "<dt>名称</dt><dd><del>张三</del> → <ins>张三丰</ins></dd>",
        "<dt>负责人</dt><dd><del>Alice</del> → <ins>Bob</ins></dd>",
        "<dt>关系状态</dt><dd><del>潜在</del> → <ins>目标</ins></dd>",
        "<dt>原因</dt><dd><del>—</del> → <ins>有预算</ins></dd>",
        "<dt>号码/地址</dt><dd><del>—</del> → <ins>+8613812345678</ins></dd>",
        "联系方式",
        "状态变更",
    ]:
        assert expected in page, expected


def test_history_is_visible_to_whoever_sees_the_party(
    alice: User, bob: User, dora: User, charlie: User
) -> None:
    party = make(alice, "某公司")
    assert login(dora).get(url("history", party.pk)).status_code == 200
    assert login(bob).get(url("history", party.pk)).status_code == 404
    assert login(charlie).get(url("history", party.pk)).status_code == 404


def test_team_visibility_sees_teammates_parties_only(acme: Tenant, alice: User) -> None:
    """A TEAM-visibility colleague sees his teammates' parties and no one else's."""
    tina = _user(acme, "tina", Role.SALES, Visibility.TEAM)
    bob2 = _user(acme, "bob2", Role.SALES, Visibility.OWN)
    with tenant_scope(acme.pk):
        team = tenancy.team_create(actor=alice, name="一组")
        tenancy.team_member_add(actor=alice, team=team, user=tina)
        tenancy.team_member_add(actor=alice, team=team, user=bob2)
    make(bob2, "队友的客户")
    make(alice, "别人的客户")
    page = text(login(tina).get(url("list")))
    assert "队友的客户" in page and "别人的客户" not in page

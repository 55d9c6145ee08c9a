"""Adding and removing the parts of a party's archive in place: roles, tags, contact
points, addresses, links, the account team, preferences and important dates; and the
picker that finds the other party of a link.

Every section posts to `parties:part_add` / `parties:part_remove`; htmx gets the section
back, a plain form post is redirected to the page (or shown it again with the errors).
"""

import datetime
from typing import Any

import pytest

from conftest import login
from kehu.core.context import tenant_scope
from kehu.parties import services
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
)
from kehu.parties.tests.test_views import HTMX, make, person, rows, text, url
from kehu.parties.views import SECTIONS
from kehu.tenancy.models import Tenant, User

MODELS: dict[str, Any] = {
    "roles": PartyRole,
    "tags": PartyTag,
    "contacts": ContactPoint,
    "addresses": Address,
    "links": PartyLink,
    "team": AccountTeamMember,
    "preferences": Preference,
    "dates": ImportantDate,
}


@pytest.fixture
def org(acme: Tenant, alice: User, bob: User) -> Party:
    """某公司, Alice's, with one part in every section (so each has one to remove)."""
    party = make(alice, "某公司", roles=["customer"], contacts=[("phone", "010-88880000")])
    zhang = person(alice, "张三")
    with tenant_scope(acme.pk):
        services.tag_add(actor=alice, party=party, name="老客户")
        services.address_add(actor=alice, party=party, kind="office", province="北京市")
        services.party_link_add(actor=alice, from_party=party, to_party=zhang, kind="employs")
        services.account_team_add(actor=alice, party=party, user=bob, role="service")
        services.preference_add(actor=alice, party=party, category="habit", content="喝茶")
        services.important_date_add(
            actor=alice, party=party, kind="founding", date=datetime.date(2012, 3, 9)
        )
    return party


def new_part(section: str, alice: User) -> tuple[dict[str, Any], str]:
    """What a user posts to add one more part to 某公司, and what the section then shows."""
    other = person(alice, "李四")
    cases: dict[str, tuple[dict[str, Any], str]] = {
        "roles": ({"role": "media"}, "媒体"),
        "tags": ({"name": "VIP"}, "VIP"),
        "contacts": (
            {"kind": "mobile", "value": "138 1234 5678", "label": "工作"},
            "138 1234 5678",
        ),
        "addresses": (
            {
                "kind": "shipping",
                "province": "广东省",
                "city": "深圳市",
                "street": "科技园",
                "postcode": "518000",
            },
            "广东省深圳市科技园",
        ),
        "links": ({"direction": "in", "kind": "influences", "other": other.pk}, "李四"),
        "team": ({"user": alice.pk, "role": "account_manager"}, "客户经理"),
        "preferences": ({"category": "product", "content": "喜欢国产设备"}, "喜欢国产设备"),
        "dates": (
            {"kind": "anniversary", "date": "2020-05-01", "remind_days_before": "7"},
            "2020-05-01",
        ),
    }
    return cases[section]


def count(tenant: Tenant, section: str) -> int:
    with tenant_scope(tenant.pk):
        return int(MODELS[section].objects.count())


def a_part(party: Party, section: str) -> Any:
    with tenant_scope(party.tenant_id):
        return SECTIONS[section].parts(party).first()


@pytest.mark.parametrize("section", list(SECTIONS))
def test_add_a_part_with_htmx_returns_the_section(
    acme: Tenant, alice: User, bob: User, org: Party, section: str
) -> None:
    data, shown = new_part(section, alice)
    before = count(acme, section)
    response = login(alice).post(url("part_add", org.pk, section), data, headers=HTMX)
    assert response.status_code == 200, text(response)
    assert f'id="section-{section}"' in text(response) and "<html" not in text(response)
    assert shown in text(response)
    assert count(acme, section) == before + 1


@pytest.mark.parametrize("section", list(SECTIONS))
def test_add_a_part_without_javascript_redirects_to_the_section(
    acme: Tenant, alice: User, bob: User, org: Party, section: str
) -> None:
    data, shown = new_part(section, alice)
    client = login(alice)
    response = client.post(url("part_add", org.pk, section), data)
    assert response.status_code == 302
    assert response["Location"] == url("detail", org.pk) + f"#section-{section}"
    assert shown in text(client.get(response["Location"]))


@pytest.mark.parametrize("section", list(SECTIONS))
def test_remove_a_part(acme: Tenant, alice: User, org: Party, section: str) -> None:
    part = a_part(org, section)
    before = count(acme, section)
    response = login(alice).post(url("part_remove", org.pk, section, part.pk), headers=HTMX)
    assert response.status_code == 200
    assert count(acme, section) == before - 1
    with tenant_scope(acme.pk):
        assert not MODELS[section].objects.filter(pk=part.pk).exists()


@pytest.mark.parametrize("section", list(SECTIONS))
def test_part_endpoints_refuse_outsider_and_colleagues_without_rights(
    acme: Tenant,
    alice: User,
    bob: User,
    dora: User,
    charlie: User,
    org: Party,
    section: str,
) -> None:
    hidden = make(alice, "隐藏公司")  # neither Bob's nor served by him
    data, _shown = new_part(section, alice)
    part = a_part(org, section)
    before = rows(acme)
    cases = [(charlie, org, 404), (bob, hidden, 404), (dora, org, 403)]
    for user, party, status in cases:
        client = login(user)
        assert client.post(url("part_add", party.pk, section), data).status_code == status
        remove = url("part_remove", party.pk, section, part.pk)
        assert client.post(remove, headers=HTMX).status_code == status
    assert rows(acme) == before


def test_bob_writes_parts_of_a_party_he_serves(acme: Tenant, bob: User, org: Party) -> None:
    response = login(bob).post(url("part_add", org.pk, "tags"), {"name": "跟进中"}, headers=HTMX)
    assert response.status_code == 200 and "跟进中" in text(response)


@pytest.mark.parametrize("section", list(SECTIONS))
def test_a_part_of_another_party_is_not_found(
    acme: Tenant, alice: User, org: Party, section: str
) -> None:
    elsewhere = make(alice, "别的公司", roles=["media"], contacts=[("qq", "12345")])
    part = a_part(org, section)
    before = rows(acme)
    response = login(alice).post(url("part_remove", elsewhere.pk, section, part.pk))
    assert response.status_code == 404
    assert rows(acme) == before


def test_another_tenants_part_is_not_found(
    acme: Tenant, other: Tenant, alice: User, charlie: User, org: Party
) -> None:
    theirs = make(charlie, "外公司", contacts=[("qq", "12345")])
    contact = a_part(theirs, "contacts")
    before = rows(other)
    response = login(alice).post(url("part_remove", org.pk, "contacts", contact.pk))
    assert response.status_code == 404
    assert rows(other) == before


def test_unknown_section_is_not_found(alice: User, org: Party) -> None:
    assert login(alice).post(url("part_add", org.pk, "secrets"), {}).status_code == 404
    assert login(alice).get(url("part_add", org.pk, "tags")).status_code == 405


@pytest.mark.parametrize(
    ("section", "data", "error"),
    [
        ("contacts", {"kind": "mobile", "value": "1234"}, "号码/地址：不是有效的手机号码：1234"),
        ("contacts", {"kind": "email", "value": "not-an-email"}, "号码/地址："),
        ("contacts", {"kind": "wechat", "value": "1abc"}, "号码/地址：微信号应为"),
        ("contacts", {"kind": "qq", "value": "12"}, "号码/地址：QQ 号应为"),
        ("contacts", {"kind": "fax", "value": "12345"}, "类型："),
        ("addresses", {"kind": "office", "province": "北京市", "postcode": "12"}, "邮编："),
        ("addresses", {"kind": "office", "province": ""}, "省："),
        ("tags", {"name": "长" * 31}, "标签："),
        ("tags", {"name": "老客户"}, "这条记录已经存在。"),
        ("roles", {"role": "customer"}, "角色："),
        ("preferences", {"category": "habit", "content": ""}, "内容："),
        ("dates", {"kind": "birthday", "date": "昨天", "remind_days_before": "3"}, "日期："),
        ("links", {"direction": "out", "kind": "employs"}, "对方：请先搜索并选择对方客户。"),
        ("links", {"direction": "sideways", "kind": "employs"}, "方向："),
    ],
)
def test_bad_part_input_names_the_field_and_saves_nothing(
    acme: Tenant, alice: User, org: Party, section: str, data: dict[str, str], error: str
) -> None:
    before = rows(acme)
    response = login(alice).post(url("part_add", org.pk, section), data, headers=HTMX)
    assert response.status_code == 422
    assert error in text(response)
    assert rows(acme) == before


def test_bad_input_without_javascript_shows_the_page_with_the_error(
    acme: Tenant, alice: User, org: Party
) -> None:
    before = rows(acme)
    data = {"kind": "mobile", "value": "1234"}
    response = login(alice).post(url("part_add", org.pk, "contacts"), data)
    assert response.status_code == 422
    page = text(response)
    assert "<html" in page and "不是有效的手机号码：1234" in page
    assert '<details class="add" open>' in page
    assert rows(acme) == before


def test_team_member_must_be_staff_of_this_firm(
    acme: Tenant, alice: User, charlie: User, org: Party
) -> None:
    before = rows(acme)
    data = {"user": charlie.pk, "role": "sales"}
    response = login(alice).post(url("part_add", org.pk, "team"), data, headers=HTMX)
    assert response.status_code == 422 and "员工：" in text(response)
    assert rows(acme) == before


def test_employs_goes_from_an_organisation_to_a_person(
    acme: Tenant, alice: User, org: Party
) -> None:
    other = make(alice, "另一公司")
    before = rows(acme)
    data = {"direction": "out", "kind": "employs", "other": other.pk}
    response = login(alice).post(url("part_add", org.pk, "links"), data, headers=HTMX)
    assert response.status_code == 422 and "「雇用」关系必须由组织指向个人。" in text(response)
    assert rows(acme) == before


def test_a_link_can_only_reach_a_party_the_user_may_see(
    acme: Tenant, alice: User, bob: User, charlie: User
) -> None:
    mine = make(bob, "乙公司")
    hidden = person(alice, "隐藏的人")
    foreign = person(charlie, "外人")
    before = rows(acme)
    for other in (hidden, foreign, mine):
        data = {"direction": "out", "kind": "refers", "other": other.pk}
        response = login(bob).post(url("part_add", mine.pk, "links"), data, headers=HTMX)
        assert response.status_code == 422 and "对方：找不到这个客户。" in text(response)
    assert rows(acme) == before


def test_a_primary_address_updates_the_region_in_the_header(
    acme: Tenant, alice: User, org: Party
) -> None:
    data = {"kind": "office", "province": "广东省", "city": "深圳市", "is_primary": "on"}
    response = login(alice).post(url("part_add", org.pk, "addresses"), data, headers=HTMX)
    assert '<span id="party-region" hx-swap-oob="true">广东省 深圳市' in text(response)
    with tenant_scope(acme.pk):
        assert Party.objects.get(pk=org.pk).province == "广东省"


def test_the_role_picker_offers_only_roles_not_yet_held(alice: User, org: Party) -> None:
    page = text(login(alice).get(url("detail", org.pk)))
    roles = page[page.index('id="section-roles"') : page.index('id="section-tags"')]
    assert '<option value="media">' in roles and '<option value="customer">' not in roles


def test_parts_are_escaped(acme: Tenant, alice: User, org: Party) -> None:
    client = login(alice)
    response = client.post(
        url("part_add", org.pk, "preferences"),
        {"category": "other", "content": "<img src=x onerror=alert(1)>"},
        headers=HTMX,
    )
    assert "&lt;img src=x onerror=alert(1)&gt;" in text(response)
    assert "<img src=x" not in text(response)


# The picker of a link's other party.


def test_picker_finds_visible_parties_by_pinyin_but_not_this_one(alice: User, org: Party) -> None:
    person(alice, "王五")
    response = login(alice).get(url("link_picker", org.pk), {"link_q": "ww"})
    assert response.status_code == 200
    assert "王五" in text(response) and 'name="other"' in text(response)
    itself = login(alice).get(url("link_picker", org.pk), {"link_q": "mgs"})
    assert "某公司" not in text(itself)


def test_picker_respects_visibility_and_tenants(
    alice: User, bob: User, charlie: User, org: Party
) -> None:
    mine = make(bob, "乙公司")
    person(alice, "王五")
    assert "王五" not in text(login(bob).get(url("link_picker", mine.pk), {"link_q": "ww"}))
    assert login(bob).get(url("link_picker", org.pk)).status_code == 200  # he serves it
    hidden = make(alice, "隐藏公司")
    assert login(bob).get(url("link_picker", hidden.pk)).status_code == 404
    assert login(charlie).get(url("link_picker", org.pk), {"link_q": "ww"}).status_code == 404


def test_picker_works_without_javascript(alice: User, org: Party) -> None:
    wang = person(alice, "王五")
    page = text(login(alice).get(url("detail", org.pk), {"link_q": "王"}))
    assert f'<input type="radio" name="other" value="{wang.pk}">' in page

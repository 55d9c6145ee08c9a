"""The main user journeys of the customer archive, clicked through in Chromium."""

import re
from typing import TYPE_CHECKING

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from conftest import sign_in
from kehu.activities.models import Interaction, InteractionKind
from kehu.core.context import tenant_scope
from kehu.parties import services
from kehu.parties.models import Party, PartyKind
from kehu.tenancy.models import User

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("transactional_db")]


def create_party(page: "Page", kind_button: str, name: str) -> int:
    page.goto(reverse("parties:list"))
    page.get_by_role("link", name=kind_button).click()
    page.fill("input[name=name]", name)
    page.get_by_role("button", name="创建").click()
    page.wait_for_url("**/customers/*/")
    page.get_by_role("heading", name=name).wait_for()
    return int(page.url.rstrip("/").rsplit("/", 1)[-1])


def test_create_organisation_and_person_log_a_visit_see_it_on_both_timelines(
    page: "Page", alice: User
) -> None:
    sign_in(page, "alice")
    org_id = create_party(page, "新建组织", "杭州云栖网络科技有限公司")
    person_id = create_party(page, "新建个人", "王小明")

    page.goto(reverse("parties:detail", args=[org_id]))
    page.get_by_role("link", name="记录互动").click()
    # htmx (a deferred script) binds the search box once the page has loaded; typing
    # before that sends no search.
    page.wait_for_url(f"**{reverse('activities:interaction_new')}*")
    page.wait_for_load_state()
    page.select_option("select[name=kind]", InteractionKind.VISIT.value)
    page.fill("#party-search", "wxm")
    page.locator(f"#party-choices input[value='{person_id}']").check()
    page.fill("input[name=subject]", "上门拜访：续约沟通")
    page.click("#interaction-form button[type=submit]")
    page.wait_for_url(f"**{reverse('parties:detail', args=[org_id])}")

    assert page.locator("#timeline").get_by_text("上门拜访：续约沟通").is_visible()
    page.goto(reverse("parties:detail", args=[person_id]))
    assert page.locator("#timeline").get_by_text("上门拜访：续约沟通").is_visible()

    with tenant_scope(alice.tenant_id):  # type: ignore[arg-type]
        visit = Interaction.objects.get()
        assert visit.kind == InteractionKind.VISIT
        assert set(visit.links.values_list("party_id", flat=True)) == {org_id, person_id}


def test_search_the_list_by_pinyin_and_initials(page: "Page", alice: User) -> None:
    with tenant_scope(alice.tenant_id):  # type: ignore[arg-type]
        for name in ("张三", "李四", "北京字节跳动科技有限公司"):
            kind = PartyKind.ORGANISATION if "公司" in name else PartyKind.PERSON
            services.party_create(actor=alice, kind=kind, name=name)
        assert Party.objects.count() == 3
    sign_in(page, "alice")
    results = page.locator("#results")
    for query, expected, absent in (
        ("zs", "张三", "李四"),
        ("zhangsan", "张三", "李四"),
        ("zjtd", "北京字节跳动科技有限公司", "张三"),
    ):
        page.fill("#id_q", query)
        # The results update as one types (htmx), with no submit.
        expect(results.get_by_role("link", name=absent)).to_have_count(0)
        expect(results.get_by_role("link", name=expected)).to_have_count(1)
        expect(page).to_have_url(re.compile(f"q={query}"))

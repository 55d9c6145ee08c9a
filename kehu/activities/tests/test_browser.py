"""The htmx parts of the activity pages in a real browser: adding parties, one-click done."""

from typing import TYPE_CHECKING

import pytest
from django.urls import reverse
from django.utils import timezone

from conftest import sign_in
from kehu.activities import services
from kehu.activities.models import Interaction, TaskStatus
from kehu.core.context import tenant_scope
from kehu.parties import services as party_services
from kehu.parties.models import Party, PartyKind
from kehu.tenancy.models import User

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("transactional_db")]


def make_party(owner: User, name: str) -> Party:
    with tenant_scope(owner.tenant_id):  # type: ignore[arg-type]
        return party_services.party_create(actor=owner, kind=PartyKind.ORGANISATION, name=name)


def test_log_an_interaction_adding_a_second_party_by_search(page: "Page", alice: User) -> None:
    first = make_party(alice, "北京字节跳动科技有限公司")
    second = make_party(alice, "杭州阿里巴巴网络技术有限公司")
    sign_in(page, "alice")
    page.goto(f"{reverse('activities:interaction_new')}?party={first.pk}")
    page.fill("#party-search", "阿里")
    extra = page.locator(f"#party-choices input[value='{second.pk}']")
    extra.check()
    # Searching again keeps what was ticked.
    page.fill("#party-search", "nosuchparty")
    page.wait_for_selector("#party-choices >> text=没有找到")
    assert extra.is_checked()
    page.fill("input[name=subject]", "年度框架协议")
    page.click("#interaction-form button[type=submit]")
    page.wait_for_url(f"**{reverse('parties:detail', args=[first.pk])}")
    with tenant_scope(alice.tenant_id):  # type: ignore[arg-type]
        interaction = Interaction.objects.get()
        linked = set(interaction.links.values_list("party_id", flat=True))
    assert linked == {first.pk, second.pk}


def test_one_click_done_swaps_the_row(page: "Page", bob: User) -> None:
    with tenant_scope(bob.tenant_id):  # type: ignore[arg-type]
        task = services.task_create(actor=bob, title="回电话", due_date=timezone.localdate())
    sign_in(page, "bob")
    page.goto(reverse("activities:my_tasks"))
    row = page.locator(f"#task-{task.pk}")
    row.locator("button[value=done]").click()
    row.locator(".badge.task-done").wait_for()
    assert page.url.endswith(reverse("activities:my_tasks"))  # no full-page navigation
    task.refresh_from_db()
    assert task.status == TaskStatus.DONE
    row.locator("button[value=open]").click()
    row.locator("button[value=done]").wait_for()
    task.refresh_from_db()
    assert task.status == TaskStatus.OPEN

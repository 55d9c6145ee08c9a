"""A salesperson claims a party from the pool and finds it in their customer list."""

from typing import TYPE_CHECKING

import pytest
from django.urls import reverse

from conftest import sign_in
from kehu.core.context import tenant_scope
from kehu.parties import services as parties
from kehu.pool import services
from kehu.tenancy.models import User

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("transactional_db")]


def test_a_salesperson_claims_from_the_pool(page: "Page", alice: User, bob: User) -> None:
    with tenant_scope(alice.tenant_id):  # type: ignore[arg-type]
        services.pool_settings_update(actor=alice, enabled=True)
        party = parties.party_create(actor=alice, kind="organisation", name="深圳公海科技有限公司")
        services.pool_release(actor=alice, party=party, reason="原负责人调岗")
    sign_in(page, "bob")
    assert "深圳公海科技" not in page.locator("#results").inner_text()
    page.click("nav >> text=公海")
    page.wait_for_url(f"**{reverse('pool:list')}")
    page.locator(f"#pool-party-{party.pk} button[type=submit]").click()
    page.wait_for_url(f"**{reverse('parties:detail', args=[party.pk])}")
    assert "现在由您负责" in page.locator(".messages").inner_text()
    page.click("nav >> text=客户")
    page.wait_for_url(f"**{reverse('parties:list')}")
    assert "深圳公海科技有限公司" in page.locator("#results").inner_text()
    party.refresh_from_db()
    assert party.owner == bob

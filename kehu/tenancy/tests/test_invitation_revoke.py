"""An admin withdraws a pending invitation: its link stops working, the history keeps it."""

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from conftest import login
from kehu.core.context import tenant_scope
from kehu.core.models import AuditEntry
from kehu.core.tests.test_api_problems import api_client, assert_problem
from kehu.tenancy import services
from kehu.tenancy.models import Invitation, Tenant, User
from kehu.tenancy.tests.test_views_staff import counts, mike  # noqa: F401 (a fixture)

Pending = tuple[Invitation, str]


@pytest.fixture
def pending(alice: User, acme: Tenant) -> Pending:
    """An open invitation and the raw token of its link."""
    with tenant_scope(acme.pk):
        invitation, link = services.invitation_create(actor=alice, email="new@example.cn")
    return invitation, link.rstrip("/").rsplit("/", 1)[-1]


def revoke_url(invitation: Invitation) -> str:
    return reverse("tenancy:invitation_revoke", args=[invitation.pk])


def test_revoking_kills_the_link_and_is_audited(
    alice: User, acme: Tenant, pending: Pending
) -> None:
    invitation, raw = pending
    assert services.invitation_for_token(raw) is not None
    with tenant_scope(acme.pk):
        services.invitation_revoke(actor=alice, invitation=invitation)
        entry = AuditEntry.objects.get(
            object_type="tenancy.invitation", action=AuditEntry.Action.DELETE
        )
        assert not Invitation.objects.filter(pk=invitation.pk).exists()
    assert entry.actor_id == alice.pk
    assert entry.changes["email"] == ["new@example.cn", None]
    assert services.invitation_for_token(raw) is None


def test_an_accepted_invitation_cannot_be_revoked(
    alice: User, acme: Tenant, pending: Pending
) -> None:
    invitation, _raw = pending
    with tenant_scope(acme.pk):
        services.invitation_accept(invitation=invitation, username="xin", password="s3cret-pass!")
        with pytest.raises(ValidationError):
            services.invitation_revoke(actor=alice, invitation=invitation)
        assert Invitation.objects.filter(pk=invitation.pk).exists()


def test_the_staff_page_offers_revoke_and_it_works(
    alice: User, acme: Tenant, pending: Pending
) -> None:
    invitation, raw = pending
    client = login(alice)
    assert revoke_url(invitation) in client.get(reverse("tenancy:staff")).content.decode()
    response = client.post(revoke_url(invitation))
    assert response.status_code == 302
    assert response["Location"] == reverse("tenancy:staff")
    assert services.invitation_for_token(raw) is None
    assert client.get(reverse("invitation_accept", args=[raw])).status_code == 404


def test_revoke_is_post_only(alice: User, pending: Pending) -> None:
    assert login(alice).get(revoke_url(pending[0])).status_code == 405


@pytest.mark.parametrize("persona", ["bob", "dora", "mike"])
def test_colleagues_who_are_not_admins_get_403(
    persona: str, request: pytest.FixtureRequest, acme: Tenant, pending: Pending
) -> None:
    user = request.getfixturevalue(persona)
    before = counts(acme)
    assert login(user).post(revoke_url(pending[0])).status_code == 403
    assert_problem(api_client(user).delete(f"/api/v1/invitations/{pending[0].pk}"), 403)
    assert services.invitation_for_token(pending[1]) is not None
    assert counts(acme)[:2] == before[:2]


def test_an_outsider_gets_404_and_the_link_still_works(
    charlie: User, acme: Tenant, pending: Pending
) -> None:
    before = counts(acme)
    assert login(charlie).post(revoke_url(pending[0])).status_code == 404
    assert_problem(api_client(charlie).delete(f"/api/v1/invitations/{pending[0].pk}"), 404)
    assert counts(acme) == before
    assert services.invitation_for_token(pending[1]) is not None


def test_api_revoke(alice: User, pending: Pending) -> None:
    client = api_client(alice)
    assert client.delete(f"/api/v1/invitations/{pending[0].pk}").status_code == 204
    assert services.invitation_for_token(pending[1]) is None
    assert_problem(client.delete(f"/api/v1/invitations/{pending[0].pk}"), 404)
